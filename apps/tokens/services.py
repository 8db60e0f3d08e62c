"""Writes to the PPT ledger: accounts, transfers (single, pending, post, void, linked chains), timeouts, roll-up.

How balances stay exact and fast
--------------------------------
Each account stores its four running totals (debits/credits × pending/posted), changed in the same database
transaction that inserts the transfers, so a balance is one row read and a transfer is never "half booked".
`transfers_create` takes a batch and works set-wise, in a fixed lock order that cannot deadlock:

1. the pending transfers a batch posts or voids are locked (`FOR UPDATE`, ordered by id);
2. the batch's ordinary accounts are locked (`FOR UPDATE`, ordered by id) and read with their totals;
3. the batch is decided in Python, transfer by transfer, against those locked totals (bounds, pending state,
   repeated ids, linked chains applied all or none), exactly as TigerBeetle's state machine does;
4. what was decided is written with one INSERT for the transfers (`ON CONFLICT DO NOTHING`: a concurrent writer of
   the same id makes the whole batch start over, and then it answers `exists`), one UPDATE for the pending
   transfers resolved, and one UPDATE of all accounts' totals with the deltas aggregated per account.

The database keeps the invariants even if this code is wrong: CHECK constraints refuse an amount ≤ 0, a bound
passed, a negative total; the primary key applies an id once; a unique key lets a pending transfer be resolved
once; on PostgreSQL composite foreign keys keep both accounts on the transfer's ledger and a trigger makes
transfers immutable. Every transfer carries its amount on both sides, so per ledger debits = credits holds for the
transfers by construction, and for the stored totals because they only ever change by a transfer's two sides in
the transfer's own transaction; `manage.py ledger_check` recomputes everything from the transfers to prove it.

Hot accounts
------------
Issuance, revenue and rewards take part in nearly every transfer. Locking their row would serialise all writers on
it, so they are unbounded (a CHECK constraint says so) and never locked: on PostgreSQL a batch appends one
`HotBalanceDelta` row per hot account it touches (inserts do not contend), and `hot_balances_roll_up` (beat, every
few seconds) moves the queued deltas into the account's totals in one DELETE … RETURNING + UPDATE statement, so a
delta is counted exactly once. A hot account's balance is its totals plus its queued deltas
(`selectors.account_balances`). On SQLite the whole database is one writer at a time anyway, so hot accounts are
updated in place and the roll-up has nothing to do; the decisions, and so the results, are the same code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.utils import IntegrityError, OperationalError
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core.errors import ValidationFailed
from apps.tokens.choices import (
    HOT_PLATFORM_ACCOUNTS,
    LEDGER_IDS,
    LEDGER_SCALES,
    AdjustmentStatus,
    LedgerCode,
    OwnerKind,
    PlatformAccount,
    Reason,
    Result,
    TransferKind,
    TransferStatus,
)
from apps.tokens.errors import AdjustmentNotPending, FourEyesRequired, TransferRefused
from apps.tokens.models import TRANSFER_ID_MAX_LENGTH, Account, Adjustment, Ledger, Transfer

MAX_AMOUNT = 2**63 - 1
# How often a batch starts over after PostgreSQL chose it as a deadlock's victim. (Races lost on an id are bounded
# by the batch's size instead: see `transfers_create`.)
MAX_DEADLOCK_RETRIES = 5
_REASONS = frozenset(Reason.values)
_TRANSFER_COLUMNS = (
    "id",
    "ledger_id",
    "debit_account_id",
    "credit_account_id",
    "amount",
    "kind",
    "status",
    "pending_id",
    "timeout_at",
    "linked",
    "reason",
    "message_id",
    "job_id",
    "payment_ref",
    "payout_ref",
    "memo",
    "created_at",
    "resolved_at",
)
# How each column is read back from the JSON array a batch is sent as (PostgreSQL): `e->>n` cast to its type.
_PG_CASTS = (
    "", "::smallint", "::bigint", "::bigint", "::bigint", "", "", "", "::timestamptz", "::boolean", "", "::bigint",
    "::bigint", "", "", "", "::timestamptz", "::timestamptz",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class TransferSpec:
    """One transfer asked of `transfers_create`. `id` is the idempotency key: name it after what it books
    (`charge:message:123`, `reward:job:9`), never a random value, so a retry cannot book twice.

    - single (default): `debit_account_id` → `credit_account_id`, `amount`, posted at once;
    - `pending=True`: reserved until posted, voided, or `timeout_seconds` pass (0: no timeout);
    - `post_pending_id`: posts that pending transfer, `amount` of it (None: all of it), releasing the rest;
    - `void_pending_id`: releases that pending transfer.
    `linked=True` chains it with the next transfer of the batch: the chain applies all or none.
    `ledger` defaults to PPT for new transfers; a post or void takes its pending transfer's ledger and accounts.
    """

    id: str
    amount: int | None = None
    debit_account_id: int | None = None
    credit_account_id: int | None = None
    ledger: str | None = None
    reason: str = Reason.TRANSFER
    pending: bool = False
    timeout_seconds: int = 0
    post_pending_id: str | None = None
    void_pending_id: str | None = None
    linked: bool = False
    message_id: int | None = None
    job_id: int | None = None
    payment_ref: str = ""
    payout_ref: str = ""
    memo: str = ""

    @property
    def kind(self) -> str:
        if self.post_pending_id is not None:
            return TransferKind.POST
        if self.void_pending_id is not None:
            return TransferKind.VOID
        return TransferKind.PENDING if self.pending else TransferKind.SINGLE

    @property
    def pending_id(self) -> str | None:
        return self.post_pending_id if self.post_pending_id is not None else self.void_pending_id


# --- accounts -----------------------------------------------------------------------------------------------------


def ledger_get(code: str) -> Ledger:
    """The ledger row of a currency code (PPT, KHR, USD), created if missing (its id is fixed in `LEDGER_IDS`)."""
    if code not in LEDGER_IDS:
        raise TransferRefused(code=Result.LEDGER_INVALID, details={"ledger": code})
    ledger, _ = Ledger.objects.get_or_create(
        pk=LEDGER_IDS[code], defaults={"code": code, "name": LedgerCode(code).label, "scale": LEDGER_SCALES[code]}
    )
    return ledger


def account_open(
    *,
    ledger: str = LedgerCode.PPT,
    organization: Any = None,
    provider: Any = None,
    platform: str = "",
) -> Account:
    """The account of a client organisation, a provider, or a platform account on `ledger`, created on first use.

    Client and provider accounts cannot go below zero (debits bounded by credits). Issuance, revenue and rewards
    are hot (see the module docstring); every platform account is unbounded: issuance goes negative by design.
    Safe to call concurrently: the unique keys decide, and the loser reads the winner's row.
    """
    ledger_row = ledger_get(ledger)
    if organization is not None:
        lookup: dict[str, Any] = {"organization": organization}
        defaults: dict[str, Any] = {"owner_kind": OwnerKind.CLIENT, "debits_must_not_exceed_credits": True}
    elif provider is not None:
        lookup = {"provider": provider}
        defaults = {"owner_kind": OwnerKind.PROVIDER, "debits_must_not_exceed_credits": True}
    elif platform in PlatformAccount.values:
        lookup = {"platform": platform}
        defaults = {"owner_kind": OwnerKind.PLATFORM, "is_hot": platform in HOT_PLATFORM_ACCOUNTS}
    else:
        raise ValueError("account_open needs an organization, a provider or a platform account name")
    account = Account.objects.filter(ledger=ledger_row, **lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(ledger=ledger_row, **lookup, **defaults)
    except IntegrityError:
        return Account.objects.get(ledger=ledger_row, **lookup)


def platform_account(name: str, *, ledger: str = LedgerCode.PPT) -> Account:
    """A named platform account (`PlatformAccount`) on `ledger`."""
    return account_open(ledger=ledger, platform=name)


# --- transfers ----------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Account:
    id: int
    ledger_id: int
    hot: bool
    debits_bounded: bool
    credits_bounded: bool
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0


@dataclass(slots=True)
class _Pending:
    id: str
    ledger_id: int
    debit_account_id: int
    credit_account_id: int
    amount: int
    kind: str
    status: str
    timeout_at: datetime | None


@dataclass(slots=True)
class _Plan:
    """What a batch will write, built transfer by transfer; a failing linked chain is undone from `undo`."""

    accounts: dict[int, _Account]
    pendings: dict[str, _Pending]
    rows: dict[str, tuple] = field(default_factory=dict)
    resolved: dict[str, str] = field(default_factory=dict)
    deltas: dict[int, list[int]] = field(default_factory=dict)


def transfers_create(transfers: Sequence[TransferSpec], *, now: datetime | None = None) -> list[str]:
    """Apply a batch of transfers; one `Result` per transfer, in order (`ok`, `exists`, `exceeds_credits`, …).

    Nothing is half-booked: a refused transfer changes nothing, a linked chain applies all or none, and the batch's
    writes commit together. Safe to call twice: a repeated id answers `exists` (same fields) or
    `exists_with_different_fields`, and changes nothing. Takes the row locks described in the module docstring;
    call it inside or outside a transaction.
    """
    if not transfers:
        return []
    now = now or timezone.now()
    lost_races = deadlocks = 0
    while True:
        try:
            with transaction.atomic():
                return _create_batch(transfers, now)
        except _LostRace:
            # A concurrent batch committed one of this batch's ids first. The retry reads that id as existing and
            # never inserts it again, so each lost race settles at least one id for good: a batch can lose at most
            # once per transfer it holds, however many writers compete (a fixed number of tries starved a batch
            # that shared its ids with seven busy writers).
            lost_races += 1
            if lost_races > len(transfers):
                raise
        except OperationalError as error:
            deadlocks += 1
            if not _is_deadlock(error) or deadlocks > MAX_DEADLOCK_RETRIES:
                raise


def _is_deadlock(error: OperationalError) -> bool:
    # PostgreSQL's deadlock_detected: its victim is rolled back to the savepoint and tried again.
    return getattr(error.__cause__, "sqlstate", None) == "40P01"


class _LostRace(Exception):
    """A concurrent transaction committed one of the batch's ids first: start the batch over."""


def _create_batch(specs: Sequence[TransferSpec], now: datetime) -> list[str]:
    ledgers: dict[str, int] = LEDGER_IDS
    results: list[str | None] = [_static_check(spec, ledgers) for spec in specs]
    _close_open_chain(specs, results)

    candidates = [index for index, result in enumerate(results) if result is None]
    ids = list({specs[index].id for index in candidates})
    pending_ids = sorted({specs[i].pending_id for i in candidates if specs[i].pending_id is not None})
    pendings = _lock_pendings(pending_ids)
    account_ids = {
        account_id
        for index in candidates
        for account_id in (specs[index].debit_account_id, specs[index].credit_account_id)
        if account_id is not None
    }
    for pending in pendings.values():
        account_ids.update((pending.debit_account_id, pending.credit_account_id))
    existing, accounts = _read_and_lock(ids, account_ids)
    plan = _Plan(accounts=accounts, pendings=pendings)

    chain: list[tuple[int, list]] = []  # (index, undo entries) of the open linked chain
    chain_failed = False
    for index, spec in enumerate(specs):
        if results[index] is None and not chain_failed:
            undo: list = []
            results[index] = _decide(spec, plan, existing, ledgers, now, undo)
            if spec.linked or chain:
                chain.append((index, undo))
        elif spec.linked or chain:
            chain.append((index, []))
        if results[index] not in (None, Result.OK) and (spec.linked or chain):
            chain_failed = True
        if not spec.linked and chain:
            if chain_failed:
                _fail_chain(chain, results, plan)
            chain, chain_failed = [], False
    _write(plan, now)
    return [result or Result.LINKED_EVENT_FAILED for result in results]


def _static_check(spec: TransferSpec, ledgers: dict[str, int]) -> str | None:
    """What can be refused from the transfer alone, before any row is read."""
    if not isinstance(spec.id, str) or not spec.id or len(spec.id) > TRANSFER_ID_MAX_LENGTH:
        return Result.ID_INVALID
    kind = spec.kind
    if spec.amount is not None and (type(spec.amount) is not int or not 0 < spec.amount <= MAX_AMOUNT):
        return Result.AMOUNT_INVALID
    if spec.amount is None and kind in (TransferKind.SINGLE, TransferKind.PENDING):
        return Result.AMOUNT_INVALID
    if spec.reason not in _REASONS:
        return Result.REASON_INVALID
    if spec.ledger is not None and spec.ledger not in ledgers:
        return Result.LEDGER_INVALID
    if spec.post_pending_id is not None and (spec.void_pending_id is not None or spec.pending):
        return Result.FLAGS_ARE_MUTUALLY_EXCLUSIVE
    if spec.void_pending_id is not None and spec.pending:
        return Result.FLAGS_ARE_MUTUALLY_EXCLUSIVE
    if type(spec.timeout_seconds) is not int or spec.timeout_seconds < 0 or (spec.timeout_seconds and not spec.pending):
        return Result.TIMEOUT_INVALID
    if kind in (TransferKind.SINGLE, TransferKind.PENDING):
        if spec.debit_account_id is None or spec.credit_account_id is None:
            return Result.ACCOUNT_MISSING
        if spec.debit_account_id == spec.credit_account_id:
            return Result.ACCOUNTS_MUST_BE_DIFFERENT
    return None


def _close_open_chain(specs: Sequence[TransferSpec], results: list[str | None]) -> None:
    """A batch whose last transfer is linked leaves its chain open: that chain fails as a whole."""
    if not specs[-1].linked:
        return
    index = len(specs) - 1
    while index >= 0 and specs[index].linked:
        results[index] = Result.LINKED_EVENT_CHAIN_OPEN
        index -= 1


def _read_and_lock(ids: list[str], account_ids: set[int]) -> tuple[dict[str, dict], dict[int, _Account]]:
    """The batch's ids already stored, and its accounts: ordinary ones locked in id order with their totals, hot
    ones only read (never locked). One round trip on PostgreSQL (the lists travel as one JSON parameter each: the
    driver quotes a long array parameter in Python, JSON text it passes as is)."""
    if connection.vendor != "postgresql":
        return _existing_rows(ids), _lock_accounts(account_ids)
    with connection.cursor() as cursor:
        accounts_json = json.dumps(sorted(account_ids))
        cursor.execute(_PG_READ_AND_LOCK, [json.dumps(ids), accounts_json, accounts_json])
        existing_json, cold_json, hot_json = cursor.fetchone()
    existing = {}
    for row in _json(existing_json):
        row = dict(zip(_COMPARED, row, strict=True))
        existing[row["id"]] = row
    accounts = {row[0]: _Account(*row) for row in (*_json(cold_json), *_json(hot_json))}
    return existing, accounts


def _json(value: Any) -> list:
    return json.loads(value) if isinstance(value, str) else value


# The stored fields a repeated id is compared on (`_compare`).
_COMPARED = (
    "id", "ledger_id", "debit_account_id", "credit_account_id", "amount", "kind", "pending_id", "linked", "reason",
    "message_id", "job_id", "payment_ref", "payout_ref", "memo", "timeout_seconds",
)  # fmt: skip
# `= ANY(ARRAY(subquery))` makes the planner look each id up in the index whatever it guesses of the list's length.
_PG_LOCK_PENDINGS = """
SELECT id, ledger_id, debit_account_id, credit_account_id, amount, kind, status, timeout_at FROM tokens_transfer
 WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb))) ORDER BY id FOR NO KEY UPDATE
"""
_PG_READ_AND_LOCK = """
SELECT
  (SELECT coalesce(json_agg(json_build_array(id, ledger_id, debit_account_id, credit_account_id, amount, kind,
            pending_id, linked, reason, message_id, job_id, payment_ref, payout_ref, memo,
            coalesce(round(extract(epoch FROM timeout_at - created_at)), 0)::int)), '[]'::json)
     FROM tokens_transfer WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)))),
  (SELECT coalesce(json_agg(json_build_array(id, ledger_id, is_hot, debits_must_not_exceed_credits,
            credits_must_not_exceed_debits, debits_pending, debits_posted, credits_pending, credits_posted)),
            '[]'::json)
     FROM (SELECT * FROM tokens_account WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)::bigint))
           AND NOT is_hot ORDER BY id FOR NO KEY UPDATE) locked),
  (SELECT coalesce(json_agg(json_build_array(id, ledger_id, is_hot, false, false, 0, 0, 0, 0)), '[]'::json)
     FROM tokens_account WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)::bigint)) AND is_hot)
"""


def _existing_rows(ids: list[str]) -> dict[str, dict]:
    if not ids:
        return {}
    rows = Transfer.objects.filter(id__in=ids).values(*_TRANSFER_COLUMNS)
    return {row["id"]: _compared(row) for row in rows}


def _compared(row: dict) -> dict:
    timeout = row["timeout_at"]
    seconds = round((timeout - row["created_at"]).total_seconds()) if timeout is not None else 0
    return {**{key: row[key] for key in _COMPARED[:-1]}, "timeout_seconds": seconds}


def _lock_pendings(pending_ids: list[str]) -> dict[str, _Pending]:
    """The pending transfers a batch posts or voids, locked in id order (first in the lock order)."""
    if not pending_ids:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PG_LOCK_PENDINGS, [json.dumps(pending_ids)])
            return {row[0]: _Pending(*row) for row in cursor.fetchall()}
    rows = (
        Transfer.objects.filter(id__in=pending_ids)
        .order_by("id")
        .select_for_update()
        .values_list(
            "id", "ledger_id", "debit_account_id", "credit_account_id", "amount", "kind", "status", "timeout_at"
        )
    )
    return {row[0]: _Pending(*row) for row in rows}


def _lock_accounts(account_ids: Iterable[int]) -> dict[int, _Account]:
    """Ordinary accounts locked in id order with their totals; hot accounts only read (never locked)."""
    ids = sorted(account_ids)
    if not ids:
        return {}
    accounts: dict[int, _Account] = {}
    flags = Account.objects.filter(id__in=ids).values_list(
        "id", "ledger_id", "is_hot", "debits_must_not_exceed_credits", "credits_must_not_exceed_debits"
    )
    for row in flags:
        accounts[row[0]] = _Account(*row)
    cold = [account_id for account_id, account in accounts.items() if not account.hot]
    if cold:
        locked = (
            Account.objects.filter(id__in=sorted(cold))
            .order_by("id")
            .select_for_update()
            .values_list("id", "debits_pending", "debits_posted", "credits_pending", "credits_posted")
        )
        for account_id, debits_pending, debits_posted, credits_pending, credits_posted in locked:
            account = accounts[account_id]
            account.debits_pending, account.debits_posted = debits_pending, debits_posted
            account.credits_pending, account.credits_posted = credits_pending, credits_posted
    return accounts


def _decide(
    spec: TransferSpec,
    plan: _Plan,
    existing: dict[str, dict],
    ledgers: dict[str, int],
    now: datetime,
    undo: list,
) -> str:
    """Decide one transfer against the plan so far and, when it is `ok`, add it to the plan."""
    stored = plan.rows.get(spec.id)
    if stored is not None:
        return _compare(spec, _compared(dict(zip(_TRANSFER_COLUMNS, stored, strict=True))), ledgers)
    if spec.id in existing:
        return _compare(spec, existing[spec.id], ledgers)

    kind = spec.kind
    pending: _Pending | None = None
    if kind in (TransferKind.POST, TransferKind.VOID):
        pending = plan.pendings.get(spec.pending_id or "")
        refusal = _check_pending(spec, pending, plan, ledgers, now)
        if refusal:
            return refusal
        assert pending is not None
        debit_id, credit_id, ledger_id = pending.debit_account_id, pending.credit_account_id, pending.ledger_id
        amount = pending.amount if (kind == TransferKind.VOID or spec.amount is None) else spec.amount
    else:
        debit_id, credit_id = spec.debit_account_id, spec.credit_account_id
        ledger_id = ledgers[spec.ledger or LedgerCode.PPT]
        amount = spec.amount
    debit, credit = plan.accounts.get(debit_id), plan.accounts.get(credit_id)  # type: ignore[arg-type]
    if debit is None or credit is None:
        return Result.ACCOUNT_MISSING
    if debit.ledger_id != ledger_id or credit.ledger_id != ledger_id:
        return Result.LEDGER_MISMATCH

    # Each account's change: [debits_pending, debits_posted, credits_pending, credits_posted].
    if kind == TransferKind.SINGLE:
        debit_change, credit_change = (0, amount, 0, 0), (0, 0, 0, amount)
    elif kind == TransferKind.PENDING:
        debit_change, credit_change = (amount, 0, 0, 0), (0, 0, amount, 0)
    elif kind == TransferKind.POST:
        debit_change, credit_change = (-pending.amount, amount, 0, 0), (0, 0, -pending.amount, amount)  # type: ignore[union-attr]
    else:
        debit_change, credit_change = (-pending.amount, 0, 0, 0), (0, 0, -pending.amount, 0)  # type: ignore[union-attr]
    if debit.debits_bounded and (
        debit.debits_pending + debit.debits_posted + debit_change[0] + debit_change[1] > debit.credits_posted
    ):
        return Result.EXCEEDS_CREDITS
    if credit.credits_bounded and (
        credit.credits_pending + credit.credits_posted + credit_change[2] + credit_change[3] > credit.debits_posted
    ):
        return Result.EXCEEDS_DEBITS

    _change(plan, debit, debit_change, undo)
    _change(plan, credit, credit_change, undo)
    status = (
        TransferStatus.VOIDED
        if kind == TransferKind.VOID
        else (TransferStatus.PENDING if kind == TransferKind.PENDING else TransferStatus.POSTED)
    )
    timeout_at = now + timedelta(seconds=spec.timeout_seconds) if spec.timeout_seconds else None
    plan.rows[spec.id] = (
        spec.id, ledger_id, debit_id, credit_id, amount, kind, status, spec.pending_id, timeout_at, spec.linked,
        spec.reason, spec.message_id, spec.job_id, spec.payment_ref, spec.payout_ref, spec.memo, now, None,
    )  # fmt: skip
    undo.append(("row", spec.id))
    if kind == TransferKind.PENDING:
        plan.pendings[spec.id] = _Pending(
            spec.id,
            ledger_id,
            debit_id,
            credit_id,
            amount,
            kind,
            TransferStatus.PENDING,
            timeout_at,  # type: ignore[arg-type]
        )
        undo.append(("pending_created", spec.id))
    elif pending is not None:
        previous = pending.status
        pending.status = TransferStatus.POSTED if kind == TransferKind.POST else TransferStatus.VOIDED
        plan.resolved[pending.id] = pending.status
        undo.append(("resolved", pending.id, previous))
    return Result.OK


def _check_pending(
    spec: TransferSpec, pending: _Pending | None, plan: _Plan, ledgers: dict[str, int], now: datetime
) -> str | None:
    if pending is None:
        return Result.PENDING_TRANSFER_MISSING
    if pending.kind != TransferKind.PENDING:
        return Result.PENDING_TRANSFER_NOT_PENDING
    if pending.status == TransferStatus.POSTED:
        return Result.PENDING_TRANSFER_ALREADY_POSTED
    if pending.status == TransferStatus.VOIDED:
        return Result.PENDING_TRANSFER_ALREADY_VOIDED
    if pending.status == TransferStatus.EXPIRED or (pending.timeout_at is not None and pending.timeout_at <= now):
        return Result.PENDING_TRANSFER_EXPIRED
    if spec.ledger is not None and ledgers[spec.ledger] != pending.ledger_id:
        return Result.LEDGER_MISMATCH
    if (spec.debit_account_id not in (None, pending.debit_account_id)) or (
        spec.credit_account_id not in (None, pending.credit_account_id)
    ):
        return Result.PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS
    if spec.amount is not None:
        if spec.amount > pending.amount:
            return Result.EXCEEDS_PENDING_TRANSFER_AMOUNT
        if spec.kind == TransferKind.VOID and spec.amount != pending.amount:
            return Result.AMOUNT_INVALID
    return None


def _compare(spec: TransferSpec, row: dict, ledgers: dict[str, int]) -> str:
    """`exists` when the stored transfer is what `spec` asks for (fields left unset match what was stored)."""
    same = (
        row["kind"] == spec.kind
        and row["pending_id"] == spec.pending_id
        and (spec.amount is None or row["amount"] == spec.amount)
        and (spec.ledger is None or row["ledger_id"] == ledgers.get(spec.ledger))
        and (spec.debit_account_id is None or row["debit_account_id"] == spec.debit_account_id)
        and (spec.credit_account_id is None or row["credit_account_id"] == spec.credit_account_id)
        and row["reason"] == spec.reason
        and row["linked"] == spec.linked
        and row["timeout_seconds"] == spec.timeout_seconds
        and (row["message_id"], row["job_id"], row["payment_ref"], row["payout_ref"], row["memo"])
        == (spec.message_id, spec.job_id, spec.payment_ref, spec.payout_ref, spec.memo)
    )
    return Result.EXISTS if same else Result.EXISTS_WITH_DIFFERENT_FIELDS


def _change(plan: _Plan, account: _Account, change: tuple[int, int, int, int], undo: list) -> None:
    account.debits_pending += change[0]
    account.debits_posted += change[1]
    account.credits_pending += change[2]
    account.credits_posted += change[3]
    delta = plan.deltas.setdefault(account.id, [0, 0, 0, 0])
    for position in range(4):
        delta[position] += change[position]
    undo.append(("change", account, change))


def _fail_chain(chain: list[tuple[int, list]], results: list[str | None], plan: _Plan) -> None:
    """Undo a linked chain's applied transfers (newest first); those that were fine answer linked_event_failed."""
    for index, undo in reversed(chain):
        for entry in reversed(undo):
            if entry[0] == "change":
                _, account, change = entry
                _change(plan, account, tuple(-value for value in change), [])  # type: ignore[arg-type]
            elif entry[0] == "row":
                del plan.rows[entry[1]]
            elif entry[0] == "pending_created":
                del plan.pendings[entry[1]]
            elif entry[0] == "resolved":
                plan.pendings[entry[1]].status = entry[2]
                del plan.resolved[entry[1]]
        if results[index] in (None, Result.OK):
            results[index] = Result.LINKED_EVENT_FAILED


def _write(plan: _Plan, now: datetime) -> None:
    """Write the plan: transfers, resolved pending transfers, account totals (see the module docstring)."""
    resolved = []
    for pending_id, status in sorted(plan.resolved.items()):
        row = plan.rows.get(pending_id)
        if row is None:
            resolved.append((pending_id, status))
        else:  # created and resolved in this batch: inserted resolved
            plan.rows[pending_id] = (*row[:6], status, *row[7:17], now)
    # Inserted in id order: two batches sharing ids (a retried one, or one reusing an id for something else) then
    # wait on each other's rows in the same order instead of deadlocking.
    rows = [plan.rows[transfer_id] for transfer_id in sorted(plan.rows)]
    deltas = {account_id: delta for account_id, delta in plan.deltas.items() if any(delta)}
    if connection.vendor == "postgresql":
        _write_postgresql(rows, resolved, deltas, {i for i in deltas if plan.accounts[i].hot}, now)
    else:
        _write_portable(rows, resolved, deltas, now)


_PG_WRITE = f"""
WITH inserted AS (
    INSERT INTO tokens_transfer ({", ".join(_TRANSFER_COLUMNS)})
    SELECT {", ".join(f"(e->>{n}){cast}" for n, cast in enumerate(_PG_CASTS))} FROM jsonb_array_elements(%s::jsonb) e
    ON CONFLICT (id) DO NOTHING RETURNING 1
), resolved AS (
    UPDATE tokens_transfer t SET status = r.status, resolved_at = %s
      FROM (SELECT e->>0 AS id, e->>1 AS status FROM jsonb_array_elements(%s::jsonb) e) r
     WHERE t.id = r.id AND t.id = ANY(ARRAY(SELECT e->>0 FROM jsonb_array_elements(%s::jsonb) e)) RETURNING 1
), cold AS (
    UPDATE tokens_account a SET debits_pending = a.debits_pending + (d->>1)::bigint,
           debits_posted = a.debits_posted + (d->>2)::bigint, credits_pending = a.credits_pending + (d->>3)::bigint,
           credits_posted = a.credits_posted + (d->>4)::bigint
      FROM jsonb_array_elements(%s::jsonb) d WHERE a.id = (d->>0)::bigint RETURNING 1
), hot AS (
    INSERT INTO tokens_hotbalancedelta (account_id, debits_pending, debits_posted, credits_pending, credits_posted)
    SELECT (d->>0)::bigint, (d->>1)::bigint, (d->>2)::bigint, (d->>3)::bigint, (d->>4)::bigint
      FROM jsonb_array_elements(%s::jsonb) d RETURNING 1
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM resolved), (SELECT count(*) FROM cold),
       (SELECT count(*) FROM hot)
"""  # noqa: S608 - only the fixed column list is formatted in


def _write_postgresql(
    rows: list[tuple], resolved: list[tuple[str, str]], deltas: dict[int, list[int]], hot: set[int], now: datetime
) -> None:
    """One statement (one round trip) for all the batch's writes; a lost race on an id undoes it (savepoint)."""

    def encode(row: tuple) -> list:
        timeout_at, created_at, resolved_at = row[8], row[16], row[17]
        return [
            *row[:8], timeout_at and timeout_at.isoformat(), *row[9:16], created_at.isoformat(),
            resolved_at and resolved_at.isoformat(),
        ]  # fmt: skip

    cold = sorted(account_id for account_id in deltas if account_id not in hot)
    with connection.cursor() as cursor:
        cursor.execute(
            _PG_WRITE,
            [
                json.dumps([encode(row) for row in rows]),
                now,
                json.dumps(resolved),
                json.dumps(resolved),
                json.dumps([[account_id, *deltas[account_id]] for account_id in cold]),
                json.dumps([[account_id, *deltas[account_id]] for account_id in sorted(hot)]),
            ],
        )
        inserted = cursor.fetchone()[0]
    if inserted != len(rows):
        raise _LostRace()


def _write_portable(
    rows: list[tuple], resolved: list[tuple[str, str]], deltas: dict[int, list[int]], now: datetime
) -> None:
    """SQLite (one writer at a time: IMMEDIATE transactions): plain statements, hot accounts updated in place."""
    adapt = connection.ops.adapt_datetimefield_value
    rows = [(*row[:8], adapt(row[8]), *row[9:16], adapt(row[16]), adapt(row[17])) for row in rows]
    with connection.cursor() as cursor:
        if rows:
            placeholders = ", ".join(["%s"] * len(_TRANSFER_COLUMNS))
            cursor.executemany(
                f"INSERT INTO tokens_transfer ({', '.join(_TRANSFER_COLUMNS)}) VALUES ({placeholders})",  # noqa: S608
                rows,
            )
        if resolved:
            cursor.executemany(
                "UPDATE tokens_transfer SET status = %s, resolved_at = %s WHERE id = %s",
                [(status, adapt(now), pending_id) for pending_id, status in resolved],
            )
        if deltas:
            cursor.executemany(
                "UPDATE tokens_account SET debits_pending = debits_pending + %s, debits_posted = debits_posted + %s, "
                "credits_pending = credits_pending + %s, credits_posted = credits_posted + %s WHERE id = %s",
                [(*deltas[account_id], account_id) for account_id in sorted(deltas)],
            )


def transfer_create(spec: TransferSpec, *, now: datetime | None = None) -> Transfer:
    """One transfer (single or pending): the stored transfer when it is `ok` or `exists`; otherwise
    `TransferRefused` with the result as its code (409 in the API)."""
    return _one(spec, now)


def transfer_post(
    *, id: str, pending_id: str, amount: int | None = None, reason: str | None = None, now: datetime | None = None
) -> Transfer:
    """Post a pending transfer, all of it (`amount=None`) or part (the rest is released). Safe to call twice."""
    reason = reason or _pending_reason(pending_id)
    return _one(TransferSpec(id=id, post_pending_id=pending_id, amount=amount, reason=reason), now)


def transfer_void(*, id: str, pending_id: str, reason: str | None = None, now: datetime | None = None) -> Transfer:
    """Release a pending transfer. Safe to call twice."""
    reason = reason or _pending_reason(pending_id)
    return _one(TransferSpec(id=id, void_pending_id=pending_id, reason=reason), now)


def _pending_reason(pending_id: str) -> str:
    # A post or void books under its pending transfer's reason unless told otherwise.
    return Transfer.objects.filter(id=pending_id).values_list("reason", flat=True).first() or Reason.TRANSFER


def _one(spec: TransferSpec, now: datetime | None) -> Transfer:
    (result,) = transfers_create([spec], now=now)
    if result not in (Result.OK, Result.EXISTS):
        raise TransferRefused(code=result, details={"transfer_id": spec.id})
    return Transfer.objects.get(id=spec.id)


def pending_transfers_expire(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Expire up to `limit` pending transfers whose timeout has passed, releasing their amounts; how many.

    Same lock order as `transfers_create` (pending transfers, then accounts, each by id); on PostgreSQL rows another
    worker is resolving are skipped (`SKIP LOCKED`) rather than waited for. Safe to run twice or in parallel.
    """
    now = now or timezone.now()
    with transaction.atomic():
        due = Transfer.objects.filter(status=TransferStatus.PENDING, timeout_at__lte=now).order_by("id")[:limit]
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        rows = list(due.values_list("id", "debit_account_id", "credit_account_id", "amount"))
        if not rows:
            return 0
        _, accounts = _read_and_lock([], {row[1] for row in rows} | {row[2] for row in rows})
        plan = _Plan(accounts=accounts, pendings={})
        for transfer_id, debit_id, credit_id, amount in rows:
            _change(plan, plan.accounts[debit_id], (-amount, 0, 0, 0), [])
            _change(plan, plan.accounts[credit_id], (0, 0, -amount, 0), [])
            plan.resolved[transfer_id] = TransferStatus.EXPIRED
        _write(plan, now)
    return len(rows)


def hot_balances_roll_up() -> int:
    """Move the queued changes of hot accounts into their totals; how many queued rows were moved.

    One statement deletes the queued rows and adds them up into the accounts, so each is counted exactly once;
    rows queued by transactions still open are not visible to it and wait for the next run. Only this function
    ever locks a hot account's row. Safe to run twice or in parallel.
    """
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH moved AS (DELETE FROM tokens_hotbalancedelta RETURNING *), "
            "sums AS (SELECT account_id, sum(debits_pending) dp, sum(debits_posted) dpo, sum(credits_pending) cp, "
            "sum(credits_posted) cpo, count(*) n FROM moved GROUP BY account_id), "
            "updated AS (UPDATE tokens_account a SET debits_pending = a.debits_pending + s.dp, "
            "debits_posted = a.debits_posted + s.dpo, credits_pending = a.credits_pending + s.cp, "
            "credits_posted = a.credits_posted + s.cpo FROM sums s WHERE a.id = s.account_id RETURNING s.n) "
            "SELECT coalesce(sum(n), 0) FROM updated"
        )
        return int(cursor.fetchone()[0])


# --- manual adjustments (maker–checker) ---------------------------------------------------------------------------


def adjustment_propose(*, actor: Any, account: Account, amount: int, memo: str) -> Adjustment:
    """A staff member proposes a correction (positive: credit the account); nothing is booked until another staff
    member approves it. Audited."""
    if type(amount) is not int or amount == 0 or abs(amount) > MAX_AMOUNT:
        raise ValidationFailed(details={"amount": "a non-zero integer in the smallest unit"})
    if not memo.strip():
        raise ValidationFailed(details={"memo": "say why"})
    with transaction.atomic():
        adjustment = Adjustment.objects.create(account=account, amount=amount, memo=memo.strip(), proposed_by=actor)
        audit_record(
            actor=actor, action="tokens.adjustment_propose", target=adjustment, after=_adjustment_data(adjustment)
        )
    return adjustment


def adjustment_approve(*, actor: Any, adjustment_id: int, now: datetime | None = None) -> Adjustment:
    """A second staff member approves: the transfer `adjustment:<id>` is booked against the ledger's `adjustments`
    platform account, and the decision audited, in one transaction. Refused for the proposer (four eyes) and for
    a decided adjustment; a transfer refused (the account would go below zero) leaves it proposed."""
    return _adjustment_decide(actor=actor, adjustment_id=adjustment_id, approve=True, now=now)


def adjustment_reject(*, actor: Any, adjustment_id: int, now: datetime | None = None) -> Adjustment:
    """A second staff member rejects the proposal; nothing is booked. Audited."""
    return _adjustment_decide(actor=actor, adjustment_id=adjustment_id, approve=False, now=now)


def _adjustment_decide(*, actor: Any, adjustment_id: int, approve: bool, now: datetime | None) -> Adjustment:
    now = now or timezone.now()
    with transaction.atomic():
        adjustment = Adjustment.objects.select_for_update().select_related("account__ledger").get(pk=adjustment_id)
        if adjustment.status != AdjustmentStatus.PROPOSED:
            raise AdjustmentNotPending(details={"status": adjustment.status})
        if actor is None or actor.pk == adjustment.proposed_by_id:
            raise FourEyesRequired()
        if approve:
            account = adjustment.account
            counter = platform_account(PlatformAccount.ADJUSTMENTS, ledger=account.ledger.code)
            debit, credit = (counter, account) if adjustment.amount > 0 else (account, counter)
            transfer_id = f"adjustment:{adjustment.pk}"
            transfer_create(
                TransferSpec(
                    id=transfer_id,
                    amount=abs(adjustment.amount),
                    debit_account_id=debit.pk,
                    credit_account_id=credit.pk,
                    ledger=account.ledger.code,
                    reason=Reason.ADJUSTMENT,
                    memo=adjustment.memo,
                ),
                now=now,
            )
            adjustment.transfer_id = transfer_id
        adjustment.status = AdjustmentStatus.APPROVED if approve else AdjustmentStatus.REJECTED
        adjustment.decided_by, adjustment.decided_at = actor, now
        adjustment.save(update_fields=["status", "decided_by", "decided_at", "transfer_id"])
        action = "tokens.adjustment_approve" if approve else "tokens.adjustment_reject"
        audit_record(actor=actor, action=action, target=adjustment, after=_adjustment_data(adjustment))
    return adjustment


def _adjustment_data(adjustment: Adjustment) -> dict:
    return {
        "account": adjustment.account_id,
        "amount": adjustment.amount,
        "memo": adjustment.memo,
        "status": adjustment.status,
        "transfer_id": adjustment.transfer_id,
    }
