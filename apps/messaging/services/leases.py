"""Leases ending, and the sweeps that keep every message moving.

- `job_end` ends a lease (through the job state machine) and gives its capacity back; a message waiting for capacity
  is brought forward then (`messages_wake`).
- `message_requeue_or_dead_letter`: after a lease ended without delivery, back to the queue for another provider, or
  a dead letter; `message_requeue` is staff putting a dead letter back.
- `jobs_expire_overdue` (periodic) ends leases past their deadline. An offered job (the phone never took it) goes
  back in the queue for a different provider; after MESSAGE_MAX_ATTEMPTS leases, or past its validity, the message
  is dead-lettered. An acknowledged job is never handed on: it becomes `unknown` and the phone is asked whether it
  sent the SMS; an unknown job nobody answered for in JOB_UNKNOWN_ANSWER_SECONDS ends, and its message is final
  `unknown` (the client hears `message.unknown`; nothing is charged or rewarded).
- `messages_reconcile` (periodic) signals again for queued messages whose signal was lost.
Every function is safe to run twice: moves are conditional updates on the status that was read.
"""

from collections import Counter as Tally
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.messaging.choices import HOLDING_JOB_STATUSES, JobStatus, MessageStatus
from apps.messaging.errors import IllegalJobTransition, MessageRedacted
from apps.messaging.job_state import job_is_legal, job_transition, jobs_transition_then, per_job
from apps.messaging.models import Job, Message
from apps.messaging.services.dispatch import messages_wake, wake_candidates_read
from apps.messaging.services.signal import dispatch_signal, enqueue_dispatch
from apps.messaging.state import Move, message_transition, messages_transition_each
from apps.providers.services import provider_reputation_outcome, providers_mark_unresponsive
from apps.providers.services.matching import Release, capacities_release

# Messages handled per run of a periodic job; the next run takes the rest.
SWEEP_BATCH = 500


def job_end(*, job: Job, status: str, reason: str, sms_sent: bool, **fields: Any) -> bool:
    """End a live lease (expired, failed, cancelled, delivered), give back what matching reserved, and bring a
    message waiting for that capacity forward. `fields` (plain values) are set by the same UPDATE.

    The job's conditional update makes this happen once, so capacity is released exactly once.
    """
    ended = job_transition(job=job, to=status, end_reason=reason, finished_at=timezone.now(), **fields)
    if ended:
        _leases_ended([job], sms_sent={job.pk: sms_sent})
    return ended


def jobs_end(
    *,
    jobs: Sequence[Job],
    status: str,
    reasons: Mapping[int, str],
    sms_sent: Mapping[int, bool],
    fields: Mapping[str, Mapping[int, Any]] | None = None,
) -> None:
    """End several live leases at once (a phone's batch of reports), each with its own `reasons[job id]` and
    `fields[name][job id]` (plain values), in one UPDATE; give back what matching reserved for them and bring
    waiting messages forward, as `job_end` does for one. The caller holds the jobs' rows locked, so every one moves:
    anything else is a caller's bug (IllegalJobTransition, and the caller's transaction rolls back)."""
    if not jobs:
        return
    for job in jobs:
        if not job_is_legal(job.status, status):
            raise IllegalJobTransition(details={"job": job.pk, "from": job.status, "to": status})
    now = timezone.now()
    values = {"end_reason": reasons, **(fields or {})}
    freed = _freed(jobs)
    # One carrier's capacity coming back (a phone's report): the messages waiting for it are read by the jobs' UPDATE.
    then, then_params = wake_candidates_read(carrier=next(iter(freed)), now=now) if len(freed) == 1 else (None, [])
    moved, candidates = jobs_transition_then(
        job_ids=[job.pk for job in jobs],
        to=status,
        then=then,
        then_params=then_params,
        finished_at=now,
        **{name: per_job(per, name) for name, per in values.items()},
    )
    if moved != len(jobs):
        raise IllegalJobTransition(details={"jobs": [job.pk for job in jobs], "to": status})
    for job in jobs:
        job.status, job.finished_at = status, now
        for name, per in values.items():
            setattr(job, name, per[job.pk])
    _leases_ended(jobs, sms_sent=sms_sent, wake_candidates=candidates, now=now)


def _freed(jobs: Sequence[Job]) -> Tally[str | None]:
    """How much capacity ended leases give back, by carrier: a job on its own carrier's SIM frees capacity for that
    carrier (the message's); a cross-carrier one, for whichever carrier its SIM is on (None)."""
    return Tally(None if job.cross_carrier else job.message.carrier for job in jobs)


def _leases_ended(
    jobs: Sequence[Job],
    *,
    sms_sent: Mapping[int, bool],
    wake_candidates: list[tuple] | None = None,
    now: datetime | None = None,
) -> None:
    """What ended leases give back: their capacity (one release for them all), and as many waiting messages brought
    forward (`_freed`). `wake_candidates`: the waiting messages of the one carrier freed, if read already."""
    capacities_release(
        releases=[
            Release(
                provider_id=job.provider_id, sim_id=job.sim_id, reserved_at=job.reserved_at, sms_sent=sms_sent[job.pk]
            )
            for job in jobs
        ]
    )
    for carrier, count in _freed(jobs).items():
        messages_wake(carrier=carrier, count=count, now=now, candidates=wake_candidates)


def job_end_for_message(*, message: Message, reason: str) -> None:
    """Cancel the message's live (or unknown) lease, if any (the SMS was not sent: its SIM capacity comes back)."""
    job = message.jobs.filter(status__in=HOLDING_JOB_STATUSES).first()
    if job is not None:
        job_end(job=job, status=JobStatus.CANCELLED, reason=reason, sms_sent=job.status == JobStatus.SENT)


def message_requeue_or_dead_letter(*, message: Message, reason: str, now: datetime) -> str:
    """After a lease ended without delivery: back to the queue for another provider, or a dead letter when the
    attempts are used up (failed) or validity is over (expired)."""
    to, why = _after_failure(message, reason=reason, now=now)
    fields = {"next_attempt_at": now} if to == MessageStatus.QUEUED else {}
    if message_transition(message=message, to=to, reason=why, **fields) and to == MessageStatus.QUEUED:
        enqueue_dispatch(priority=message.priority)
    return _AFTER_FAILURE[to]


def messages_requeue_or_dead_letter(*, messages: Sequence[tuple[Message, str]], now: datetime) -> None:
    """`message_requeue_or_dead_letter` for several (message, reason) at once (a phone's batch of failed reports):
    one bulk move per outcome (`messages_transition_each`), and one dispatch signal per priority requeued."""
    moves: dict[str, list[Move]] = {}
    for message, reason in messages:
        to, why = _after_failure(message, reason=reason, now=now)
        fields = {"next_attempt_at": now} if to == MessageStatus.QUEUED else {}
        moves.setdefault(to, []).append(Move(message=message, reason=why, fields=fields))
    for to, each in moves.items():
        moved = messages_transition_each(moves=each, to=to)
        if to == MessageStatus.QUEUED:
            for priority in sorted({message.priority for message in moved}):
                enqueue_dispatch(priority=priority)


_AFTER_FAILURE = {MessageStatus.EXPIRED: "expired", MessageStatus.FAILED: "failed", MessageStatus.QUEUED: "requeued"}


def _after_failure(message: Message, *, reason: str, now: datetime) -> tuple[str, str]:
    """Where a message goes after a lease ended without delivery, and why."""
    if message.expires_at <= now:
        return MessageStatus.EXPIRED, "validity_ended"
    if message.attempts >= settings.MESSAGE_MAX_ATTEMPTS:
        return MessageStatus.FAILED, "max_attempts"
    return MessageStatus.QUEUED, reason


def jobs_expire_overdue(*, now: datetime | None = None) -> int:
    """End leases past their deadline and move their messages on; an acknowledged job past its lease becomes
    unknown instead, and an unknown one past its answer time ends. Returns how many jobs this moved."""
    now = now or timezone.now()
    moved = 0
    with transaction.atomic():
        jobs = list(
            Job.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status__in=HOLDING_JOB_STATUSES, deadline__lte=now)
            .select_related("message")
            .order_by("deadline")[:SWEEP_BATCH]
        )
        for job in jobs:
            if job.status == JobStatus.ACCEPTED:
                moved += _job_outcome_unknown(job=job, now=now)
            elif job.status == JobStatus.UNKNOWN:
                moved += _job_unanswered(job=job, now=now)
            else:
                moved += _job_lease_expired(job=job, now=now)
    return moved


def _job_lease_expired(*, job: Job, now: datetime) -> bool:
    """An offered (never acknowledged) or sent job's lease ended."""
    was_sent = job.status == JobStatus.SENT
    if not job_end(job=job, status=JobStatus.EXPIRED, reason="lease_expired", sms_sent=was_sent):
        return False
    message = job.message
    if was_sent:
        # The SMS went out; only its delivery was never confirmed. Sending it again through another phone would
        # deliver it twice, so the message ends here instead of going back to the queue.
        if message.status == MessageStatus.SENT:
            message_transition(message=message, to=MessageStatus.EXPIRED, reason="delivery_unconfirmed")
    else:
        # The phone never took it: no new work for it until it is heard from (a silent phone would otherwise look
        # the least loaded and be offered the next message too).
        providers_mark_unresponsive(provider_ids=[job.provider_id], now=now)
        if message.status == MessageStatus.ASSIGNED:
            # No acknowledgement: another phone may send it safely.
            message_requeue_or_dead_letter(message=message, reason="lease_expired", now=now)
    return True


def _job_outcome_unknown(*, job: Job, now: datetime) -> bool:
    """The phone acknowledged the job and its lease ended without a report: it may have sent the SMS (its report
    queued behind others, or the phone offline with its outbox), so the job is not handed to another phone. It waits
    JOB_UNKNOWN_ANSWER_SECONDS for the phone's answer, still holding the message and the SIM's capacity."""
    answer_by = now + timedelta(seconds=settings.JOB_UNKNOWN_ANSWER_SECONDS)
    return job_transition(job=job, to=JobStatus.UNKNOWN, deadline=answer_by, end_reason="lease_ended_unreported")


def _job_unanswered(*, job: Job, now: datetime) -> bool:
    """Nobody said whether the unknown job's SMS went out: the job ends and the message's outcome is final unknown.
    Its SIM capacity stays counted (the SMS may have gone out)."""
    if not job_end(job=job, status=JobStatus.EXPIRED, reason="outcome_unknown", sms_sent=True):
        return False
    # The phone took the job and then went quiet: that costs reputation (an unanswered offer does not).
    provider_reputation_outcome(provider_id=job.provider_id, outcome="timeout")
    message = job.message
    if message.status == MessageStatus.ASSIGNED:
        reason = "validity_ended" if message.expires_at <= now else "no_answer"
        message_transition(message=message, to=MessageStatus.UNKNOWN, reason=reason)
    return True


def messages_reconcile(*, now: datetime | None = None) -> dict[str, int]:
    """Recover messages the queue lost: queued and long past due → enqueued again; past validity → expired."""
    now = now or timezone.now()
    grace = timedelta(seconds=settings.MESSAGE_RECONCILE_GRACE_SECONDS)
    counts = {"requeued": 0, "expired": 0}
    with transaction.atomic():
        stuck = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(status=MessageStatus.QUEUED, next_attempt_at__lte=now - grace)
            .order_by("next_attempt_at")[:SWEEP_BATCH]
        )
        due: dict[str, list[int]] = {}
        for message in stuck:
            if message.expires_at <= now:
                if message_transition(message=message, to=MessageStatus.EXPIRED, reason="validity_ended"):
                    counts["expired"] += 1
            else:
                due.setdefault(message.priority, []).append(message.pk)
        # Push the due time forward so the next reconcile does not enqueue them again while their task waits.
        Message.objects.filter(pk__in=[pk for ids in due.values() for pk in ids]).update(next_attempt_at=now)
        for priority, ids in due.items():
            # Forced: a lost task may still be marked as on its way.
            transaction.on_commit(lambda priority=priority: dispatch_signal(priority=priority, force=True))
            counts["requeued"] += len(ids)
        # Held messages also expire when their validity ends, so a forgotten review does not send a stale SMS.
        for message in Message.objects.select_for_update(skip_locked=True).filter(
            status=MessageStatus.HELD, expires_at__lte=now
        )[:SWEEP_BATCH]:
            if message_transition(message=message, to=MessageStatus.EXPIRED, reason="validity_ended"):
                counts["expired"] += 1
    return counts


def message_requeue(*, message: Message, actor: Any, validity_seconds: int | None = None) -> Message:
    """Staff: put a dead letter (failed or expired) back in the queue, with fresh attempts and validity."""
    now = timezone.now()
    validity = validity_seconds or settings.MESSAGE_VALIDITY_DEFAULT_SECONDS
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        if message.redacted_at is not None:
            raise MessageRedacted()  # retention erased its body and recipient: there is nothing left to send
        if message_transition(
            message=message,
            to=MessageStatus.QUEUED,
            reason="requeued_by_staff",
            actor=actor,
            audit=True,
            attempts=0,
            dispatch_tries=0,
            next_attempt_at=now,
            expires_at=now + timedelta(seconds=validity),
        ):
            enqueue_dispatch(priority=message.priority)
    return message
