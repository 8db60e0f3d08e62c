"""Back office: rules are added through the audited service; a rule a reward used cannot change or go; money rows are
read-only."""

from datetime import date

import pytest
from django.utils.timezone import localtime

from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditLog
from apps.incentives.models import BonusRule, Reward, RewardRule

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


@pytest.mark.parametrize("model", ["reward", "clawback", "bonus", "routemultiplier"])
def test_money_and_history_are_read_only(admin_client, model):
    assert admin_client.get(f"/admin/incentives/{model}/").status_code == 200
    assert admin_client.get(f"/admin/incentives/{model}/add/").status_code == 403
