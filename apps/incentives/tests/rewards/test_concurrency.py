"""A reward is booked exactly once per job, however many deliveries or handlers race, and settled once however
posting sweeps and strikes race: PostgreSQL, real threads, each with its own connection, released together."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.core.events import subscribe, unsubscribe
from apps.incentives.models import Clawback, Reward
from apps.incentives.rewards import (
    reward_book,
    rewards_on_message_status_changed,
    rewards_post_due,
    rewards_strike,
)
from apps.messaging.events import MessageStatusChanged
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


def test_eight_handlers_of_the_same_delivery_book_one_reward(established, provider, organization, api_client_for):
    job, phone = _offered_job(organization, api_client_for)
    unsubscribe(MessageStatusChanged, rewards_on_message_status_changed)
    try:
        occurred = timezone.now().isoformat().replace("+00:00", "Z")
        response = phone.post(
            f"/api/jobs/{job.pk}/report", {"status": "delivered", "occurred_at": occurred}, format="json"
        )
        assert response.status_code == 200
    finally:
        subscribe(MessageStatusChanged, rewards_on_message_status_changed)
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
