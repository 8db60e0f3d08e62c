"""The dispatcher: matching queued messages to providers under a lease (a Job).

`messages_dispatch_due` takes a batch of due messages of one priority (`FOR UPDATE SKIP LOCKED`, so dispatchers in
several processes never take the same ones), matches them together (`providers_match_batch`: every matching rule per
message, the round trips shared by the batch), creates their leases in one INSERT and moves them to `assigned` in one
UPDATE, and after commit hands all the batch's jobs to the push channel at once (MESSAGING_JOB_OFFER_HOOK). No
capacity means "try again later" with exponential backoff and jitter, never "failed"; when a lease ends and gives
capacity back, `messages_wake` brings a waiting message forward instead of letting it sleep out its backoff.
The signal that wakes the dispatcher is in `signal`; what happens when a lease ends, in `leases`.

Under light load one dispatcher serves every priority (`messages_dispatch_due_together`): a batch of each, read high
first, in one transaction, matched in that order (scarce capacity goes to the more urgent), one INSERT of the leases
and one push batch for all. A priority whose batch is full has a backlog: it is handed to a dispatcher of its own on
its own queue (`messages_dispatch_until_done` with that priority, as every dispatcher was before), so under heavy load
the priorities are separate streams and a low-priority backlog never holds what serves high.
"""

import logging
import re
import secrets
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.module_loading import import_string

from apps.core.backoff import backoff_with_jitter
from apps.core.compiled import CompiledSelect, ids_in
from apps.core.prepared import prepared_cursor
from apps.messaging.choices import MessageStatus, Priority
from apps.messaging.inserting import jobs_insert
from apps.messaging.metrics import DISPATCHED
from apps.messaging.models import Job, Message
from apps.messaging.routes import cross_carrier_override, match_route
from apps.messaging.services.signal import (
    dispatch_hand_off,
    dispatch_signal,
    dispatch_signal_received,
    enqueue_dispatch,
)
from apps.messaging.state import message_transition, messages_transition
from apps.providers.selectors import provider_ids_holding_hashes
from apps.providers.services.matching import MatchRequest, providers_match_batch

logger = logging.getLogger("peerpower.dispatch")

URGENCY = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}
PRIORITIES_BY_URGENCY = sorted(URGENCY, key=URGENCY.__getitem__)
# A dispatcher task stops after this long and signals again, so one priority's backlog does not hold a worker.
DISPATCH_TASK_SECONDS = 10.0


def backoff_seconds(tries: int) -> float:
    """base * 2^tries seconds, capped, with +-50% jitter so waiting messages do not all return at once."""
    return backoff_with_jitter(
        base=settings.MESSAGE_DISPATCH_BACKOFF_BASE, exponent=tries, cap=settings.MESSAGE_DISPATCH_BACKOFF_MAX
    )


def messages_dispatch_due(*, priority: str, limit: int | None = None, now: datetime | None = None) -> dict[str, int]:
    """Dispatch up to `limit` (MESSAGE_DISPATCH_BATCH) queued messages of `priority` that are due, earliest first,
    in one transaction. Returns how many were taken and what became of them: assigned, waiting (no capacity: backing
    off), expired, or deferred (left due for the next batch: other batches held the providers it could have had)."""
    now = now or timezone.now()
    limit = limit or settings.MESSAGE_DISPATCH_BATCH
    with transaction.atomic():
        messages = _due_locked(limit).run(priority, now)
        outcomes = _dispatch_locked(messages, now=now)
    counts = {"taken": len(messages)}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    for outcome, count in counts.items():
        if outcome != "taken":
            DISPATCHED.labels(priority=priority, outcome=outcome).inc(count)
    return counts


def messages_dispatch_due_together(
    *, limit: int | None = None, now: datetime | None = None
) -> dict[str, dict[str, int]]:
    """Dispatch up to `limit` (MESSAGE_DISPATCH_BATCH) due queued messages of each priority, in one transaction:
    read high first, each priority earliest first, and matched in that order (a provider the batch can give only once
    goes to the most urgent message). Returns each priority's counts, as `messages_dispatch_due`'s."""
    now = now or timezone.now()
    limit = limit or settings.MESSAGE_DISPATCH_BATCH
    with transaction.atomic():
        batches = {priority: _due_locked(limit).run(priority, now) for priority in PRIORITIES_BY_URGENCY}
        outcomes = _dispatch_locked([message for batch in batches.values() for message in batch], now=now)
    result = {}
    for priority, batch in batches.items():
        counts = result[priority] = {"taken": len(batch)}
        for message in batch:
            outcome = outcomes[message.pk]
            counts[outcome] = counts.get(outcome, 0) + 1
        for outcome, count in counts.items():
            if outcome != "taken":
                DISPATCHED.labels(priority=priority, outcome=outcome).inc(count)
    return result


def messages_dispatch_until_done(
    *, priority: str | None = None, seconds: float = DISPATCH_TASK_SECONDS
) -> dict[str, int]:
    """The dispatcher task's work. `priority` None (the together dispatcher, light load): one batch of each priority
    (`messages_dispatch_due_together`); a priority whose batch was full, or left messages deferred, is handed to a
    dispatcher of its own (`dispatch_hand_off`). A priority's own dispatcher: batches of due messages of it until none
    is left or `seconds` have passed (then it signals again, so the rest is taken by the next task). Afterwards, one
    delayed signal for the earliest message not yet due (backing off, or scheduled; of any priority for the together
    dispatcher), so that no message depends on a signal sent long ago."""
    dispatch_signal_received(priority=priority)
    if priority is None:
        totals: dict[str, int] = {}
        for each, counts in messages_dispatch_due_together().items():
            for outcome, count in counts.items():
                totals[outcome] = totals.get(outcome, 0) + count
            if counts["taken"] >= settings.MESSAGE_DISPATCH_BATCH or counts.get("deferred"):
                dispatch_hand_off(priority=each)
        following = _NEXT_DUE_ANY.run(timezone.now())
    else:
        started = time.monotonic()
        totals = {}
        while True:
            counts = messages_dispatch_due(priority=priority)
            for outcome, count in counts.items():
                totals[outcome] = totals.get(outcome, 0) + count
            if counts["taken"] < settings.MESSAGE_DISPATCH_BATCH and not counts.get("deferred"):
                break
            if time.monotonic() - started >= seconds:
                dispatch_signal(priority=priority, force=True)
                return totals
        following = _NEXT_DUE.run(priority, timezone.now())
    if following:
        dispatch_signal(
            priority=following[0].priority, countdown=(following[0].next_attempt_at - timezone.now()).total_seconds()
        )
    return totals


# The dispatcher's own reads, on every batch: built once per process on PostgreSQL (apps.core.compiled), for building
# them through the ORM cost more of a dispatch task's CPU than running them. The LIMIT is part of the text, so there is
# one statement per batch size (in practice one: MESSAGE_DISPATCH_BATCH).
_DUE_LOCKED: dict[int, CompiledSelect] = {}


def _due_locked(limit: int) -> CompiledSelect:
    """Up to `limit` due queued messages of a priority, earliest first, locked (`FOR UPDATE SKIP LOCKED`, so
    dispatchers in several processes never take the same ones). Arguments: priority, now."""
    if limit not in _DUE_LOCKED:
        _DUE_LOCKED[limit] = CompiledSelect(
            lambda priority, now: (
                Message.objects.select_for_update(skip_locked=True)
                .filter(status=MessageStatus.QUEUED, priority=priority, next_attempt_at__lte=now)
                .order_by("next_attempt_at")[:limit]
            )
        )
    return _DUE_LOCKED[limit]


# The earliest queued message of a priority not yet due (backing off, or scheduled): its time only.
_NEXT_DUE = CompiledSelect(
    lambda priority, now: (
        Message.objects.filter(status=MessageStatus.QUEUED, priority=priority, next_attempt_at__gt=now)
        .order_by("next_attempt_at")
        .only("pk", "priority", "next_attempt_at")[:1]
    )
)
# The same, of any priority (the together dispatcher's).
_NEXT_DUE_ANY = CompiledSelect(
    lambda now: (
        Message.objects.filter(status=MessageStatus.QUEUED, next_attempt_at__gt=now)
        .order_by("next_attempt_at")
        .only("pk", "priority", "next_attempt_at")[:1]
    )
)
# The providers that already had each message (a message is never offered twice to one provider).
_EARLIER_JOBS = CompiledSelect(
    lambda message_ids: Job.objects.filter(ids_in("message_id", message_ids)).only("pk", "message", "provider")
)


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
    for job in _EARLIER_JOBS.run([message.pk for message in live]):
        excluded[job.message_id].add(job.provider_id)
    holders = provider_ids_holding_hashes(message.to_hash for message in live)
    requests = [
        MatchRequest(
            recipient_carrier=message.carrier,
            exclude_provider_ids=frozenset(excluded[message.pk] | holders.get(message.to_hash, set())),
            priority=message.priority,
            client_ref=str(message.organization_id),
            recipient=message.to_hash,  # sticky senders are remembered by the number's keyed hash, never the number
            allow_cross_carrier=cross_carrier_override(message) or _cross_carrier_allowed(message, now=now),
            route=match_route(message),
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
        jobs_insert(jobs)  # one prepared statement, the rows as one JSON document
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
        enqueue_dispatch(priority=message.priority)
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
        enqueue_dispatch(priority=priority, countdown=(at - now).total_seconds())


# How many of the soonest-retrying waiting messages a job end looks at to choose whom to wake (most urgent first):
# the read walks `message_queued_due_idx` in order and stops there, whatever the size of the backlog.
WAKE_CANDIDATES = 50


def messages_wake(
    *, carrier: str | None, count: int = 1, now: datetime | None = None, candidates: list[tuple] | None = None
) -> int:
    """Capacity came back (a lease ended): bring the next `count` messages waiting for capacity forward — on
    `carrier` (None: any), the most urgent priority among the WAKE_CANDIDATES soonest to retry — instead of letting
    them sleep out their backoff. One bounded read of the queued index, one conditional UPDATE and a signal;
    nothing when none waits. Messages waiting for their scheduled time (never tried) are not touched. Runs in the
    caller's transaction, on the delivery-report path: its cost must not grow with the backlog.

    `candidates`: the read's rows (id, priority), if the caller made it already — in the statement that ended the
    leases (`wake_candidates_read`), at the same `now`."""
    now = now or timezone.now()
    if candidates is None:
        parameters = {"now": connection.ops.adapt_datetimefield_value(now), "limit": WAKE_CANDIDATES}
        with prepared_cursor() as cursor:  # one of two constant texts: planned once per connection
            if carrier:
                cursor.execute(_WAKE_CANDIDATES_OF_CARRIER, {**parameters, "carrier": carrier})
            else:
                cursor.execute(_WAKE_CANDIDATES_ANY, parameters)
            candidates = cursor.fetchall()
    if not candidates:
        return 0
    woken = sorted(candidates, key=lambda candidate: URGENCY[candidate[1]])[:count]  # stable: soonest first
    moved = Message.objects.filter(
        pk__in=[pk for pk, _ in woken], status=MessageStatus.QUEUED, next_attempt_at__gt=now
    ).update(next_attempt_at=now)
    for priority in {priority for _, priority in woken}:
        enqueue_dispatch(priority=priority)
    return moved


# The read of `messages_wake`, on every delivery report: as SQL, prepared, for its cost is mostly the ORM's building
# it. The queued status is a literal, not a parameter, so that the plan (generic, once prepared) can use the partial
# index of queued messages (`message_queued_due_idx`).
_WAKE_CANDIDATES = (
    "SELECT id, priority FROM messaging_message"  # noqa: S608 - constant SQL and placeholders only
    f" WHERE status = '{MessageStatus.QUEUED.value}' AND next_attempt_at > %(now)s AND dispatch_tries > 0{{carrier}}"
    " ORDER BY next_attempt_at LIMIT %(limit)s"
)
_WAKE_CANDIDATES_ANY = _WAKE_CANDIDATES.format(carrier="")
_WAKE_CANDIDATES_OF_CARRIER = _WAKE_CANDIDATES.format(carrier=" AND carrier = %(carrier)s")


# The same read with `%s` parameters (a statement of other texts cannot mix them with named ones), and their names.
_WAKE_POSITIONAL = {
    bool(carrier): (re.sub(r"%\(\w+\)s", "%s", text), re.findall(r"%\((\w+)\)s", text))
    for carrier, text in (("", _WAKE_CANDIDATES_ANY), ("x", _WAKE_CANDIDATES_OF_CARRIER))
}


def wake_candidates_read(*, carrier: str | None, now: datetime) -> tuple[str, list]:
    """The read of `messages_wake` as a text with `%s` parameters and its parameters, for a statement that carries
    it after its own work (`jobs_transition_then`): its rows are `messages_wake`'s `candidates`."""
    text, names = _WAKE_POSITIONAL[bool(carrier)]
    values = {"now": connection.ops.adapt_datetimefield_value(now), "limit": WAKE_CANDIDATES, "carrier": carrier}
    return text, [values[name] for name in names]


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
