"""The job state machine (`apps.messaging.job_state`) and the job services delivery writes through."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.messaging.choices import JobStatus, MessageStatus
from apps.messaging.errors import IllegalJobTransition
from apps.messaging.job_state import JOB_TRANSITIONS, job_transition, jobs_transition
from apps.messaging.models import Job
from apps.messaging.services import MessageInput, job_sent, jobs_push_record, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Carrier
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db


def leased(organization, to: str = "012 345 678") -> Job:
    message = message_submit(organization=organization, api_key=None, data=MessageInput(to=to, body="Hi"))
    assert dispatch(message) == "assigned"
    return Job.objects.select_related("message").get(message=message)


@pytest.fixture
def job(organization):
    provider_with_sim(Carrier.CELLCARD)
    return leased(organization)


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (JobStatus.DELIVERED, JobStatus.SENT),  # an ended lease never comes back
        (JobStatus.EXPIRED, JobStatus.ACCEPTED),
        (JobStatus.SENT, JobStatus.ACCEPTED),  # no step back
        (JobStatus.ACCEPTED, JobStatus.OFFERED),
        (JobStatus.CANCELLED, JobStatus.FAILED),
    ],
)
def test_an_illegal_move_is_refused_and_changes_nothing(job, start, target):
    Job.objects.filter(pk=job.pk).update(status=start)
    job.status = start
    with pytest.raises(IllegalJobTransition) as refused:
        job_transition(job=job, to=target)
    assert refused.value.code == "illegal_job_transition"
    assert refused.value.details == {"job": job.pk, "from": start, "to": target}
    assert Job.objects.get(pk=job.pk).status == start


def test_every_ended_status_is_final_and_reachable_from_every_live_one():
    ended = {JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.EXPIRED, JobStatus.CANCELLED}
    assert all(not JOB_TRANSITIONS[status] for status in ended)
    assert all(ended <= JOB_TRANSITIONS[status] for status in (JobStatus.OFFERED, JobStatus.ACCEPTED, JobStatus.SENT))


def test_a_stale_copy_loses_the_race(job):
    stale = Job.objects.get(pk=job.pk)
    assert job_transition(job=job, to=JobStatus.EXPIRED, end_reason="lease_expired") is True
    # Loaded while still offered, so the move is legal as far as this copy knows; the row has ended meanwhile.
    assert job_transition(job=stale, to=JobStatus.ACCEPTED, accepted_at=timezone.now()) is False
    assert stale.status == JobStatus.OFFERED  # the copy is not updated when nothing moved
    row = Job.objects.get(pk=job.pk)
    assert (row.status, row.end_reason, row.accepted_at) == (JobStatus.EXPIRED, "lease_expired", None)


def test_a_move_from_any_live_status_ends_the_lease(job):
    job_transition(job=job, to=JobStatus.ACCEPTED)
    copy = Job.objects.get(pk=job.pk)
    assert job_transition(job=job, to=JobStatus.SENT) is True
    # A copy loaded as accepted still ends the lease that is now sent: ending is legal from every live status.
    assert job_transition(job=copy, to=JobStatus.CANCELLED, end_reason="cancelled") is True
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED


def test_the_bulk_move_only_moves_rows_in_a_status_it_is_legal_from(organization):
    for _ in range(3):
        provider_with_sim(Carrier.CELLCARD)
    offered, accepted, ended = (leased(organization, to) for to in ("012 345 671", "012 345 672", "012 345 673"))
    Job.objects.filter(pk=accepted.pk).update(status=JobStatus.ACCEPTED)
    Job.objects.filter(pk=ended.pk).update(status=JobStatus.EXPIRED)
    now = timezone.now()
    moved = jobs_transition(job_ids=[offered.pk, accepted.pk, ended.pk], to=JobStatus.ACCEPTED, accepted_at=now)
    assert moved == 1
    statuses = dict(Job.objects.filter(pk__in=[offered.pk, accepted.pk, ended.pk]).values_list("pk", "status"))
    assert statuses == {offered.pk: JobStatus.ACCEPTED, accepted.pk: JobStatus.ACCEPTED, ended.pk: JobStatus.EXPIRED}
    assert Job.objects.get(pk=offered.pk).accepted_at == now
    assert Job.objects.get(pk=accepted.pk).accepted_at is None  # it was not moved, so not touched
    assert jobs_transition(job_ids=[], to=JobStatus.ACCEPTED) == 0
    with pytest.raises(IllegalJobTransition):
        jobs_transition(job_ids=[offered.pk], to=JobStatus.OFFERED)  # nothing moves to offered


def test_job_sent_moves_job_and_message_and_holds_the_lease_to_the_end_of_validity(job):
    occurred = timezone.now() - timedelta(seconds=5)
    job_sent(job=job, occurred_at=occurred)
    row = Job.objects.select_related("message").get(pk=job.pk)
    assert (row.status, row.sent_at) == (JobStatus.SENT, occurred)
    assert row.deadline == row.message.expires_at  # never handed to another phone once sent
    assert (row.message.status, row.message.sent_at) == (MessageStatus.SENT, occurred)


def test_push_bookkeeping_counts_attempts_and_keeps_the_error_unless_told(job):
    at = timezone.now()
    jobs_push_record(job_ids=[job.pk], at=at, error="unavailable" + "x" * 100)
    jobs_push_record(job_ids=[job.pk], at=at + timedelta(seconds=1))  # no device: counted, error kept
    row = Job.objects.get(pk=job.pk)
    assert (row.push_attempts, row.last_pushed_at) == (2, at + timedelta(seconds=1))
    assert row.last_push_error == ("unavailable" + "x" * 100)[:64]
    jobs_push_record(job_ids=[job.pk], at=at, error="")
    assert Job.objects.get(pk=job.pk).last_push_error == ""
