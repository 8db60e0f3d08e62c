"""Back office: rules are added through the audited service; a rule a reward used cannot change or go; money rows are
read-only."""

import pytest

from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditLog
from apps.incentives.models import Reward, RewardRule

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


@pytest.mark.parametrize("model", ["reward", "clawback", "bonus", "routemultiplier"])
def test_money_and_history_are_read_only(admin_client, model):
    assert admin_client.get(f"/admin/incentives/{model}/").status_code == 200
    assert admin_client.get(f"/admin/incentives/{model}/add/").status_code == 403
