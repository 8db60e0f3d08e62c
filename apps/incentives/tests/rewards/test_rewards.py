"""Rewards per delivered segment: booked on delivery, held through the window, posted, voided by a strike, clawed
back after posting and repaid from later rewards; establishment; staff rules with validity."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditLog
from apps.delivery.choices import FraudRule
from apps.delivery.fraud import fraud_flag
from apps.incentives.choices import ClawbackStatus, RewardStatus, Route
from apps.incentives.models import Clawback, Reward, RewardRule
from apps.incentives.rewards import rewards_post_due
from apps.providers.choices import Carrier
from apps.providers.tests.factories import provider_with_sim
from apps.tokens.choices import Reason, TransferStatus
from apps.tokens.models import Transfer
from apps.tokens.reconciliation import ledger_check
from apps.tokens.selectors import account_balance
from apps.tokens.services import account_open

pytestmark = pytest.mark.django_db

DAY = timedelta(hours=24)


def balance(provider):
    return account_balance(account_open(provider=provider))


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def test_a_delivery_books_a_pending_reward_on_net(established, provider, deliver):
    job = deliver()
    reward = Reward.objects.get(job=job)
    assert (reward.route, reward.segments, reward.status) == (Route.ON_NET, 1, RewardStatus.PENDING)
    assert reward.amount == 40_000 and reward.share_bp == 10_000 and reward.surge_bp == 10_000
    transfer = Transfer.objects.get(id=f"reward:job:{job.pk}")
    assert (transfer.status, transfer.reason, transfer.amount) == (TransferStatus.PENDING, Reason.REWARD, 40_000)
    assert (transfer.job_id, transfer.message_id) == (job.pk, job.message_id)
    assert (balance(provider).pending_in, balance(provider).available) == (40_000, 0)


def test_cross_carrier_pays_the_cross_carrier_rate_and_rules_have_validity(established, deliver):
    provider_with_sim(Carrier.SMART)  # the only SIM: a Cellcard recipient goes across carriers
    now = timezone.now()
    RewardRule.objects.create(route=Route.CROSS_CARRIER, priority="high", amount_per_segment=1,
                              valid_from=now - DAY, valid_until=now - timedelta(hours=1))  # fmt: skip
    RewardRule.objects.create(route=Route.CROSS_CARRIER, priority="high", amount_per_segment=33_000,
                              valid_from=now - DAY)  # fmt: skip
    RewardRule.objects.create(route=Route.CROSS_CARRIER, priority="high", amount_per_segment=2,
                              valid_from=now + DAY)  # fmt: skip
    job = deliver(priority="high", body="ក" * 71)  # Khmer, 71 characters: two UCS-2 segments
    reward = Reward.objects.get(job=job)
    assert (reward.route, reward.segments, reward.amount_per_segment) == (Route.CROSS_CARRIER, 2, 33_000)
    assert reward.amount == 66_000


def test_posts_after_the_window_only(established, provider, deliver):
    job = deliver()
    assert rewards_post_due(now=later(DAY.total_seconds() - 60)) == 0
    assert rewards_post_due(now=later(DAY.total_seconds() + 60)) == 1
    assert rewards_post_due(now=later(DAY.total_seconds() + 120)) == 0  # nothing twice
    assert Reward.objects.get(job=job).status == RewardStatus.POSTED
    assert Transfer.objects.get(id=f"reward:job:{job.pk}").status == TransferStatus.POSTED
    assert (balance(provider).pending_in, balance(provider).available) == (0, 40_000)
    assert ledger_check().breaks == 0


def test_a_strike_inside_the_window_voids_the_providers_pending_rewards(established, provider, deliver):
    first, second = deliver(), deliver(to="012 345 679")
    fraud_flag(provider_id=provider.pk, rule=FraudRule.CANARY_MISSED, strike=True, job=first)
    assert set(Reward.objects.values_list("status", flat=True)) == {RewardStatus.VOIDED}
    assert Transfer.objects.get(id=f"reward:job:{second.pk}").status == TransferStatus.VOIDED
    assert rewards_post_due(now=later(2 * DAY.total_seconds())) == 0
    assert balance(provider).available == balance(provider).pending_in == 0
    assert AuditLog.objects.filter(action="reward.voided").count() == 2


def test_a_strike_after_posting_is_clawed_back_once_from_the_next_rewards(established, provider, deliver, settings):
    settings.FRAUD_STRIKES_TO_SUSPEND = 99
    struck = deliver(body="x" * 161)  # two GSM-7 segments: 80_000
    rewards_post_due(now=later(DAY.total_seconds() + 60))
    for _ in range(2):  # the same strike reported twice books one clawback
        fraud_flag(provider_id=provider.pk, rule=FraudRule.CANARY_MISSED, strike=True, job=struck)
    clawback = Clawback.objects.get()
    assert (clawback.amount, clawback.recovered, clawback.status) == (80_000, 0, ClawbackStatus.OPEN)
    assert balance(provider).available == 80_000  # against future earnings: nothing taken back yet

    next_job = deliver(to="012 345 679")  # 40_000, repays half the debt
    rewards_post_due(now=later(DAY.total_seconds() + 60))
    clawback.refresh_from_db()
    assert (clawback.recovered, clawback.status) == (40_000, ClawbackStatus.OPEN)
    assert Transfer.objects.get(id=f"clawback:job:{next_job.pk}").amount == 40_000
    assert Reward.objects.get(job=next_job).clawback_recovered == 40_000

    deliver(to="012 345 670")
    deliver(to="012 345 671")
    rewards_post_due(now=later(DAY.total_seconds() + 60))
    clawback.refresh_from_db()
    assert (clawback.recovered, clawback.status) == (80_000, ClawbackStatus.RECOVERED)
    # 80_000 and 3 × 40_000 posted, 80_000 of it repaid.
    assert balance(provider).available == 80_000 + 3 * 40_000 - 80_000
    assert Transfer.objects.filter(reason=Reason.CLAWBACK).count() == 2
    assert ledger_check().breaks == 0


def test_a_new_provider_earns_a_reduced_share_held_longer(provider, deliver, settings):
    settings.INCENTIVES_ESTABLISHMENT_DELIVERIES = 1
    settings.INCENTIVES_ESTABLISHMENT_DAYS = 0
    first = deliver()
    reward = Reward.objects.get(job=first)
    assert (reward.establishing, reward.share_bp, reward.amount) == (True, 7_500, 30_000)
    assert reward.due_at - reward.booked_at == timedelta(hours=72)
    assert rewards_post_due(now=later(DAY.total_seconds() + 60)) == 0
    assert rewards_post_due(now=later(72 * 3600 + 60)) == 1
    second = Reward.objects.get(job=deliver(to="012 345 679"))  # one verified delivery: established
    assert (second.establishing, second.amount) == (False, 40_000)


def test_a_young_provider_is_establishing_whatever_its_deliveries(provider, deliver, settings):
    settings.INCENTIVES_ESTABLISHMENT_DELIVERIES = 0
    settings.INCENTIVES_ESTABLISHMENT_DAYS = 3
    assert Reward.objects.get(job=deliver()).establishing is True
