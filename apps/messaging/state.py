"""The message state machine: the one place a message's status changes.

    held ──approve──▶ queued ──match──▶ assigned ──phone──▶ sent ──phone──▶ delivered
      │                 ▲ │               │  │                │
      │                 │ └─▶ cancelled ◀─┘  │                │
      │                 └──lease expired / retryable failure──┘
      └─▶ rejected          queued/assigned/sent ─▶ failed | expired   (dead letters; staff may requeue)
                            assigned ─▶ unknown   (the phone took it and never said whether it sent it: final, never
                                                   requeued, since a second phone could send it twice)

Every change is a conditional update on the status the caller saw, so two workers can never both move the same
message: the loser gets False and does nothing (every task stays safe to run twice).
"""

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Case, DateTimeField, F, Value, When
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core.compiled import CompiledUpdate, ids_in
from apps.core.events import publish
from apps.messaging.charging import charge_on_delivery, charge_settle, charges_settle
from apps.messaging.choices import MessageStatus as S
from apps.messaging.errors import IllegalTransition
from apps.messaging.events import MessagesStatusChanged, MessageStatusChanged
from apps.messaging.metrics import MESSAGES_FINISHED
from apps.messaging.models import Job, Message
from apps.tokens.services import transfers_gathered

TRANSITIONS: dict[str, frozenset[str]] = {
    S.HELD: frozenset({S.QUEUED, S.REJECTED, S.CANCELLED, S.EXPIRED}),
    S.QUEUED: frozenset({S.ASSIGNED, S.CANCELLED, S.EXPIRED, S.FAILED}),
    S.ASSIGNED: frozenset({S.QUEUED, S.SENT, S.DELIVERED, S.CANCELLED, S.FAILED, S.EXPIRED, S.UNKNOWN}),
    S.SENT: frozenset({S.DELIVERED, S.QUEUED, S.FAILED, S.EXPIRED}),
    S.DELIVERED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    # Dead letters: staff can put them back in the queue.
    S.FAILED: frozenset({S.QUEUED}),
    S.EXPIRED: frozenset({S.QUEUED}),
    # Not a dead letter: requeueing it could send the SMS twice.
    S.UNKNOWN: frozenset(),
}
FINAL = frozenset({S.DELIVERED, S.REJECTED, S.CANCELLED, S.FAILED, S.EXPIRED, S.UNKNOWN})
# The moment each status is reached is kept on the message.
TIMESTAMP_FIELDS = {S.ASSIGNED: "assigned_at", S.SENT: "sent_at", S.DELIVERED: "delivered_at"}
# Statuses the client is told about: a move to one publishes MessageStatusChanged (apps.delivery.webhooks subscribes
# and maps each to its webhook event type).
CLIENT_NOTIFIED = frozenset({S.SENT, S.DELIVERED, S.FAILED, S.EXPIRED, S.REJECTED, S.UNKNOWN})


def is_legal(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def _changes(current: str, to: str, reason: str, fields: dict[str, Any]) -> dict[str, Any]:
    """What a move from `current` to `to` writes: the status, its reason and moment, and `fields`."""
    now = timezone.now()
    changes: dict[str, Any] = {"status": to, "status_reason": reason, "updated_at": now, **fields}
    if to in TIMESTAMP_FIELDS:
        changes.setdefault(TIMESTAMP_FIELDS[to], now)
    if to in FINAL:
        changes.setdefault("finished_at", now)
    elif current in FINAL:
        changes["finished_at"] = None
    return changes


def _settles(
    message: Message, to: str, fields: dict[str, Any], *, segments_sent: int | None, cross_carrier: bool | None
) -> bool:
    """Whether the move of `message` to `to` settles its PPT hold; a delivery's charge is added to `fields`."""
    settles = bool(message.price_held) and to in FINAL and message.status not in FINAL
    if settles and to == S.DELIVERED:
        fields["price_charged"] = charge_on_delivery(message, segments_sent=segments_sent, cross_carrier=cross_carrier)
    return settles


def _check_settle_later(to: str, settle_later: bool) -> None:
    # Only a delivery's capture waits for a settle step: a void (any other final move) books at once, as ever.
    if settle_later and to != S.DELIVERED:
        raise ValueError(f"Only a delivery settles later, not a move to {to}.")


def _count_finished(messages: list[Message], to: str) -> None:
    """Count the moves to a final status on /metrics once they are committed (a rolled-back move never happened)."""
    if to in FINAL and messages:
        carriers = [message.carrier for message in messages]

        def count() -> None:
            for carrier in carriers:
                MESSAGES_FINISHED.labels(carrier=carrier, status=to).inc()

        transaction.on_commit(count)


def message_transition(
    *,
    message: Message,
    to: str,
    reason: str = "",
    actor: Any = None,
    system_actor: str = "system",
    audit: bool = False,
    audit_note: str = "",
    segments_sent: int | None = None,
    cross_carrier: bool | None = None,
    delivering_job: Job | None = None,
    settle_later: bool = False,
    **fields: Any,
) -> bool:
    """Move `message` from the status it has (as loaded) to `to`, setting `fields` in the same update.

    Raises IllegalTransition for a move the table does not allow; returns False (changing nothing) if another
    process moved the message first. Runs in the caller's transaction. Staff actions pass `audit=True` (and their
    reason in words as `audit_note`); the system's routine moves are recorded on the message and its jobs instead of
    in the audit log. A move to a status in CLIENT_NOTIFIED publishes `MessageStatusChanged` in this transaction
    (delivery stores the client's webhook event then, so it commits or rolls back with the move).

    A move that makes a message with a PPT hold final settles the hold in the same transaction
    (`apps.messaging.charging`): delivered posts the route taken (`cross_carrier`, the delivering job's) × the
    `segments_sent` the phone reported (all when None), anything else voids it. Only the process whose conditional
    update moved the message settles, so a hold settles exactly once however the final moves race.
    `delivering_job`: a delivery's job when the caller holds it, handed to the event (`MessageStatusChanged.jobs`).
    `settle_later`: a delivery whose hold is captured and reward booked later, by the delivery's settle step
    (`services.settling.deliveries_settle`): the charge is computed and stored now, nothing booked.
    """
    current = message.status
    if not is_legal(current, to):
        raise IllegalTransition(details={"from": current, "to": to})
    _check_settle_later(to, settle_later)
    # The settlement and what the event's subscribers book (a delivery's reward) go to the ledger as one batch.
    with transfers_gathered():
        return _message_transition(
            message=message,
            to=to,
            current=current,
            reason=reason,
            actor=actor,
            system_actor=system_actor,
            audit=audit,
            audit_note=audit_note,
            segments_sent=segments_sent,
            cross_carrier=cross_carrier,
            delivering_job=delivering_job,
            settle_later=settle_later,
            fields=fields,
        )


def _message_transition(
    *,
    message: Message,
    to: str,
    current: str,
    reason: str,
    actor: Any,
    system_actor: str,
    audit: bool,
    audit_note: str,
    segments_sent: int | None,
    cross_carrier: bool | None,
    delivering_job: Job | None,
    settle_later: bool,
    fields: dict[str, Any],
) -> bool:
    settles = _settles(message, to, fields, segments_sent=segments_sent, cross_carrier=cross_carrier)
    settles = settles and not settle_later
    changes = _changes(current, to, reason, fields)
    # The move and its settlement commit together. No savepoint: nothing here recovers from a failure inside (a
    # refused settlement or a failed statement must undo the caller's work too), and a delivery report moves its
    # message inside the report's transaction, where a savepoint would cost two round trips for nothing.
    with transaction.atomic(savepoint=False) if settles else nullcontext():
        updated = _MESSAGE_MOVE.run(changes, message.pk, current)
        if updated != 1:
            return False
        if settles:
            charge_settle(message, status=to, charged=changes.get("price_charged"))
    for name, value in changes.items():
        if not hasattr(value, "resolve_expression"):
            setattr(message, name, value)
    if any(isinstance(value, F) or hasattr(value, "resolve_expression") for value in changes.values()):
        message.refresh_from_db(
            fields=[name for name, value in changes.items() if hasattr(value, "resolve_expression")]
        )
    if audit:
        audit_record(
            actor=actor,
            action=f"message.{to}",
            target=message,
            before={"status": current},
            after={"status": to, "reason": reason, **({"note": audit_note} if audit_note else {})},
            system_actor=system_actor,
        )
    if to in CLIENT_NOTIFIED:
        jobs = {message.pk: delivering_job} if delivering_job is not None else None
        publish(MessageStatusChanged(message=message, status=to, jobs=jobs, settle_later=settle_later))
    _count_finished([message], to)
    return True


# The moves' UPDATEs, built once per process on PostgreSQL for each set of columns (apps.core.compiled): a delivery
# report moves its message with the first, every dispatch batch its messages with the second.
_MESSAGE_MOVE = CompiledUpdate(lambda pk, status: Message.objects.filter(pk=pk, status=status))
_MESSAGES_MOVE = CompiledUpdate(lambda ids, status: Message.objects.filter(ids_in("pk", ids), status=status))


def messages_transition(*, messages: list[Message], to: str, reason: str = "", **fields: Any) -> int:
    """The bulk form of `message_transition`, for the dispatcher: move `messages`, which all have the same status
    and whose rows the caller holds locked (`select_for_update`), to `to` in one UPDATE, setting `fields` (plain
    values: expressions would have to be read back per message). Returns how many moved; the caller holding the locks
    expects all of them, and anything less means a caller broke that rule.

    Only for routine system moves: not for staff actions (audited), statuses the client is told about (each
    publishes an event) nor final moves of messages holding PPT (each settles its hold): those go through
    `message_transition` one by one.
    """
    if not messages:
        return 0
    current = messages[0].status
    if any(message.status != current for message in messages):
        raise ValueError("messages_transition moves messages that all have the same status.")
    if not is_legal(current, to):
        raise IllegalTransition(details={"from": current, "to": to})
    if to in CLIENT_NOTIFIED:
        raise ValueError(f"A move to {to} notifies the client: use message_transition.")
    if to in FINAL and any(message.price_held for message in messages):
        raise ValueError(f"A move to {to} settles the messages' PPT holds: use message_transition.")
    if any(hasattr(value, "resolve_expression") for value in fields.values()):
        raise ValueError("messages_transition takes plain values, not expressions.")
    changes = _changes(current, to, reason, fields)
    updated = _MESSAGES_MOVE.run(changes, [message.pk for message in messages], current)
    if updated == len(messages):
        for message in messages:
            for name, value in changes.items():
                setattr(message, name, value)
        _count_finished(messages, to)
    return updated


def messages_sent(*, messages: list[Message], sent_at: Mapping[int, datetime]) -> list[Message]:
    """Move assigned `messages` to sent, each with its own `sent_at[message id]` (when its phone sent it), in one
    UPDATE, and tell each one's client (`MessageStatusChanged`, as `message_transition` does). Returns those that
    moved. Runs in the caller's transaction.

    The rows still assigned are locked first (one query), so the UPDATE moves exactly those, and a message another
    process moved meanwhile (a client's cancellation) is left alone, as the conditional update of
    `message_transition` would. A move to sent is not final: no PPT hold settles here."""
    if not messages:
        return []
    ids = [message.pk for message in messages]
    locked = Message.objects.select_for_update().filter(pk__in=ids, status=S.ASSIGNED).order_by("pk")
    still_assigned = set(locked.values_list("pk", flat=True))
    moving = [message for message in messages if message.pk in still_assigned]
    if not moving:
        return []
    changes = _changes(S.ASSIGNED, S.SENT, "", {})
    whens = [When(pk=message.pk, then=Value(sent_at[message.pk])) for message in moving]
    changes["sent_at"] = Case(*whens, output_field=DateTimeField())
    Message.objects.filter(pk__in=[message.pk for message in moving], status=S.ASSIGNED).update(**changes)
    for message in moving:
        for name, value in changes.items():
            setattr(message, name, value)
        message.sent_at = sent_at[message.pk]
    for message in moving:
        publish(MessageStatusChanged(message=message, status=S.SENT))
    return moving


@dataclass(frozen=True, slots=True)
class Move:
    """One message's part of `messages_transition_each`: the reason and fields (plain values) of its move, and for a
    delivery what `message_transition` takes to charge it."""

    message: Message
    reason: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    segments_sent: int | None = None
    cross_carrier: bool | None = None
    # A delivery's job, when the mover holds it (with its SIM, message and provider): handed to the event's
    # subscribers, which then read nothing again (see `MessageStatusChanged.jobs`).
    delivering_job: Job | None = None
    # A delivery settled later by the delivery's settle step (see `message_transition`).
    settle_later: bool = False


def messages_transition_each(*, moves: Sequence[Move], to: str) -> list[Message]:
    """`message_transition` for many messages at once, each with its own reason and fields (a phone's batch of
    delivery reports): the same legality, settlement and events, in a number of queries that does not grow with the
    batch. Returns the messages that moved. Runs in the caller's transaction. Only for the system's routine moves
    (no audit).

    The rows still in the status each message was loaded with are locked first (one query, in id order), so the
    UPDATE moves exactly those, and a message another process moved meanwhile is left alone, as the conditional
    update of `message_transition` would leave it. Then, for those that moved: their PPT holds settled by one ledger
    batch (`charges_settle`; only this process moved them, so each settles once), and one `MessagesStatusChanged`
    for them all when the client hears about `to` (its subscribers store the webhook events and book the rewards,
    in this transaction). A single move is `message_transition` itself (its conditional update needs no lock, and
    it publishes the one-message event). The moves are all `settle_later` or none."""
    for move in moves:
        if not is_legal(move.message.status, to):
            raise IllegalTransition(details={"from": move.message.status, "to": to})
        _check_settle_later(to, move.settle_later)
    if len({move.settle_later for move in moves}) > 1:
        raise ValueError("messages_transition_each moves settle now or later all together.")
    if not moves:
        return []
    if len(moves) == 1:  # one message: its conditional update is enough, no lock needed
        (move,) = moves
        moved = message_transition(
            message=move.message,
            to=to,
            reason=move.reason,
            segments_sent=move.segments_sent,
            cross_carrier=move.cross_carrier,
            delivering_job=move.delivering_job,
            settle_later=move.settle_later,
            **move.fields,
        )
        return [move.message] if moved else []
    with transfers_gathered():  # the holds settled and the rewards booked in one ledger batch
        return _messages_transition_each(moves=moves, to=to)


def _messages_transition_each(*, moves: Sequence[Move], to: str) -> list[Message]:
    loaded = {move.message.pk: move.message.status for move in moves}
    locked = Message.objects.select_for_update().filter(pk__in=list(loaded)).order_by("pk")
    still = {pk for pk, status in locked.values_list("pk", "status") if loaded[pk] == status}
    moving = [move for move in moves if move.message.pk in still]
    if not moving:
        return []
    changes: dict[int, dict[str, Any]] = {}
    settling: list[Message] = []
    for move in moving:
        fields = dict(move.fields)
        settles = _settles(move.message, to, fields, segments_sent=move.segments_sent, cross_carrier=move.cross_carrier)
        if settles and not move.settle_later:
            settling.append(move.message)
        changes[move.message.pk] = _changes(move.message.status, to, move.reason, fields)
    if any(hasattr(value, "resolve_expression") for each in changes.values() for value in each.values()):
        raise ValueError("messages_transition_each takes plain values, not expressions.")
    names = {name for each in changes.values() for name in each}
    columns = {
        name: Case(
            *[When(pk=pk, then=Value(each[name])) for pk, each in changes.items() if name in each],
            default=F(name),
            output_field=Message._meta.get_field(name),
        )
        for name in names
    }
    updated = Message.objects.filter(pk__in=list(changes), status__in=set(loaded.values())).update(**columns)
    if updated != len(changes):  # the rows are locked: anything else is a bug, and the transaction rolls back
        raise RuntimeError(f"messages_transition_each moved {updated} of {len(changes)} locked messages")
    if settling:
        charges_settle([(message, to, changes[message.pk].get("price_charged")) for message in settling])
    messages = [move.message for move in moving]
    for message in messages:
        for name, value in changes[message.pk].items():
            setattr(message, name, value)
    if to in CLIENT_NOTIFIED:
        jobs = {move.message.pk: move.delivering_job for move in moving if move.delivering_job is not None}
        publish(
            MessagesStatusChanged(
                messages=messages,
                status=to,
                jobs=jobs if len(jobs) == len(moving) else None,
                settle_later=moving[0].settle_later,
            )
        )
    _count_finished(messages, to)
    return messages
