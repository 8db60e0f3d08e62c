"""The PPT ledger's transfer engine: transfers (single, pending, post, void, linked chains), timeouts, roll-up.

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

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.utils import OperationalError
from django.utils import timezone

from apps.tokens.choices import (
    LEDGER_IDS,
    LedgerCode,
    Reason,
    Result,
    TransferKind,
    TransferStatus,
)
from apps.tokens.errors import TransferRefused
from apps.tokens.models import TRANSFER_ID_MAX_LENGTH, Transfer
from apps.tokens.services.storage import (
    TRANSFER_COLUMNS,
    AccountState,
    LostRace,
    PendingState,
    Plan,
    lock_pendings,
    read_and_lock,
    stored_fields,
    write_plan,
)

MAX_AMOUNT = 2**63 - 1
# How often a batch starts over after PostgreSQL chose it as a deadlock's victim. (Races lost on an id are bounded
# by the batch's size instead: see `transfers_create`.)
MAX_DEADLOCK_RETRIES = 5
_REASONS = frozenset(Reason.values)


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
        except LostRace:
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


@dataclass(slots=True)
class _Gathered:
    """The transfers asked for inside a `transfers_gathered` block, with each caller's check of its results."""

    specs: list[TransferSpec]
    checks: list[tuple[int, int, Callable[[Sequence[TransferSpec], list[str]], None]]]


_gathering: ContextVar[_Gathered | None] = ContextVar("transfers_gathering", default=None)


@contextmanager
def transfers_gathered() -> Iterator[None]:
    """Inside a transaction, gather the `transfers_book` calls made in the block and book them as ONE batch when it
    ends, each caller's check then run on its own results: a delivered message's charge capture and its provider's
    reward (two callers, two apps) cost one lock-and-read and one write instead of two of each. Nothing is booked if
    the block raises (the transaction rolls back anyway); a refusal raised by a check rolls back the caller's
    transaction, as it would have at once. Outside a transaction, or nested in another block, it changes nothing
    (each `transfers_book` books at once, or the outer block books them all)."""
    if _gathering.get() is not None or not transaction.get_connection().in_atomic_block:
        yield
        return
    gathered = _Gathered(specs=[], checks=[])
    token = _gathering.set(gathered)
    try:
        yield
    finally:
        _gathering.reset(token)
    if gathered.specs:
        results = transfers_create(gathered.specs)
        for start, end, check in gathered.checks:
            check(gathered.specs[start:end], results[start:end])


def transfers_book(
    transfers: Sequence[TransferSpec], *, check: Callable[[Sequence[TransferSpec], list[str]], None]
) -> None:
    """`transfers_create`, then `check(transfers, results)` (which raises what the caller cannot accept). Inside a
    `transfers_gathered` block both wait for its end, the transfers booked in one batch with the block's others. A
    batch that ends in a linked transfer (its chain would run on into the next caller's) is booked at once."""
    gathered = _gathering.get()
    if gathered is None or not transfers or transfers[-1].linked:
        check(transfers, transfers_create(transfers))
        return
    start = len(gathered.specs)
    gathered.specs.extend(transfers)
    gathered.checks.append((start, len(gathered.specs), check))


def _is_deadlock(error: OperationalError) -> bool:
    # PostgreSQL's deadlock_detected: its victim is rolled back to the savepoint and tried again.
    return getattr(error.__cause__, "sqlstate", None) == "40P01"


def _create_batch(specs: Sequence[TransferSpec], now: datetime) -> list[str]:
    ledgers: dict[str, int] = LEDGER_IDS
    results: list[str | None] = [_static_check(spec, ledgers) for spec in specs]
    _close_open_chain(specs, results)

    candidates = [index for index, result in enumerate(results) if result is None]
    ids = list({specs[index].id for index in candidates})
    pending_ids = sorted({specs[i].pending_id for i in candidates if specs[i].pending_id is not None})
    pendings = lock_pendings(pending_ids)
    account_ids = {
        account_id
        for index in candidates
        for account_id in (specs[index].debit_account_id, specs[index].credit_account_id)
        if account_id is not None
    }
    for pending in pendings.values():
        account_ids.update((pending.debit_account_id, pending.credit_account_id))
    existing, accounts = read_and_lock(ids, account_ids)
    plan = Plan(accounts=accounts, pendings=pendings)

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
    write_plan(plan, now)
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


def _decide(
    spec: TransferSpec,
    plan: Plan,
    existing: dict[str, dict],
    ledgers: dict[str, int],
    now: datetime,
    undo: list,
) -> str:
    """Decide one transfer against the plan so far and, when it is `ok`, add it to the plan."""
    stored = plan.rows.get(spec.id)
    if stored is not None:
        return _compare(spec, stored_fields(dict(zip(TRANSFER_COLUMNS, stored, strict=True))), ledgers)
    if spec.id in existing:
        return _compare(spec, existing[spec.id], ledgers)

    kind = spec.kind
    pending: PendingState | None = None
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
        debit.debits_pending + debit.debits_posted + debit_change[0] + debit_change[1]
        > debit.credits_posted + debit.credit_limit
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
        plan.pendings[spec.id] = PendingState(
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
    spec: TransferSpec, pending: PendingState | None, plan: Plan, ledgers: dict[str, int], now: datetime
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


def _change(plan: Plan, account: AccountState, change: tuple[int, int, int, int], undo: list) -> None:
    account.debits_pending += change[0]
    account.debits_posted += change[1]
    account.credits_pending += change[2]
    account.credits_posted += change[3]
    delta = plan.deltas.setdefault(account.id, [0, 0, 0, 0])
    for position in range(4):
        delta[position] += change[position]
    undo.append(("change", account, change))


def _fail_chain(chain: list[tuple[int, list]], results: list[str | None], plan: Plan) -> None:
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
        _, accounts = read_and_lock([], {row[1] for row in rows} | {row[2] for row in rows})
        plan = Plan(accounts=accounts, pendings={})
        for transfer_id, debit_id, credit_id, amount in rows:
            _change(plan, plan.accounts[debit_id], (-amount, 0, 0, 0), [])
            _change(plan, plan.accounts[credit_id], (0, 0, -amount, 0), [])
            plan.resolved[transfer_id] = TransferStatus.EXPIRED
        write_plan(plan, now)
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
