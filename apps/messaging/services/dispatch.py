"""Dispatch: matching queued messages to providers under a lease (a Job), and keeping every message moving.

- `enqueue_dispatch` is the signal, cheap enough for the ingest path: after commit, one cache `add` per priority
  says "a dispatcher is on its way"; only when none is does it publish one `dispatch_due` task. The database is the
  truth: the dispatcher takes whatever queued messages are due, the broker only wakes it up.
- `messages_dispatch_due` takes a batch of due messages of one priority (`FOR UPDATE SKIP LOCKED`, so dispatchers
  in several processes never take the same ones), matches them together (`providers_match_batch`: every matching
  rule per message, the round trips shared by the batch), creates their leases in one INSERT and moves them to
  `assigned` in one UPDATE, and after commit hands all the batch's jobs to the push channel at once. No capacity
  means "try again later" with exponential backoff and jitter, never "failed".
- `job_end` ends a lease and gives its capacity back; a message waiting for capacity is brought forward then
  (`messages_wake`), instead of sleeping out its backoff.
- `jobs_expire_overdue` (periodic) ends leases past their deadline and puts the message back in the queue for a
  different provider; after MESSAGE_MAX_ATTEMPTS leases, or past its validity, the message is dead-lettered.
- `messages_reconcile` (periodic) signals again for queued messages whose signal was lost.
Every function is safe to run twice: moves are conditional updates on the status that was read.
"""

import logging
import secrets
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.module_loading import import_string

from apps.core.backoff import backoff_with_jitter
from apps.messaging.choices import LIVE_JOB_STATUSES, JobStatus, MessageStatus, Priority
from apps.messaging.models import Job, Message
from apps.messaging.state import message_transition, messages_transition
from apps.providers.selectors import provider_ids_holding_numbers
from apps.providers.services import provider_reputation_outcome
from apps.providers.services.matching import MatchRequest, capacity_release, providers_match_batch

logger = logging.getLogger("peerpower.dispatch")

# Messages handled per run of a periodic job; the next run takes the rest.
SWEEP_BATCH = 500
QUEUE_FOR_PRIORITY = {Priority.HIGH: "high", Priority.NORMAL: "default", Priority.LOW: "low"}
URGENCY = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}
# How long "a dispatcher is on its way" holds back further signals. Only an optimisation: should that task be lost,
# the next signal after this long publishes another (and the reconciler would find the messages anyway).
SIGNAL_SECONDS = 10
# Delayed signals (backoff, scheduled messages) are rounded up to this grid, so that many messages due at about the
# same time share one delayed task.
SIGNAL_GRID_SECONDS = 1.0
# A dispatcher task stops after this long and signals again, so one priority's backlog does not hold a worker.
DISPATCH_TASK_SECONDS = 10.0


def enqueue_dispatch(message_ids: Iterable[int], *, priority: str, countdown: float | None = None) -> None:
    """Signal the dispatcher of `priority`, after the current transaction commits, that queued messages are due
    (or will be in `countdown` seconds). The ids are not sent: the dispatcher takes due messages from the database,
    so callers only need the rows committed with the right `next_attempt_at`."""
    transaction.on_commit(lambda: dispatch_signal(priority=priority, countdown=countdown))


def _pending_key(priority: str) -> str:
    return f"dispatch:pending:{priority}"


def dispatch_signal(*, priority: str, countdown: float | None = None, force: bool = False) -> bool:
    """Publish a `dispatch_due` task for `priority` unless one is already on its way (for a delayed signal: one due at
    the same moment of the grid). Returns whether a task was published. A cache failure publishes anyway."""
    from apps.messaging.tasks import dispatch_due

    queue = QUEUE_FOR_PRIORITY[priority]
    if countdown is not None and countdown > SIGNAL_GRID_SECONDS / 2:
        slot = int(-(-(time.time() + countdown) // SIGNAL_GRID_SECONDS))  # rounded up to the grid
        key, timeout, countdown = (
            f"dispatch:at:{priority}:{slot}",
            int(countdown) + SIGNAL_SECONDS,
            max(slot * SIGNAL_GRID_SECONDS - time.time(), 0),
        )
    else:
        key, timeout, countdown = _pending_key(priority), SIGNAL_SECONDS, None
    if not force:
        try:
            if not cache.add(key, 1, timeout=timeout):
                return False
        except Exception:
            logger.warning("dispatch signal: cache unavailable, publishing anyway", exc_info=True)
    dispatch_due.apply_async(args=[priority], queue=queue, countdown=countdown)
    return True


def dispatch_signal_received(*, priority: str) -> None:
    """A dispatcher of `priority` has started: signals from now on must publish again (it may already have read past
    the messages they are for)."""
    try:
        cache.delete(_pending_key(priority))
    except Exception:
        logger.warning("dispatch signal: cache unavailable", exc_info=True)


def backoff_seconds(tries: int) -> float:
    """base * 2^tries seconds, capped, with +-50% jitter so waiting messages do not all return at once."""
    return backoff_with_jitter(
        base=settings.MESSAGE_DISPATCH_BACKOFF_BASE, exponent=tries, cap=settings.MESSAGE_DISPATCH_BACKOFF_MAX
    )


def messages_dispatch_due(*, priority: str, limit: int | None = None, now: datetime | None = None) -> dict[str, int]:
    """Dispatch up to `limit` (MESSAGE_DISPATCH_BATCH) queued messages of `priority` that are due, earliest first,
    in one transaction. Returns how many were taken and what became of them (assigned, waiting, expired, deferred:
    see `messages_dispatch`)."""
    now = now or timezone.now()
    limit = limit or settings.MESSAGE_DISPATCH_BATCH
    with transaction.atomic():
        messages = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(status=MessageStatus.QUEUED, priority=priority, next_attempt_at__lte=now)
            .order_by("next_attempt_at")[:limit]
        )
        outcomes = _dispatch_locked(messages, now=now)
    counts = {"taken": len(messages)}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def messages_dispatch_until_done(*, priority: str, seconds: float = DISPATCH_TASK_SECONDS) -> dict[str, int]:
    """The dispatcher task's work: batches of due messages until none is left or `seconds` have passed (then it
    signals again, so the rest is taken by the next task). Afterwards, one delayed signal for the earliest message
    not yet due (backing off, or scheduled), so that no message depends on a signal sent long ago."""
    dispatch_signal_received(priority=priority)
    started = time.monotonic()
    totals: dict[str, int] = {}
    while True:
        counts = messages_dispatch_due(priority=priority)
        for outcome, count in counts.items():
            totals[outcome] = totals.get(outcome, 0) + count
        if counts["taken"] < settings.MESSAGE_DISPATCH_BATCH and not counts.get("deferred"):
            break
        if time.monotonic() - started >= seconds:
            dispatch_signal(priority=priority, force=True)
            return totals
    next_due = (
        Message.objects.filter(status=MessageStatus.QUEUED, priority=priority, next_attempt_at__gt=timezone.now())
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if next_due is not None:
        dispatch_signal(priority=priority, countdown=(next_due - timezone.now()).total_seconds())
    return totals


def messages_dispatch(*, message_ids: Iterable[int]) -> dict[int, str]:
    """Try to give these messages to providers, in one transaction. Returns what happened to each: assigned,
    waiting, expired, deferred (left due for the dispatcher: other batches held the providers it could have had), or
    skipped (locked by another dispatcher, no longer queued, or not due yet)."""
    ids = list(dict.fromkeys(message_ids))
    now = timezone.now()
    with transaction.atomic():
        locked = Message.objects.select_for_update(skip_locked=True).filter(pk__in=ids, status=MessageStatus.QUEUED)
        # An early signal (scheduled, or backing off) does nothing: the message's own time comes later.
        due = [m for m in locked if not (m.next_attempt_at and m.next_attempt_at > now + timedelta(seconds=1))]
        outcomes = _dispatch_locked(due, now=now)
    return {message_id: outcomes.get(message_id, "skipped") for message_id in ids}


def message_dispatch(*, message_id: int) -> str:
    """`messages_dispatch` for one message: assigned, waiting, expired, or skipped."""
    return messages_dispatch(message_ids=[message_id])[message_id]


def _dispatch_locked(messages: list[Message], *, now: datetime) -> dict[int, str]:
    """Match and lease queued messages whose rows this transaction holds locked. Queries for the batch: earlier
    jobs, providers holding the recipients' numbers, the batch's match (`providers_match_batch`: a few statements
    for the whole batch), one INSERT of the jobs, one UPDATE per (reason, attempts) of the assigned messages, one
    UPDATE of the waiting ones."""
    outcomes: dict[int, str] = {}
    live = []
    for message in messages:
        if message.expires_at <= now:
            message_transition(message=message, to=MessageStatus.EXPIRED, reason="validity_ended")
            outcomes[message.pk] = "expired"
        else:
            live.append(message)
    if not live:
        return outcomes
    # Not the providers who already had a message, nor one holding the recipient's own number.
    excluded: dict[int, set[int]] = {message.pk: set() for message in live}
    earlier = Job.objects.filter(message_id__in=[m.pk for m in live]).values_list("message_id", "provider_id")
    for message_id, provider_id in earlier:
        excluded[message_id].add(provider_id)
    holders = provider_ids_holding_numbers(message.to for message in live)
    requests = [
        MatchRequest(
            recipient_carrier=message.carrier,
            exclude_provider_ids=frozenset(excluded[message.pk] | holders.get(message.to, set())),
            priority=message.priority,
            client_ref=str(message.organization_id),
            recipient=message.to,
            allow_cross_carrier=_cross_carrier_allowed(message, now=now),
        )
        for message in live
    ]
    # The batch's first reservation may wait for a provider another batch is reserving; once it holds one, it passes
    # over such providers instead (two batches could wait for each other).
    batch = providers_match_batch(requests, now=now)
    holding = any(batch.assignments)
    jobs, assigned, waiting, deferred = [], [], [], []
    for index, message in enumerate(live):
        assignment = batch.assignments[index]
        if assignment is None and index in batch.contended:
            if holding:
                # Passing over providers that another batch is reserving, it found none free: that batch's
                # reservations are not visible yet, so this is contention, not a lack of capacity. The message stays
                # due, without backoff, for the next batch.
                deferred.append(message)
                continue
            # Holding nothing, it may wait: is there really no capacity, or was it all being reserved?
            assignment = providers_match_batch([requests[index]], now=now).assignments[0]
            holding = assignment is not None
        if assignment is None:
            waiting.append(message)
            continue
        jobs.append(
            Job(
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
        )
        assigned.append(message)
    if jobs:
        Job.objects.bulk_create(jobs)
        groups: dict[tuple[str, int], list[Message]] = {}
        for message, job in zip(assigned, jobs, strict=True):
            groups.setdefault(("cross_carrier" if job.cross_carrier else "", message.attempts + 1), []).append(message)
        for (reason, attempts), group in groups.items():
            moved = messages_transition(
                messages=group, to=MessageStatus.ASSIGNED, reason=reason, attempts=attempts, next_attempt_at=None
            )
            if moved != len(group):
                raise RuntimeError(f"{len(group) - moved} locked messages changed under the dispatcher's lock")
        outcomes.update({message.pk: "assigned" for message in assigned})
        job_ids = [job.pk for job in jobs]
        transaction.on_commit(lambda: job_offered(job_ids))
    if waiting:
        _wait(waiting, now=now)
        outcomes.update({message.pk: "waiting" for message in waiting})
    for message in deferred:
        outcomes[message.pk] = "deferred"
        enqueue_dispatch([], priority=message.priority)
    return outcomes


def _cross_carrier_allowed(message: Message, *, now: datetime) -> bool | None:
    """None (matching's default: cross-carrier unless low priority), except for a low-priority message that has
    waited MESSAGE_LOW_PRIORITY_CROSS_CARRIER_AFTER_SECONDS since it was due (scheduled, else created): it may then
    take another carrier's capacity rather than wait, perhaps until its validity ends, for on-net capacity."""
    if message.priority != Priority.LOW:
        return None
    due = message.scheduled_at or message.created_at
    return now - due >= timedelta(seconds=settings.MESSAGE_LOW_PRIORITY_CROSS_CARRIER_AFTER_SECONDS)


def _wait(messages: list[Message], *, now: datetime) -> None:
    """No capacity: each message's next try after its own backoff (one UPDATE), and a delayed signal per priority."""
    retry_at = {message.pk: now + timedelta(seconds=backoff_seconds(message.dispatch_tries)) for message in messages}
    Message.objects.filter(pk__in=retry_at).update(
        next_attempt_at=Case(*[When(pk=pk, then=Value(at)) for pk, at in retry_at.items()]),
        dispatch_tries=F("dispatch_tries") + 1,
    )
    earliest: dict[str, datetime] = {}
    for message in messages:
        message.next_attempt_at = at = retry_at[message.pk]
        message.dispatch_tries += 1
        earliest[message.priority] = min(earliest.get(message.priority, at), at)
    for priority, at in earliest.items():
        enqueue_dispatch([], priority=priority, countdown=(at - now).total_seconds())


# How many of the soonest-retrying waiting messages a job end looks at to choose whom to wake (most urgent first):
# the read walks `message_queued_due_idx` in order and stops there, whatever the size of the backlog.
WAKE_CANDIDATES = 50


def messages_wake(*, carrier: str | None, count: int = 1, now: datetime | None = None) -> int:
    """Capacity came back (a lease ended): bring the next `count` messages waiting for capacity forward — on
    `carrier` (None: any), the most urgent priority among the WAKE_CANDIDATES soonest to retry — instead of letting
    them sleep out their backoff. One bounded read of the queued index, one conditional UPDATE and a signal;
    nothing when none waits. Messages waiting for their scheduled time (never tried) are not touched. Runs in the
    caller's transaction, on the delivery-report path: its cost must not grow with the backlog."""
    now = now or timezone.now()
    waiting = Message.objects.filter(status=MessageStatus.QUEUED, next_attempt_at__gt=now, dispatch_tries__gt=0)
    if carrier:
        waiting = waiting.filter(carrier=carrier)
    candidates = list(waiting.order_by("next_attempt_at").values_list("pk", "priority")[:WAKE_CANDIDATES])
    if not candidates:
        return 0
    woken = sorted(candidates, key=lambda candidate: URGENCY[candidate[1]])[:count]  # stable: soonest first
    moved = Message.objects.filter(
        pk__in=[pk for pk, _ in woken], status=MessageStatus.QUEUED, next_attempt_at__gt=now
    ).update(next_attempt_at=now)
    for priority in {priority for _, priority in woken}:
        enqueue_dispatch([], priority=priority)
    return moved


def job_offered(job_ids: list[int]) -> None:
    """Tell the phones about their new jobs. The push channel is named by MESSAGING_JOB_OFFER_HOOK (called with the
    list of a batch's job ids); the phone's pull (its list of offered jobs) is the fallback whatever the push does."""
    hook = import_string(settings.MESSAGING_JOB_OFFER_HOOK)
    try:
        hook(job_ids)
    except Exception:
        logger.exception("job offer hook failed for jobs %s", job_ids)


def job_offer_nothing(job_ids: list[int]) -> None:
    """An offer hook that does not push: phones find their jobs by polling."""


def job_end(*, job: Job, status: str, reason: str, sms_sent: bool) -> bool:
    """End a live lease (expired, failed, cancelled, delivered), give back what matching reserved, and bring a
    message waiting for that capacity forward.

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
        # A job on its own carrier's SIM frees capacity for that carrier (the message's); a cross-carrier one, for
        # whichever carrier its SIM is on.
        messages_wake(carrier=None if job.cross_carrier else job.message.carrier)
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
