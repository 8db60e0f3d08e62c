"""A strike staff clear as a false alarm: the rewards it voided are booked again under a new id (once), the clawback
it booked is cancelled and what it recovered refunded; nothing is made good that another standing strike covers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditLog
from apps.delivery.choices import FraudRule
from apps.delivery.fraud import fraud_flag, fraud_strike_clear
from apps.incentives.choices import ClawbackStatus, RewardStatus
from apps.incentives.models import Clawback, Reward
from apps.incentives.rewards import rewards_post_due
from apps.incentives.strike_clearing import rewards_strike_cleared
from apps.tokens.choices import Reason, TransferStatus
from apps.tokens.models import Transfer
from apps.tokens.reconciliation import ledger_check
from apps.tokens.selectors import account_balance
from apps.tokens.services import account_open, hot_balances_roll_up

pytestmark = pytest.mark.django_db

AFTER_THE_WINDOW = timedelta(hours=24, minutes=1)


@pytest.fixture(autouse=True)
def no_suspension(settings):
    settings.FRAUD_STRIKES_TO_SUSPEND = 99


@pytest.fixture
def staff_user():
    from apps.accounts.tests.factories import UserFactory

    return UserFactory(is_staff=True)


def balance(provider):
    hot_balances_roll_up()
    return account_balance(account_open(provider=provider))


def post_due() -> int:
    return rewards_post_due(now=timezone.now() + AFTER_THE_WINDOW)


def strike(provider, job, rule=FraudRule.CANARY_MISSED):
    return fraud_flag(provider_id=provider.pk, rule=rule, strike=True, job=job)


def test_clearing_books_the_voided_rewards_again_once(established, provider, deliver, staff_user):
    first, second = deliver(), deliver(to="012 345 679")
    flag = strike(provider, first)
    assert set(Reward.objects.values_list("status", flat=True)) == {RewardStatus.VOIDED}
    assert set(Reward.objects.values_list("voided_by", flat=True)) == {flag.pk}

    assert fraud_strike_clear(flag=flag, actor=staff_user) is True
    for job in (first, second):
        reward = Reward.objects.get(job=job)
        restored = f"reward:job:{job.pk}:restore:{flag.pk}"
        assert (reward.status, reward.transfer_id, reward.voided_by_id) == (RewardStatus.PENDING, restored, None)
        # The voided transfer stays voided; the reward is a new pending transfer of the same amount.
        assert Transfer.objects.get(id=f"reward:job:{job.pk}").status == TransferStatus.VOIDED
        assert (Transfer.objects.get(id=restored).status, Transfer.objects.get(id=restored).amount) == (
            TransferStatus.PENDING,
            40_000,
        )
    assert AuditLog.objects.filter(action="reward.restored").count() == 2
    assert (balance(provider).pending_in, balance(provider).available) == (80_000, 0)

    # Cleared twice (the admin action repeated, the handler run again): nothing booked twice.
    assert fraud_strike_clear(flag=flag, actor=staff_user) is False
    assert rewards_strike_cleared(provider_id=provider.pk, flag_id=flag.pk) == {"restored": 0, "refunded": 0}
    assert Transfer.objects.filter(reason=Reason.REWARD, kind="pending").count() == 4

    assert post_due() == 2
    assert (balance(provider).pending_in, balance(provider).available) == (0, 80_000)
    assert ledger_check().breaks == 0


def test_another_standing_strike_keeps_them_voided_until_it_is_cleared(established, provider, deliver, staff_user):
    first, second = deliver(), deliver(to="012 345 679")
    canary = strike(provider, first)
    fast = strike(provider, second, rule=FraudRule.FAST_DELIVERY)
    fraud_strike_clear(flag=canary, actor=staff_user)
    assert set(Reward.objects.values_list("status", flat=True)) == {RewardStatus.VOIDED}
    assert balance(provider).pending_in == 0

    fraud_strike_clear(flag=fast, actor=staff_user)
    # Both were voided by the first strike; the clearing that left none standing books them, under its own id.
    assert set(Reward.objects.values_list("transfer_id", flat=True)) == {
        f"reward:job:{first.pk}:restore:{fast.pk}",
        f"reward:job:{second.pk}:restore:{fast.pk}",
    }
    assert balance(provider).pending_in == 80_000


def test_a_strike_older_than_the_reward_does_not_block_it(established, provider, deliver, staff_user):
    old = strike(provider, deliver())  # standing, recorded before the next reward was booked
    later = deliver(to="012 345 679")
    flag = strike(provider, later, rule=FraudRule.FAST_DELIVERY)
    fraud_strike_clear(flag=flag, actor=staff_user)
    assert Reward.objects.get(job=later).status == RewardStatus.PENDING
    assert Reward.objects.get(job=old.job).status == RewardStatus.VOIDED


def test_a_restored_reward_struck_and_cleared_again_gets_a_new_id(established, provider, deliver, staff_user):
    job = deliver()
    first = strike(provider, job)
    fraud_strike_clear(flag=first, actor=staff_user)
    second = strike(provider, job, rule=FraudRule.FAST_DELIVERY)
    reward = Reward.objects.get(job=job)
    assert (reward.status, reward.voided_by_id) == (RewardStatus.VOIDED, second.pk)
    assert Transfer.objects.get(id=f"reward:job:{job.pk}:restore:{first.pk}").status == TransferStatus.VOIDED
    fraud_strike_clear(flag=second, actor=staff_user)
    assert Reward.objects.get(job=job).transfer_id == f"reward:job:{job.pk}:restore:{second.pk}"
    assert post_due() == 1
    assert balance(provider).available == 40_000
    assert ledger_check().breaks == 0


def test_clearing_cancels_the_clawback_and_refunds_what_it_recovered(established, provider, deliver, staff_user):
    struck = deliver(body="x" * 161)  # two segments: 80_000
    post_due()
    flag = strike(provider, struck)
    deliver(to="012 345 679")
    post_due()  # 40_000 posted, all of it repaying the clawback
    clawback = Clawback.objects.get()
    assert (clawback.recovered, clawback.status) == (40_000, ClawbackStatus.OPEN)
    assert balance(provider).available == 80_000

    fraud_strike_clear(flag=flag, actor=staff_user)
    clawback.refresh_from_db()
    assert (clawback.status, clawback.recovered, clawback.refunded) == (ClawbackStatus.CANCELLED, 0, 40_000)
    refund = Transfer.objects.get(id=f"clawback:{clawback.pk}:refund:{flag.pk}")
    assert (refund.status, refund.amount, refund.reason) == (TransferStatus.POSTED, 40_000, Reason.CLAWBACK)
    assert balance(provider).available == 120_000
    assert AuditLog.objects.filter(action="reward.clawback_cancelled").count() == 1

    deliver(to="012 345 670")
    post_due()  # nothing is netted any more
    assert balance(provider).available == 160_000
    assert Clawback.objects.get().recovered == 0

    # Struck again on the same job: the cancelled clawback opens again.
    strike(provider, struck, rule=FraudRule.FAST_DELIVERY)
    assert Clawback.objects.get().status == ClawbackStatus.OPEN
    assert ledger_check().breaks == 0


def test_a_clawback_stays_while_another_strike_on_its_job_stands(established, provider, deliver, staff_user):
    struck = deliver()
    post_due()
    canary = strike(provider, struck)
    strike(provider, struck, rule=FraudRule.FAST_DELIVERY)
    fraud_strike_clear(flag=canary, actor=staff_user)
    assert Clawback.objects.get().status == ClawbackStatus.OPEN
