"""Dispatch: matching a queued message to a provider under a lease (a Job), and keeping every message moving.

- `message_dispatch` asks provider matching for a SIM and creates the lease; no capacity means "try again later"
  with exponential backoff and jitter, never "failed". The push to the phone is sent after commit.
- `jobs_expire_overdue` (periodic) ends leases past their deadline and puts the message back in the queue for a
  different provider; after MESSAGE_MAX_ATTEMPTS leases, or past its validity, the message is dead-lettered.
- `messages_reconcile` (periodic) re-enqueues queued messages whose task was lost: the database is the truth, the
  broker only a signal.
Every function is safe to run twice: moves are conditional updates on the status that was read.
"""

import logging
import random
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from apps.messaging.choices import LIVE_JOB_STATUSES, JobStatus, MessageStatus, Priority
from apps.messaging.models import Job, Message
from apps.messaging.state import message_transition
from apps.providers.selectors import provider_ids_holding_number
from apps.providers.services import provider_reputation_outcome
from apps.providers.services.matching import capacity_release, provider_match

logger = logging.getLogger("peerpower.dispatch")

# Messages handled per run of a periodic job; the next run takes the rest.
SWEEP_BATCH = 500


def enqueue_dispatch(message_ids: list[int], *, priority: str, countdown: float | None = None) -> None:
    """Signal the dispatcher, after the current transaction commits, on the queue of the messages' priority."""
    from apps.messaging.tasks import dispatch_messages

    queue = {Priority.HIGH: "high", Priority.NORMAL: "default", Priority.LOW: "low"}[priority]
    ids = list(message_ids)
    transaction.on_commit(lambda: dispatch_messages.apply_async(args=[ids], queue=queue, countdown=countdown))


def backoff_seconds(tries: int) -> float:
    """base * 2^tries seconds, capped, with +-50% jitter so waiting messages do not all return at once."""
    base = settings.MESSAGE_DISPATCH_BACKOFF_BASE * 2 ** min(tries, 30)
    return min(base, settings.MESSAGE_DISPATCH_BACKOFF_MAX) * random.uniform(0.5, 1.5)


def message_dispatch(*, message_id: int) -> str:
    """Try to give the message to a provider. Returns what happened: assigned, waiting, expired, or skipped."""
    now = timezone.now()
    with transaction.atomic():
        message = Message.objects.select_for_update(skip_locked=True).filter(pk=message_id).first()
        if message is None or message.status != MessageStatus.QUEUED:
            return "skipped"  # another worker has it, or it moved on: nothing to do
        if message.expires_at <= now:
            message_transition(message=message, to=MessageStatus.EXPIRED, reason="validity_ended")
            return "expired"
        if message.next_attempt_at and message.next_attempt_at > now + timedelta(seconds=1):
            return "skipped"  # an early signal (scheduled, or backing off): its own task comes later
        # Not the providers who already had it, nor one holding the recipient's own number.
        excluded = set(message.jobs.values_list("provider_id", flat=True)) | provider_ids_holding_number(message.to)
        assignment = provider_match(
            recipient_carrier=message.carrier,
            exclude_provider_ids=excluded,
            priority=message.priority,
            client_ref=str(message.organization_id),
            recipient=message.to,
            now=now,
        )
        if assignment is None:
            delay = backoff_seconds(message.dispatch_tries)
            message.next_attempt_at = now + timedelta(seconds=delay)
            Message.objects.filter(pk=message.pk).update(
                next_attempt_at=message.next_attempt_at, dispatch_tries=F("dispatch_tries") + 1
            )
            enqueue_dispatch([message.pk], priority=message.priority, countdown=delay)
            return "waiting"
        job = Job.objects.create(
            message=message,
            provider_id=assignment.provider_id,
            sim_id=assignment.sim_id,
            trace_token=secrets.token_urlsafe(24),
            attempt=message.attempts + 1,
            cross_carrier=assignment.cross_carrier,
            sticky=assignment.sticky,
            offered_at=now,
            reserved_at=assignment.reserved_at,
            deadline=min(now + timedelta(seconds=settings.JOB_LEASE_SECONDS), message.expires_at),
        )
        message_transition(
            message=message,
            to=MessageStatus.ASSIGNED,
            reason="cross_carrier" if assignment.cross_carrier else "",
            attempts=F("attempts") + 1,
            next_attempt_at=None,
        )
        transaction.on_commit(lambda: job_offered(job.pk))
    return "assigned"


def job_offered(job_id: int) -> None:
    """Tell the phone about its new job. The push channel is named by MESSAGING_JOB_OFFER_HOOK; the phone's pull
    (its list of offered jobs) is the fallback whatever the push does."""
    hook = import_string(settings.MESSAGING_JOB_OFFER_HOOK)
    try:
        hook(job_id)
    except Exception:
        logger.exception("job offer hook failed for job %s", job_id)


def job_offer_nothing(job_id: int) -> None:
    """The default offer hook: no push; phones find their jobs by polling."""


def job_end(*, job: Job, status: str, reason: str, sms_sent: bool) -> bool:
    """End a live lease (expired, failed, cancelled, delivered) and give back what matching reserved.

    The job's conditional update makes this happen once, so capacity is released exactly once.
    """
    ended = (
        Job.objects.filter(pk=job.pk, status__in=LIVE_JOB_STATUSES).update(
            status=status, end_reason=reason, finished_at=timezone.now()
        )
        == 1
    )
    if ended:
        capacity_release(provider_id=job.provider_id, sim_id=job.sim_id, reserved_at=job.reserved_at, sms_sent=sms_sent)
        job.status = status
    return ended


def job_end_for_message(*, message: Message, reason: str) -> None:
    """Cancel the message's live lease, if any (the SMS was not sent: its SIM capacity comes back)."""
    job = message.jobs.filter(status__in=LIVE_JOB_STATUSES).first()
    if job is not None:
        job_end(job=job, status=JobStatus.CANCELLED, reason=reason, sms_sent=job.status == JobStatus.SENT)


def message_requeue_or_dead_letter(*, message: Message, reason: str, now: datetime) -> str:
    """After a lease ended without delivery: back to the queue for another provider, or a dead letter when the
    attempts are used up (failed) or validity is over (expired)."""
    if message.expires_at <= now:
        message_transition(message=message, to=MessageStatus.EXPIRED, reason="validity_ended")
        return "expired"
    if message.attempts >= settings.MESSAGE_MAX_ATTEMPTS:
        message_transition(message=message, to=MessageStatus.FAILED, reason="max_attempts")
        return "failed"
    if message_transition(message=message, to=MessageStatus.QUEUED, reason=reason, next_attempt_at=now):
        enqueue_dispatch([message.pk], priority=message.priority)
    return "requeued"


def jobs_expire_overdue(*, now: datetime | None = None) -> int:
    """End leases past their deadline and move their messages on. Returns how many leases expired."""
    now = now or timezone.now()
    expired = 0
    with transaction.atomic():
        jobs = list(
            Job.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status__in=LIVE_JOB_STATUSES, deadline__lte=now)
            .select_related("message")
            .order_by("deadline")[:SWEEP_BATCH]
        )
        for job in jobs:
            was_sent = job.status == JobStatus.SENT
            took_it = job.status in (JobStatus.ACCEPTED, JobStatus.SENT)
            if not job_end(job=job, status=JobStatus.EXPIRED, reason="lease_expired", sms_sent=was_sent):
                continue
            expired += 1
            message = job.message
            if was_sent:
                # The SMS went out; only its delivery was never confirmed. Sending it again through another phone
                # would deliver it twice, so the message ends here instead of going back to the queue.
                if message.status == MessageStatus.SENT:
                    message_transition(message=message, to=MessageStatus.EXPIRED, reason="delivery_unconfirmed")
                continue
            if took_it:
                # The phone took the job and then went quiet: that costs reputation (an unanswered offer does not).
                provider_reputation_outcome(provider_id=job.provider_id, outcome="timeout")
            if message.status == MessageStatus.ASSIGNED:
                message_requeue_or_dead_letter(message=message, reason="lease_expired", now=now)
    return expired


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
            enqueue_dispatch(ids, priority=priority)
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
            enqueue_dispatch([message.pk], priority=message.priority)
    return message
