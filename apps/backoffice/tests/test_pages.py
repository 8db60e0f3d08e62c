"""The dashboard on the admin index, its JSON refresh, the analytics pages and the staff statistics API: staff see
them, every figure links to an admin list that opens, and nobody else gets in."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.backoffice.rollup import rollup_rebuild
from apps.delivery.models import FraudFlag
from apps.messaging.choices import MessageStatus
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.state import message_transition
from apps.providers.choices import Province
from apps.providers.tests.factories import SimFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(organization):
    """A delivered message, a queued one, a provider online in Siem Reap and a strike."""
    sim = SimFactory(provider__province=Province.SIEM_REAP)
    for to in ("+85512345678", "+85512345679"):
        message_submit(organization=organization, api_key=None, data=MessageInput(to=to, body="Hello"))
    first = organization.messages.order_by("pk").first()
    message_transition(message=first, to=MessageStatus.ASSIGNED)
    message_transition(message=first, to=MessageStatus.DELIVERED)
    FraudFlag.objects.create(provider=sim.provider, rule="canary_missed", strike=True)
    rollup_rebuild(since=timezone.now() - timedelta(days=1), until=timezone.now() + timedelta(hours=1))
    return sim


def _links(data: dict) -> list[str]:
    links = [figure["url"] for figure in data["figures"]] + [queue["url"] for queue in data["queues"]]
    links += [row["url"] for rows in data["providers_online"].values() for row in rows]
    return [*links, data["hours"][-1]["url"], data["days"][-1]["url"]]


def test_staff_see_the_dashboard_and_every_figure_opens_its_list(client, staff, scene, django_assert_max_num_queries):
    client.force_login(staff)
    page = client.get(reverse("admin:index"))
    assert page.status_code == 200
    assert b'id="operations-dashboard"' in page.content
    assert b"<svg" in page.content
    with django_assert_max_num_queries(20):
        data = client.get(reverse("backoffice:dashboard-json")).json()
    figures = {figure["key"]: figure["value"] for figure in data["figures"]}
    assert (figures["submitted"], figures["delivered"], figures["delivered_rate"]) == (2, 1, 100.0)
    assert figures["strikes"] == 1
    assert {row["key"]: row["providers"] for row in data["providers_online"]["provinces"]} == {"siem_reap": 1}
    assert [queue["messages"] for queue in data["queues"]] == [0, 1, 0]
    assert data["hours"][-1]["submitted"] == 2
    for url in _links(data):
        assert client.get(url).status_code == 200, url


def test_an_app_page_lists_its_models_without_the_dashboard(client, staff, scene):
    """Django's app page extends the index template; the network's figures belong to the index alone."""
    client.force_login(staff)
    page = client.get(reverse("admin:app_list", args=["messaging"])).content.decode()
    assert "messaging/message/" in page
    assert 'id="operations-dashboard"' not in page


def test_the_analytics_pages_show_their_figures(client, staff, scene, organization):
    client.force_login(staff)
    for name in ("clients", "carriers", "providers", "fraud"):
        response = client.get(reverse(f"backoffice:{name}"), {"by": "month"})
        assert response.status_code == 200, name
    assert "Acme Bank" in client.get(reverse("backoffice:clients")).content.decode()
    # A period the page cannot read falls back to the last 30 days, with a warning.
    assert client.get(reverse("backoffice:clients"), {"from": "yesterday"}).status_code == 200


def test_people_who_are_not_staff_are_sent_to_the_login_page(client):
    client.force_login(UserFactory())
    assert client.get(reverse("backoffice:dashboard-json")).status_code == 302
    assert client.get(reverse("backoffice:clients")).status_code == 302


def test_the_staff_api_serves_the_same_figures_to_staff_only(api_client_for, api_client, staff, scene):
    assert api_client.get("/api/staff/stats/dashboard").status_code == 401
    refused = api_client_for(UserFactory()).get("/api/staff/stats/dashboard")
    assert (refused.status_code, refused.json()["code"]) == (403, "staff_only")
    staff_api = api_client_for(staff)
    dashboard = staff_api.get("/api/staff/stats/dashboard").json()
    assert {figure["key"]: figure["value"] for figure in dashboard["figures"]}["submitted"] == 2
    clients = staff_api.get("/api/staff/stats/clients", {"by": "month"}).json()
    assert [(row["name"], row["submitted"], row["delivered"]) for row in clients["clients"]] == [("Acme Bank", 2, 1)]
    assert [(row["period"], row["submitted"]) for row in clients["series"]] == [
        (timezone.localdate().strftime("%Y-%m"), 2)
    ]
    per_day = staff_api.get("/api/staff/stats/clients").json()["series"]
    assert [(row["period"], row["submitted"]) for row in per_day] == [(timezone.localdate().isoformat(), 2)]
    assert staff_api.get("/api/staff/stats/providers").json()["providers"] == []
    carriers = staff_api.get("/api/staff/stats/carriers").json()
    assert {row["carrier"]: row["submitted"] for row in carriers["carriers"]}["cellcard"] == 2
    days = staff_api.get("/api/staff/stats/fraud").json()["days"]
    assert (len(days), days[-1]["strikes"]) == (30, 1)
    for query in ({"from": "2026-13-01"}, {"from": "2026-02-01", "until": "2026-01-01"}, {"by": "year"}):
        bad = staff_api.get("/api/staff/stats/clients", query)
        assert (bad.status_code, bad.json()["code"]) == (400, "stats_period_invalid"), query
