"""Back office: rules are added through the audited service; a rule a reward used cannot change or go; money rows are
read-only."""

from datetime import date

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape
from django.utils.timezone import localtime

from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditLog
from apps.incentives.choices import Route
from apps.incentives.models import BonusRule, Reward, RewardRule, RouteMultiplier, SurgeBounds
from apps.incentives.multipliers import route_multipliers_recompute
from apps.providers.choices import Carrier

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_staff_add_a_reward_rule_audited_and_it_locks_once_used(admin_client, established, provider, deliver):
    response = admin_client.post(
        "/admin/incentives/rewardrule/add/",
        {"route": "on_net", "priority": "normal", "amount_per_segment": 55_000, "valid_from_0": "2020-01-01",
         "valid_from_1": "00:00:00", "note": "launch rate"},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:500]
    rule = RewardRule.objects.get()
    entry = AuditLog.objects.get(action="reward_rule.created")
    assert entry.after["amount_per_segment"] == 55_000 and rule.created_by is not None
    assert Reward.objects.get(job=deliver()).amount == 55_000
    page = admin_client.get(f"/admin/incentives/rewardrule/{rule.pk}/change/")
    assert b'name="amount_per_segment"' not in page.content  # read-only now
    assert admin_client.get(f"/admin/incentives/rewardrule/{rule.pk}/delete/").status_code == 403


def test_staff_add_a_bonus_rule_with_scope_and_validity_audited(admin_client):
    response = admin_client.post(
        "/admin/incentives/bonusrule/add/",
        {"kind": "leaderboard", "amounts": "[5000000, 2000000]", "scope": "province", "min_segments": 10,
         "min_score": 500, "min_uptime_bp": 9000, "valid_from_0": "2026-01-01", "valid_from_1": "00:00:00",
         "valid_until_0": "2027-01-01", "valid_until_1": "00:00:00", "note": "province prizes"},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:500]
    rule = BonusRule.objects.get()
    assert (rule.scope, rule.amounts, rule.min_score) == ("province", [5_000_000, 2_000_000], 500)
    # Typed in the network's time zone (TIME_ZONE), as staff read it.
    assert localtime(rule.valid_from).date() == date(2026, 1, 1) and localtime(rule.valid_until).date() == date(
        2027, 1, 1
    )
    assert rule.created_by is not None
    entry = AuditLog.objects.get(action="bonus_rule.created")
    assert entry.target_id == str(rule.pk) and entry.actor_id == rule.created_by_id
    assert entry.after["scope"] == "province" and entry.after["amounts"] == [5_000_000, 2_000_000]
    assert (entry.after["valid_from"], entry.after["valid_until"]) == (
        localtime(rule.valid_from).isoformat(),
        localtime(rule.valid_until).isoformat(),
    )
    # A validity that ends before it starts is refused, and nothing is audited.
    refused = admin_client.post(
        "/admin/incentives/bonusrule/add/",
        {"kind": "streak", "amounts": "[1000000]", "scope": "network", "min_segments": 0, "min_score": 0,
         "min_uptime_bp": 9000, "valid_from_0": "2026-02-01", "valid_from_1": "00:00:00",
         "valid_until_0": "2026-01-01", "valid_until_1": "00:00:00", "note": ""},
    )  # fmt: skip
    assert refused.status_code == 200 and BonusRule.objects.count() == 1
    assert AuditLog.objects.filter(action__startswith="bonus_rule.").count() == 1


def test_the_multiplier_history_opens_with_the_multipliers_in_force_in_khmer_and_english(admin_client):
    url = "/admin/incentives/routemultiplier/"
    before = admin_client.get(url)
    assert {row["multiplier_bp"] for row in before.context["multipliers_in_force"]} == {10_000}
    SurgeBounds.objects.create(carrier=Carrier.CELLCARD, route="on_net", floor_bp=15_000, ceiling_bp=20_000)
    route_multipliers_recompute()
    for language, heading in (("en", "Multipliers in force now"), ("km", "មេគុណដែលកំពុងអនុវត្តឥឡូវនេះ")):
        admin_client.post(reverse("set_language"), {"language": language, "next": url})
        page = admin_client.get(url)
        rows = {(row["carrier"], row["route"]): row for row in page.context["multipliers_in_force"]}
        surged = rows[(Carrier.CELLCARD, "on_net")]
        assert (surged["multiplier_bp"], surged["times"], surged["floor"], surged["ceiling"]) == (
            15_000,
            "×1.50",
            "×1.50",
            "×2.00",
        )
        assert surged["reading"] == RouteMultiplier.objects.filter(carrier=Carrier.CELLCARD, route="on_net").get()
        assert rows[(Carrier.SMART, "on_net")]["multiplier_bp"] == 10_000
        html = page.content.decode()
        with translation.override(language):
            route, carrier = str(Route.CROSS_CARRIER.label), str(Carrier.CELLCARD.label)
        assert heading in html and escape(route) in html and escape(carrier) in html
        assert html.index(heading) < html.index('id="result_list"')  # above the history
        assert "<strong>×1.50</strong> (15000)" in html


@pytest.mark.parametrize("model", ["reward", "clawback", "bonus", "routemultiplier"])
def test_money_and_history_are_read_only(admin_client, model):
    assert admin_client.get(f"/admin/incentives/{model}/").status_code == 200
    assert admin_client.get(f"/admin/incentives/{model}/add/").status_code == 403
