"""The back office: list with filters, search by phone as staff type it, heartbeat age, inlines, uptime, and
approve / suspend / ban through the services (audited)."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from apps.accounts.models import User
from apps.audit.models import AuditLog
from apps.providers.admin import heartbeat_age
from apps.providers.choices import Availability, Carrier, ProviderStatus
from apps.providers.models import AvailabilityChange, Provider
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db
LIST = "/admin/providers/provider/"


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("+85512000999", "admin-pw-for-tests"))
    return client


def listed_ids(response):
    return {provider.pk for provider in response.context["cl"].result_list}


def test_list_filters_by_status_carrier_online_and_province(staff_client):
    smart = provider_with_sim(Carrier.SMART, province="kampot")
    metfone = provider_with_sim(Carrier.METFONE, availability=Availability.OFFLINE)
    pending = provider_with_sim(Carrier.SMART, status=ProviderStatus.PENDING)
    response = staff_client.get(LIST)
    assert response.status_code == 200 and listed_ids(response) == {smart.pk, metfone.pk, pending.pk}
    assert listed_ids(staff_client.get(LIST, {"carrier": "metfone"})) == {metfone.pk}
    assert listed_ids(staff_client.get(LIST, {"availability__exact": "online"})) == {smart.pk, pending.pk}
    assert listed_ids(staff_client.get(LIST, {"status__exact": "pending"})) == {pending.pk}
    assert listed_ids(staff_client.get(LIST, {"province__exact": "kampot"})) == {smart.pk}


def test_search_by_phone_as_staff_type_it(staff_client):
    wanted = provider_with_sim(Carrier.SMART)
    provider_with_sim(Carrier.SMART)
    sim_number = wanted.sims.get().msisdn  # +85510xxxxxx
    national = "0" + sim_number[4:6] + " " + sim_number[6:9] + " " + sim_number[9:]
    assert listed_ids(staff_client.get(LIST, {"q": national})) == {wanted.pk}
    assert listed_ids(staff_client.get(LIST, {"q": wanted.user.phone})) == {wanted.pk}


@translation.override("en")
def test_heartbeat_age_reads_like_a_person_would_say_it():
    now = timezone.now()
    assert heartbeat_age(None, now) == "never"
    assert heartbeat_age(now - timedelta(seconds=42), now) == "42 s"
    assert heartbeat_age(now - timedelta(minutes=7), now) == "7 min"
    assert heartbeat_age(now - timedelta(hours=5), now) == "5 h"
    assert heartbeat_age(now - timedelta(days=3), now) == "3 d"
    with translation.override("km"):
        assert heartbeat_age(now - timedelta(minutes=7), now) == "7 នាទី"


def test_detail_shows_sims_devices_and_uptime(staff_client):
    provider = provider_with_sim(Carrier.SMART)
    AvailabilityChange.objects.create(
        provider=provider,
        previous=Availability.OFFLINE,
        availability=Availability.ONLINE,
        reason="provider",
        created_at=timezone.now() - timedelta(hours=12),
    )
    response = staff_client.get(f"{LIST}{provider.pk}/change/")
    html = response.content.decode()
    assert response.status_code == 200
    assert provider.sims.get().msisdn in html
    # Online for the last 12 hours: half of the last day, a fourteenth of the last week.
    assert ">50%<" in html and ">7%<" in html
    # The FCM token is shown only by its end.
    token = provider.devices.get().fcm_token
    assert token not in html and token[-8:] in html


@pytest.mark.parametrize(
    ("action", "start", "end", "audit_action"),
    [
        ("approve", ProviderStatus.PENDING, ProviderStatus.ACTIVE, "provider.approved"),
        ("suspend", ProviderStatus.ACTIVE, ProviderStatus.SUSPENDED, "provider.suspended"),
        ("ban", ProviderStatus.SUSPENDED, ProviderStatus.BANNED, "provider.banned"),
    ],
)
def test_actions_go_through_services_and_are_audited(staff_client, action, start, end, audit_action):
    provider = provider_with_sim(Carrier.SMART, status=start)
    response = staff_client.post(LIST, {"action": action, "_selected_action": [provider.pk]}, follow=True)
    assert response.status_code == 200
    provider.refresh_from_db()
    assert provider.status == end
    entry = AuditLog.objects.get(action=audit_action, target_id=str(provider.pk))
    assert entry.actor.phone == "+85512000999"
    assert (entry.before, entry.after["status"]) == ({"status": start}, end)
    # Only an active provider's SIMs take work.
    assert provider.sims.filter(matchable=True).exists() == (end == ProviderStatus.ACTIVE)


def test_an_action_that_does_not_apply_is_refused_and_said_so(staff_client):
    banned = provider_with_sim(Carrier.SMART, status=ProviderStatus.BANNED)
    action = {"action": "approve", "_selected_action": [banned.pk]}
    response = staff_client.post(LIST, action, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "Not approved" in response.content.decode()
    assert Provider.objects.get(pk=banned.pk).status == ProviderStatus.BANNED
    assert not AuditLog.objects.filter(action="provider.approved").exists()


def test_suspension_takes_the_provider_offline_for_uptime(staff_client):
    provider = provider_with_sim(Carrier.SMART)
    staff_client.post(LIST, {"action": "suspend", "_selected_action": [provider.pk]})
    provider.refresh_from_db()
    assert provider.availability == provider.chosen_availability == Availability.OFFLINE
    assert provider.availability_changes.get().reason == "staff"
