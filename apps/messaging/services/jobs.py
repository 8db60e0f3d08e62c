"""Every write to a job from outside the dispatcher: the phone's side of a lease (acknowledging an offered job,
reporting it sent) and the push channel's (recording pushes, giving a job back when its phone cannot be reached).
Delivery calls these and never writes a job itself; the moves go through the job state machine
(`apps.messaging.job_state`)."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import router, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core.compiled import CompiledSelect, CompiledUpdate, ids_in
from apps.core.errors import DomainError
from apps.core.prepared import statements_prepared
from apps.messaging.choices import JobStatus, MessageStatus
from apps.messaging.errors import IllegalJobTransition, JobNotFound, JobNotResolvable, LeaseExpired
from apps.messaging.job_state import (
    jobs_accept_clause,
    jobs_accept_move,
    jobs_accept_moved,
    jobs_transition,
    per_job,
)
from apps.messaging.models import Job
from apps.messaging.services.leases import job_end, message_requeue_or_dead_letter
from apps.messaging.state import messages_sent
from apps.providers.services import provider_heard_from, providers_mark_unresponsive


def job_accept(*, job_id: int, user: Any) -> Job:
    """The phone acknowledges an offered job (and so has received it). Safe to repeat: acknowledging an accepted
    job returns it again. Another provider's job is "not found"; a job whose lease ended is a conflict."""
    result = jobs_accept(job_ids=[job_id], user=user)[0]
    if isinstance(result, DomainError):
        raise result
    return result


# Built once per process on PostgreSQL (apps.core.compiled): every acknowledgement locks its jobs with it.
_ACK_LOCKED = CompiledSelect(
    lambda job_ids, user_id: (
        Job.objects.select_for_update(of=("self",))
        .select_related("message", "provider")
        .filter(ids_in("pk", job_ids), provider__user_id=user_id)
        .order_by("pk")
    )  # the same lock order in every request
)


# On PostgreSQL an acknowledgement is this one statement, on its own (no BEGIN, no COMMIT): the jobs it can move are
# locked and moved by its WITH clause, and the jobs read with their message and provider for the answer.
_ACK_MOVED = CompiledSelect(
    lambda job_ids, user_id, now: (
        Job.objects.select_related("message", "provider")
        .filter(ids_in("pk", job_ids), provider__user_id=user_id)
        .annotate(moved=jobs_accept_moved())
        .order_by("pk")
    ),
    with_=jobs_accept_clause,
)


def jobs_accept(*, job_ids: Sequence[int], user: Any) -> list[Job | DomainError]:
    """Acknowledge several offered jobs at once (a phone that received a burst of pushes): one result per id, in
    order — the job, or the error `job_accept` would raise for it. One move for them all.

    On PostgreSQL one statement on its own moves and reads them (`_ACK_MOVED`: one round trip, where BEGIN, the
    lock, the move and COMMIT took four); elsewhere one transaction locks, then moves them. The statement reads the
    jobs as they were when it began: one it moved is set accepted here; one it could not move is answered as it
    read it — unless that showed it offered and live, which means another request moved it meanwhile (the move
    waited for its lock), and then the batch is answered by the locking way below, which reads the latest rows."""
    now = timezone.now()
    ids = sorted(set(job_ids))
    if statements_prepared(router.db_for_write(Job)) and ids:
        jobs = {job.pk: job for job in _ACK_MOVED.run(ids, user.pk, now)}
        if not any(not job.moved and job.status == JobStatus.OFFERED and job.deadline > now for job in jobs.values()):
            for job in jobs.values():
                if job.moved:
                    job.status, job.accepted_at = JobStatus.ACCEPTED, now
            if jobs:
                # Heard from, even if every job it acknowledges has been given away meanwhile: offered work again.
                provider_heard_from(provider=next(iter(jobs.values())).provider)
            return _accept_results(job_ids, jobs, now)
    with transaction.atomic():
        jobs = {job.pk: job for job in _ACK_LOCKED.run(ids, user.pk)}
        if jobs:
            # Heard from, even if every job it acknowledges has been given away meanwhile: offered work again.
            provider_heard_from(provider=next(iter(jobs.values())).provider)
        offered = [job for job in jobs.values() if job.status == JobStatus.OFFERED and job.deadline > now]
        if offered:
            jobs_accept_move(job_ids=[job.pk for job in offered], accepted_at=now)
            for job in offered:
                job.status, job.accepted_at = JobStatus.ACCEPTED, now
    return _accept_results(job_ids, jobs, now)


def _accept_results(job_ids: Sequence[int], jobs: dict[int, Job], now: datetime) -> list[Job | DomainError]:
    results: list[Job | DomainError] = []
    for job_id in job_ids:
        job = jobs.get(job_id)
        if job is None:
            results.append(JobNotFound())
        elif job.status not in (JobStatus.ACCEPTED, JobStatus.SENT) or job.deadline <= now:
            results.append(LeaseExpired(details={"status": job.status}))
        else:
            results.append(job)
    return results


def job_release_and_rematch(*, job_id: int, reason: str) -> bool:
    """Take an offered job back from a phone that cannot be reached (dead token, failed pushes, no acknowledgement)
    and give the message to another provider. False if the job was no longer offered (the phone acknowledged in
    the meantime, or the lease ended anyway)."""
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().select_related("message").filter(pk=job_id).first()
        if job is None or job.status != JobStatus.OFFERED:
            return False
        if not job_end(job=job, status=JobStatus.EXPIRED, reason=reason, sms_sent=False):
            return False
        if reason == "no_ack":
            # Pushed twice and never acknowledged: no new work for the phone until it is heard from.
            providers_mark_unresponsive(provider_ids=[job.provider_id], now=now)
        if job.message.status == MessageStatus.ASSIGNED:
            message_requeue_or_dead_letter(message=job.message, reason=reason, now=now)
    return True


def job_sent(*, job: Job, occurred_at: datetime) -> None:
    """The phone reports it sent the SMS of `job` (a live lease, locked by the caller, loaded with its message):
    the job and its message move to sent. Runs in the caller's transaction. `jobs_sent` for one job."""
    jobs_sent(jobs=[job], sent_at={job.pk: occurred_at})


def jobs_sent(*, jobs: Sequence[Job], sent_at: Mapping[int, datetime]) -> None:
    """The phone reports it sent the SMS of each of `jobs` (live leases the caller holds locked, loaded with their
    messages), at `sent_at[job id]`: the jobs move to sent in one UPDATE, and their messages still assigned in one
    more (`messages_sent`). Runs in the caller's transaction.

    A job still offered (the phone sent at once, without acknowledging it first) is acknowledged by the same move:
    the `sent` report is the acknowledgement, so it gets `accepted_at` too. The caller has checked that the job is
    this phone's and its lease live, exactly as an acknowledgement would.

    Once sent, a job is never handed to another phone (that would send the SMS twice): its lease now runs to the
    end of its message's validity, waiting for the delivery report."""
    now = timezone.now()
    moving = [job for job in jobs if job.status != JobStatus.SENT]
    if moving:
        deadlines = {job.pk: max(job.deadline, job.message.expires_at) for job in moving}
        moved = jobs_transition(
            job_ids=[job.pk for job in moving],
            to=JobStatus.SENT,
            sent_at=per_job({job.pk: sent_at[job.pk] for job in moving}, "sent_at"),
            deadline=per_job(deadlines, "deadline"),
            accepted_at=Coalesce(F("accepted_at"), Value(now)),
        )
        if moved != len(moving):  # the caller holds the rows locked: anything else is a caller's bug
            raise IllegalJobTransition(details={"jobs": [job.pk for job in moving], "to": JobStatus.SENT})
        for job in moving:
            job.status, job.sent_at, job.deadline = JobStatus.SENT, sent_at[job.pk], deadlines[job.pk]
            job.accepted_at = job.accepted_at or now
    assigned = [job.message for job in jobs if job.message.status == MessageStatus.ASSIGNED]
    messages_sent(messages=assigned, sent_at={job.message_id: sent_at[job.pk] for job in jobs})


class Resolution:
    """What staff found out about an acknowledged job nobody reported on (e.g. from the provider, or the SIM's
    sent-messages list)."""

    SENT = "sent"
    NOT_SENT = "not_sent"


def job_resolve(*, job_id: int, outcome: str, actor: Any, note: str = "") -> Job:
    """Staff settle an acknowledged job the phone has not reported on (accepted, or unknown after its lease ended):
    `sent` moves it (and its message) to sent, to wait for the delivery report; `not_sent` ends it and sends the
    message to another provider (or dead-letters it). Audited. JobNotResolvable for any other job."""
    if outcome not in (Resolution.SENT, Resolution.NOT_SENT):
        raise ValueError(f"unknown resolution {outcome!r}")
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update(of=("self",)).select_related("message").filter(pk=job_id).first()
        if job is None:
            raise JobNotFound()
        if job.status not in (JobStatus.ACCEPTED, JobStatus.UNKNOWN):
            raise JobNotResolvable(details={"job": job.pk, "status": job.status})
        before = job.status
        if outcome == Resolution.SENT:
            job_sent(job=job, occurred_at=now)
        else:
            job_end(job=job, status=JobStatus.FAILED, reason="staff_not_sent", sms_sent=False)
            if job.message.status == MessageStatus.ASSIGNED:
                message_requeue_or_dead_letter(message=job.message, reason="staff_not_sent", now=now)
        audit_record(
            actor=actor,
            action=f"job.resolve_{outcome}",
            target=job,
            before={"status": before},
            after={"status": job.status, "message_status": job.message.status, "note": note},
        )
    return job


def jobs_push_record(*, job_ids: Sequence[int], at: datetime, error: str | None = None) -> None:
    """The push channel pushed (or tried to push) these jobs at `at`: count the attempt, and keep `error` (the first
    failure's code; "" after a clean push) unless it is None. One UPDATE. The acknowledgement sweep reads these to
    decide between a re-push and giving the job to another provider."""
    fields: dict[str, Any] = {"push_attempts": F("push_attempts") + 1, "last_pushed_at": at}
    if error is not None:
        fields["last_push_error"] = error[:64]
    _PUSHES_RECORDED.run(fields, list(job_ids))


# Built once per process on PostgreSQL (apps.core.compiled): every push batch records itself with it.
_PUSHES_RECORDED = CompiledUpdate(lambda job_ids: Job.objects.filter(ids_in("pk", job_ids)))
