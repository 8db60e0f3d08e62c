"""A reward is booked exactly once per job, however many deliveries or handlers race, and settled once however
posting sweeps and strikes race; a strike cleared while another is recorded or rewards post makes good exactly what
it should: PostgreSQL, real threads, each with its own connection, released together."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.delivery.choices import FraudRule
from apps.delivery.fraud import fraud_flag, fraud_strike_clear
from apps.incentives.models import Clawback, Reward
from apps.incentives.rewards import (
    reward_book,
    rewards_post_due,
    rewards_strike,
)
from apps.messaging.models import Job
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.messaging.tests.test_concurrency import run_together
from apps.tokens.models import Transfer
from apps.tokens.reconciliation import ledger_check
from apps.tokens.selectors import account_balance
from apps.tokens.services import account_open, hot_balances_roll_up

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks under real concurrency"),
    pytest.mark.django_db(transaction=True),
]


def _offered_job(organization, api_client_for) -> tuple[Job, object]:
    message = message_submit(organization=organization, api_key=None, data=MessageInput(to="012 345 678", body="Hi"))
    assert dispatch(message) == "assigned"
    job = Job.objects.select_related("provider__user").get(message=message)
    phone = api_client_for(job.provider.user)
    assert phone.post(f"/api/jobs/{job.pk}/ack").status_code == 200
    Job.objects.filter(pk=job.pk).update(offered_at=timezone.now() - timedelta(seconds=30))
    return job, phone


def _assert_one_reward(job: Job) -> None:
    assert Reward.objects.filter(job=job).count() == 1
    assert Transfer.objects.filter(job_id=job.pk, reason="reward").count() == 1
    hot_balances_roll_up()
    assert account_balance(account_open(provider=job.provider)).pending_in == 40_000
    rewards_post_due(now=timezone.now() + timedelta(days=2))
    hot_balances_roll_up()
    assert account_balance(account_open(provider=job.provider)).available == 40_000
    assert ledger_check().breaks == 0


def test_eight_phones_reporting_the_same_delivery_book_one_reward(established, provider, organization, api_client_for):
    job, phone = _offered_job(organization, api_client_for)
    occurred = timezone.now().isoformat().replace("+00:00", "Z")

    def report() -> int:
        return phone.post(
            f"/api/jobs/{job.pk}/report", {"status": "delivered", "occurred_at": occurred}, format="json"
        ).status_code

    assert run_together(report, threads=8) == [200] * 8
    _assert_one_reward(job)


def test_eight_handlers_of_the_same_delivery_book_one_reward(
    established, provider, organization, api_client_for, settings
):
    settings.DELIVERY_SETTLE_LINGER_MS = 300  # the report leaves the reward to the settle step, not run here
    job, phone = _offered_job(organization, api_client_for)
    occurred = timezone.now().isoformat().replace("+00:00", "Z")
    response = phone.post(f"/api/jobs/{job.pk}/report", {"status": "delivered", "occurred_at": occurred}, format="json")
    assert response.status_code == 200
    assert not Reward.objects.exists()

    def book() -> int:
        delivered = Job.objects.select_related("sim", "message", "provider").get(pk=job.pk)
        return reward_book(job=delivered).pk

    ids = run_together(book, threads=8)
    assert len(set(ids)) == 1
    _assert_one_reward(job)


def test_posting_sweeps_racing_strikes_settle_each_reward_once(established, provider, organization, api_client_for):
    jobs = []
    for index in range(6):
        message = message_submit(
            organization=organization, api_key=None, data=MessageInput(to=f"012 345 67{index}", body="Hi")
        )
        assert dispatch(message) == "assigned"
        job = Job.objects.select_related("provider__user").get(message=message)
        phone = api_client_for(job.provider.user)
        assert phone.post(f"/api/jobs/{job.pk}/ack").status_code == 200
        Job.objects.filter(pk=job.pk).update(offered_at=timezone.now() - timedelta(seconds=30))
        occurred = timezone.now().isoformat().replace("+00:00", "Z")
        phone.post(f"/api/jobs/{job.pk}/report", {"status": "delivered", "occurred_at": occurred}, format="json")
        jobs.append(job)
    Reward.objects.update(due_at=timezone.now() - timedelta(seconds=1))
    turn = iter(range(8))

    def work() -> str:
        if next(turn) % 2:
            rewards_post_due(limit=2)
            return "post"
        rewards_strike(provider_id=provider.pk, job_id=jobs[0].pk, rule="canary_missed")
        return "strike"

    run_together(work, threads=8)
    rewards_post_due()  # whatever the sweeps left
    statuses = {reward.job_id: reward.status for reward in Reward.objects.all()}
    assert len(statuses) == 6 and set(statuses.values()) <= {"posted", "voided"}
    for job_id, status in statuses.items():
        assert Transfer.objects.get(id=f"reward:job:{job_id}").status == status
    clawbacks = Clawback.objects.filter(reward__job_id=jobs[0].pk).count()
    assert clawbacks == (1 if statuses[jobs[0].pk] == "posted" else 0)
    hot_balances_roll_up()
    posted = sum(reward.amount for reward in Reward.objects.filter(status="posted"))
    repaid = sum(clawback.recovered for clawback in Clawback.objects.all())
    assert account_balance(account_open(provider=provider)).available == posted - repaid
    assert ledger_check().breaks == 0


def _delivered(organization, api_client_for, count: int) -> list[Job]:
    jobs = []
    for index in range(count):
        job, phone = _offered_job_to(organization, api_client_for, f"012 345 67{index}")
        occurred = timezone.now().isoformat().replace("+00:00", "Z")
        phone.post(f"/api/jobs/{job.pk}/report", {"status": "delivered", "occurred_at": occurred}, format="json")
        jobs.append(job)
    return jobs


def _offered_job_to(organization, api_client_for, to: str) -> tuple[Job, object]:
    message = message_submit(organization=organization, api_key=None, data=MessageInput(to=to, body="Hi"))
    assert dispatch(message) == "assigned"
    job = Job.objects.select_related("provider__user").get(message=message)
    phone = api_client_for(job.provider.user)
    assert phone.post(f"/api/jobs/{job.pk}/ack").status_code == 200
    Job.objects.filter(pk=job.pk).update(offered_at=timezone.now() - timedelta(seconds=30))
    return job, phone


def test_clearing_a_strike_racing_a_new_strike_restores_nothing_the_new_one_covers(
    established, provider, organization, api_client_for, settings
):
    settings.FRAUD_STRIKES_TO_SUSPEND = 99
    staff = UserFactory(is_staff=True)
    jobs = _delivered(organization, api_client_for, 3)
    first = fraud_flag(provider_id=provider.pk, rule=FraudRule.CANARY_MISSED, strike=True, job=jobs[0])
    turn = iter(range(6))

    def work() -> str:
        if next(turn) % 2:
            fraud_strike_clear(flag=first, actor=staff)
            return "clear"
        fraud_flag(provider_id=provider.pk, rule=FraudRule.FAST_DELIVERY, strike=True, job=jobs[1])
        return "strike"

    run_together(work, threads=6)
    # Whichever committed first, the new strike stands over every reward: none is pending or posted, and the ledger
    # holds nothing for them.
    assert set(Reward.objects.values_list("status", flat=True)) == {"voided"}
    for reward in Reward.objects.all():
        assert Transfer.objects.get(id=reward.transfer_id).status == "voided"
    assert Transfer.objects.filter(reason="reward", status="pending").count() == 0
    hot_balances_roll_up()
    assert account_balance(account_open(provider=provider)).pending_in == 0
    assert ledger_check().breaks == 0


def test_clearing_a_strike_racing_posting_sweeps_refunds_exactly_what_was_recovered(
    established, provider, organization, api_client_for, settings
):
    settings.FRAUD_STRIKES_TO_SUSPEND = 99
    staff = UserFactory(is_staff=True)
    (struck,) = _delivered(organization, api_client_for, 1)
    rewards_post_due(now=timezone.now() + timedelta(days=2))
    flag = fraud_flag(provider_id=provider.pk, rule=FraudRule.CANARY_MISSED, strike=True, job=struck)
    jobs = []
    for index in range(4):
        job, phone = _offered_job_to(organization, api_client_for, f"012 345 68{index}")
        occurred = timezone.now().isoformat().replace("+00:00", "Z")
        phone.post(f"/api/jobs/{job.pk}/report", {"status": "delivered", "occurred_at": occurred}, format="json")
        jobs.append(job)
    Reward.objects.filter(status="pending").update(due_at=timezone.now() - timedelta(seconds=1))
    turn = iter(range(6))

    def work() -> str:
        if next(turn) == 0:
            fraud_strike_clear(flag=flag, actor=staff)
            return "clear"
        rewards_post_due(limit=1)
        return "post"

    run_together(work, threads=6)
    rewards_post_due()  # whatever the sweeps left
    clawback = Clawback.objects.get()
    assert clawback.status == "cancelled" and clawback.recovered == 0
    kept = sum(Transfer.objects.filter(reason="clawback", kind="single", debit_account__provider=provider)
               .values_list("amount", flat=True))  # fmt: skip
    assert clawback.refunded == kept  # every unit taken before the clearing went back, none after it was taken
    hot_balances_roll_up()
    posted = sum(Reward.objects.filter(status="posted").values_list("amount", flat=True))
    assert posted == 5 * 40_000
    assert account_balance(account_open(provider=provider)).available == posted
    assert ledger_check().breaks == 0
