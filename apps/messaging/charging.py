"""What a message costs the client, booked on the PPT ledger: a hold when it is accepted, captured or released when
it ends.

- Accept (`charges_quote`, then `charges_book`, from `services.sending._store`): each message is quoted per segment
  (`apps.messaging.pricing`) at the dearest route it could take, and `price × segments` is held from the client
  organisation's PPT account as one pending transfer `charge:message:<id>` (reason `charge`, debit the client,
  credit platform revenue) in the transaction that inserts the message row. A single send on PostgreSQL inserts
  its row and books its hold in ONE statement in autocommit (`client_hold_create_with_row`: the row is inserted
  only if the bound check passes), so the client's account row is locked for that statement only and the send
  costs no BEGIN or COMMIT round trip. Sends of one client queue on that lock, which lasts through the COMMIT's WAL
  flush: it caps one client's held single sends at about one per (flush + statement), a few hundred a second on a
  busy disk; below that cap the ledger rows' CPU is what a held send costs more (benchmarks/RESULTS.md).
  Elsewhere (SQLite, or a caller's transaction) it inserts its row first and then books the hold in one statement
  (`client_hold_create`); refused, the row is rolled back with the transaction. A bulk request locks the
  account first and decides the batch against what it can spend (posted credits + credit limit − debits), so the
  messages that fit are accepted in order and the rest refused (402) before anything is inserted, then books all
  holds with one `transfers_create` call. Either way the database's CHECK on the account stays the last word.
- End (`charge_settle`, from `state.message_transition`, in the same transaction as the move): delivered posts
  `charge:message:<id>:post` — the route actually taken (the job's) × the segments the phone sent, at most the
  hold, the rest released; every other final status voids it (`charge:message:<id>:void`). The conditional status
  update lets one process make the final move, so a hold settles once; the ledger's unique keys make sure of it.
  A delivery report moves its message with `settle_later`: the charge is computed and stored with the move, and the
  post is booked a moment later with the other deliveries reported meanwhile, by the delivery's settle step
  (`services.settling.deliveries_settle`, at the stored `price_charged`).
- A message rejected at accept holds nothing; a held one (content review) holds at accept like a queued one.
- A dead letter staff put back in the queue is sent again without a new hold (its hold was released when it failed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from apps.core.events import publish
from apps.core.inserting import row_inserted
from apps.messaging.choices import MessageRoute, MessageStatus
from apps.messaging.events import BalanceLow
from apps.messaging.idempotency import key_row_with_message, key_written
from apps.messaging.inserting import Guard, GuardRefused, message_held_row
from apps.messaging.models import Message
from apps.messaging.pricing import quotes, sensitive_quote
from apps.tokens.choices import PlatformAccount, Reason, Result
from apps.tokens.services import (
    Hold,
    TransferSpec,
    client_hold_create,
    client_hold_create_with_row,
    client_spendable_lock,
    platform_account,
    transfers_book,
    transfers_create,
)

# Settling a hold a staff requeue already released: nothing left to book.
_ALREADY_SETTLED = frozenset({Result.PENDING_TRANSFER_ALREADY_VOIDED, Result.PENDING_TRANSFER_ALREADY_POSTED})


HOLD_PREFIX = "charge:message:"


def hold_id(message_id: int) -> str:
    return f"{HOLD_PREFIX}{message_id}"


@dataclass(frozen=True, slots=True)
class Reservation:
    """What `charges_reserve` decided: the client's account, the shortfall of each refused message (by position),
    and what the account can spend before and after the accepted holds."""

    account_id: int | None
    refused: dict[int, int]
    spendable_before: int
    spendable_after: int


def charges_quote(messages: Sequence[Message], *, now: datetime) -> None:
    """Set each unsaved message's quote (per segment on each route) and the amount to hold. One tariff call for the
    batch. A message rejected at accept is not quoted: it holds nothing."""
    billable = [message for message in messages if message.status != MessageStatus.REJECTED]
    if not billable:
        return
    answers = quotes({(message.priority, message.carrier) for message in billable}, now=now)
    for message in billable:
        quote = answers[(message.priority, message.carrier)]
        if message.route == MessageRoute.TRUSTED:
            quote = sensitive_quote(quote)
        message.price_on_net = quote.on_net
        message.price_cross_carrier = quote.cross_carrier
        message.price_held = quote.held_for(message.priority) * message.segments


def charges_book(
    messages: Sequence[Message],
    *,
    organization_id: int,
    threshold: int | None,
    insert: Callable[..., None],
    guard: Guard | None = None,
) -> dict[int, int]:
    """Insert the quoted messages (`insert(messages, write=None, guard=None)`, which calls `write` instead of
    its own INSERT when given one; a write the guard refused raises `GuardRefused`) and hold their prices, inside the
    caller's transaction (which must have a savepoint of its own: a refused single send rolls it back) — or, for one
    message on PostgreSQL, in autocommit. `guard`: the condition one message's row must meet
    (apps.messaging.inserting), carried by the statement that writes it. Returns the shortfall of each message
    refused for want of PPT, by position; those are not stored."""
    if len(messages) == 1 and messages[0].price_held:
        return _book_one(messages[0], organization_id=organization_id, threshold=threshold, insert=insert, guard=guard)
    reservation = charges_reserve(messages, organization_id=organization_id)
    refused = reservation.refused if reservation is not None else {}
    accepted = [message for position, message in enumerate(messages) if position not in refused]
    if accepted:
        insert(accepted, guard=guard)
        charges_hold(accepted, reservation=reservation, threshold=threshold)
    return refused


def _book_one(
    message: Message, *, organization_id: int, threshold: int | None, insert: Callable[..., None], guard: Guard | None
) -> dict[int, int]:
    """On PostgreSQL in autocommit: the row and its hold in one statement (`client_hold_create_with_row`), which
    commits both or neither. Otherwise the row first, then the hold in one statement: the client's account is
    locked from the hold to COMMIT only (a refusal, rare, costs an INSERT rolled back)."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        return _book_one_statement(
            message, organization_id=organization_id, threshold=threshold, insert=insert, guard=guard
        )
    insert([message], guard=guard)
    hold = client_hold_create(
        id=hold_id(message.pk),
        organization_id=organization_id,
        amount=message.price_held,
        credit_account_id=_revenue_account_id(),
        reason=Reason.CHARGE,
        message_id=message.pk,
    )
    if not hold.booked:
        transaction.set_rollback(True)
        message.pk = None
        return {0: hold.shortfall}
    after = hold.spendable_after
    _tell_if_low(message.organization_id, before=after + message.price_held, after=after, threshold=threshold)
    return {}


def _book_one_statement(
    message: Message, *, organization_id: int, threshold: int | None, insert: Callable[..., None], guard: Guard | None
) -> dict[int, int]:
    held: list[Hold] = []

    def write(messages: list[Message]) -> None:
        # A send with an Idempotency-Key writes the key's row in the same statement (apps.messaging.idempotency).
        key_row = key_row_with_message(messages[0])
        companion = (key_row.sql, key_row.params) if key_row is not None else None
        row = message_held_row(messages[0], id_prefix=HOLD_PREFIX, guard=guard, companion=companion)
        pk, hold = client_hold_create_with_row(
            row=row,
            organization_id=organization_id,
            amount=messages[0].price_held,
            credit_account_id=_revenue_account_id(),
            reason=Reason.CHARGE,
        )
        if hold is None:
            raise GuardRefused
        held.append(hold)
        if pk is not None:
            row_inserted(messages[0], pk)
            if key_row is not None:
                key_written(key_row, messages[0])

    insert([message], write=write, guard=guard)  # the caller's insert: it retries a taken verification code
    hold = held[-1]
    if not hold.booked:
        return {0: hold.shortfall}
    after = hold.spendable_after
    if _crossed(before=after + message.price_held, after=after, threshold=threshold):
        # Its own transaction, right after the hold committed: the balance.low webhook event and its deliveries are
        # stored together (a process killed in between misses this one notice; the balance itself is exact).
        with transaction.atomic():
            _tell_if_low(message.organization_id, before=after + message.price_held, after=after, threshold=threshold)
    return {}


def _crossed(*, before: int, after: int, threshold: int | None) -> bool:
    return bool(threshold) and after < threshold <= before  # type: ignore[operator]


def _tell_if_low(organization_id: int, *, before: int, after: int, threshold: int | None) -> None:
    """`BalanceLow`, once, when spendable PPT just fell under the client's threshold."""
    if _crossed(before=before, after=after, threshold=threshold):
        publish(BalanceLow(organization_id=organization_id, spendable=after, threshold=threshold))


def charges_reserve(messages: Sequence[Message], *, organization_id: int) -> Reservation | None:
    """Lock the client's PPT account and decide, in order, which messages' holds fit in what it can spend. None when
    nothing is to be held (free messages: no lock, no query). Call inside the transaction that then inserts the
    accepted messages and calls `charges_hold`."""
    if not any(message.price_held for message in messages):
        return None
    spendable = client_spendable_lock(organization_id=organization_id)
    left = spendable.spendable
    refused: dict[int, int] = {}
    for position, message in enumerate(messages):
        if not message.price_held:
            continue
        if message.price_held > left:
            refused[position] = message.price_held - max(left, 0)
        else:
            left -= message.price_held
    return Reservation(
        account_id=spendable.account_id, refused=refused, spendable_before=spendable.spendable, spendable_after=left
    )


def charges_hold(messages: Sequence[Message], *, reservation: Reservation | None, threshold: int | None) -> None:
    """Hold each inserted message's price (one `transfers_create` for them all), then tell the client, once, if its
    spendable PPT just fell under `threshold` (`BalanceLow`)."""
    held = [message for message in messages if message.price_held]
    if not held or reservation is None or reservation.account_id is None:
        return
    revenue_id = _revenue_account_id()
    specs = [
        TransferSpec(
            id=hold_id(message.pk),
            amount=message.price_held,
            debit_account_id=reservation.account_id,
            credit_account_id=revenue_id,
            reason=Reason.CHARGE,
            pending=True,
            message_id=message.pk,
        )
        for message in held
    ]
    results = transfers_create(specs)
    if any(result != Result.OK for result in results):
        # The account is locked and was read under the lock: a refusal here means the decision above was wrong.
        raise RuntimeError(f"message holds refused under the account lock: {set(results)}")
    _tell_if_low(
        held[0].organization_id,
        before=reservation.spendable_before,
        after=reservation.spendable_after,
        threshold=threshold,
    )


def charge_on_delivery(message: Message, *, segments_sent: int | None, cross_carrier: bool | None) -> int:
    """What a delivered message is charged: the route taken × the segments the phone sent (all of them when it did
    not say), never more than was held. An unknown route is charged at the hold's own per-segment price."""
    segments = min(segments_sent or message.segments, message.segments)
    if cross_carrier is None:
        return message.price_held * segments // message.segments
    per_segment = message.price_cross_carrier if cross_carrier else message.price_on_net
    return min(per_segment * segments, message.price_held)


def charge_settle(message: Message, *, status: str, charged: int | None) -> None:
    """Post (delivered, `charged` > 0) or void (any other final status) the message's hold. Runs inside the
    transaction of the status change that made the message final (`message_transition`)."""
    charges_settle([(message, status, charged)])


def charges_settle(settlements: Sequence[tuple[Message, str, int | None]]) -> None:
    """`charge_settle` for several messages (message, final status, charged) in one ledger batch: the bulk moves of
    `state.messages_transition_each`, inside their transaction."""
    specs = []
    for message, status, charged in settlements:
        hold = hold_id(message.pk)
        if status == MessageStatus.DELIVERED and charged:
            spec = TransferSpec(
                id=f"{hold}:post", post_pending_id=hold, amount=charged, reason=Reason.CHARGE, message_id=message.pk
            )
        else:
            spec = TransferSpec(id=f"{hold}:void", void_pending_id=hold, reason=Reason.CHARGE, message_id=message.pk)
        specs.append(spec)
    # In a move's `transfers_gathered` block (state.py) booked with the rewards of the same delivery, in one batch.
    transfers_book(specs, check=_settled_or_raise)


def _settled_or_raise(specs: Sequence[TransferSpec], results: list[str]) -> None:
    for spec, result in zip(specs, results, strict=True):
        if result not in (Result.OK, Result.EXISTS) and result not in _ALREADY_SETTLED:
            raise RuntimeError(f"settling {spec.post_pending_id or spec.void_pending_id} was refused: {result}")


_revenue: dict[str, Any] = {}


def _revenue_account_id() -> int:
    """Platform revenue's PPT account id. Remembered per process only where accounts outlive the process's view of
    them (production): in tests every test's rows roll back, accounts included."""
    if settings.BILLING_CACHE_SECONDS and "id" in _revenue:
        return _revenue["id"]
    account_id = platform_account(PlatformAccount.REVENUE).pk
    if settings.BILLING_CACHE_SECONDS:
        _revenue["id"] = account_id
    return account_id
