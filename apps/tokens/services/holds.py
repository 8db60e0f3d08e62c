"""A client's hold in one statement: the spendable bound checked and the pending transfer booked together.

The general engine (`transfers`) locks every ordinary account of a batch, reads it, decides in Python and writes:
for one message's hold inside the transaction that inserts the message, the client's account row stays locked from
that first read until COMMIT, and every other send of the same client waits behind it. A hold is the simplest
transfer there is (one pending debit of a bounded client account, credited to a hot platform account that is never
locked), so on PostgreSQL it is booked by one statement instead:

    UPDATE the client's account SET debits_pending += amount WHERE it can still spend `amount` RETURNING …
    → INSERT the pending transfer, INSERT the hot account's delta, only for the row the UPDATE changed.

The row lock is taken by that UPDATE, so it lasts from this statement to the COMMIT that follows. The bound stays
exact under concurrency: PostgreSQL re-checks the UPDATE's WHERE against the newest committed version of a row it
had to wait for (READ COMMITTED), so two holds can never both pass on the same spendable PPT; the CHECK constraint
on the account is still the last word. The transfer's id is its primary key, so a hold is booked once.

Elsewhere (SQLite, one writer at a time anyway) the same hold goes through the engine under the account lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection
from django.utils import timezone

from apps.core.prepared import prepared_cursor
from apps.tokens.choices import LEDGER_IDS, LedgerCode, Result, TransferKind, TransferStatus
from apps.tokens.models import Account
from apps.tokens.services.accounts import client_spendable, client_spendable_lock
from apps.tokens.services.transfers import TransferSpec, transfers_create


@dataclass(frozen=True, slots=True)
class Hold:
    """What `client_hold_create` did: `booked`, or refused with the `shortfall`; what the client can spend after."""

    booked: bool
    shortfall: int
    spendable_after: int


# The last column but one of both statements (the last of `_PG_HOLD`) says whether the credit account is a hot PPT
# account, which matters only when the hold was refused (the UPDATE checks it too): a booked hold's `debited` row
# settles the OR first, and PostgreSQL runs the EXISTS (an InitPlan) only when it is read, so a booked hold looks the
# account up once.
_PG_HOLD = """
WITH debited AS (
    UPDATE tokens_account SET debits_pending = debits_pending + %(amount)s
     WHERE ledger_id = %(ledger)s AND organization_id = %(organization)s
       AND credits_posted + credit_limit - debits_posted - debits_pending >= %(amount)s
       AND EXISTS (SELECT 1 FROM tokens_account c WHERE c.id = %(credit)s AND c.ledger_id = %(ledger)s AND c.is_hot)
    RETURNING id, credits_posted + credit_limit - debits_posted - debits_pending AS spendable
), booked AS (
    INSERT INTO tokens_transfer (id, ledger_id, debit_account_id, credit_account_id, amount, kind, status, pending_id,
                                 timeout_at, linked, reason, message_id, job_id, payment_ref, payout_ref, memo,
                                 created_at, resolved_at)
    SELECT %(id)s, %(ledger)s, debited.id, %(credit)s, %(amount)s, %(kind)s, %(status)s, NULL, NULL, false,
           %(reason)s, %(message)s, NULL, '', '', '', %(now)s, NULL FROM debited
    RETURNING 1
), credited AS (
    INSERT INTO tokens_hotbalancedelta (account_id, debits_pending, debits_posted, credits_pending, credits_posted)
    SELECT %(credit)s, 0, 0, %(amount)s, 0 FROM debited RETURNING 1
)
SELECT (SELECT spendable FROM debited), (SELECT count(*) FROM booked), (SELECT count(*) FROM credited),
       (SELECT spendable FROM debited) IS NOT NULL
       OR EXISTS (SELECT 1 FROM tokens_account c WHERE c.id = %(credit)s AND c.ledger_id = %(ledger)s AND c.is_hot)
"""


def client_hold_create(
    *,
    id: str,
    organization_id: int,
    amount: int,
    credit_account_id: int,
    reason: str,
    message_id: int | None = None,
    now: datetime | None = None,
) -> Hold:
    """Hold `amount` of PPT from the client organisation's account as the pending transfer `id` (credit: the hot
    platform account `credit_account_id`), if it can spend that much (posted credits + credit limit − debits);
    otherwise book nothing and say what is missing. An organisation without an account can spend nothing.

    Call it inside the transaction the hold belongs to (the message's); on PostgreSQL the client's account row is
    locked from this call to that transaction's end, and no earlier. A repeated `id` raises IntegrityError (the
    transfer's primary key): holds are named after what they hold, which is new each time.
    """
    if not 0 < amount:
        raise ValueError("a hold's amount must be positive")
    now = now or timezone.now()
    if connection.vendor != "postgresql":
        return _hold_through_engine(
            id=id, organization_id=organization_id, amount=amount, credit_account_id=credit_account_id,
            reason=reason, message_id=message_id, now=now,
        )  # fmt: skip
    parameters = {
        "id": id,
        "ledger": LEDGER_IDS[LedgerCode.PPT],
        "organization": organization_id,
        "amount": amount,
        "credit": credit_account_id,
        "kind": TransferKind.PENDING,
        "status": TransferStatus.PENDING,
        "reason": reason,
        "message": message_id,
        "now": now,
    }
    with connection.cursor() as cursor:
        cursor.execute(_PG_HOLD, parameters)
        spendable_after, booked, credited, credit_is_hot = cursor.fetchone()
    if not credit_is_hot:
        raise ValueError(f"a hold's credit account must be a hot PPT account, not {credit_account_id}")
    if spendable_after is None:
        # Refused: what is missing now (a fresh read; the statement's own snapshot may predate the holds it waited for).
        spendable = client_spendable(organization_id=organization_id).spendable
        return Hold(booked=False, shortfall=amount - max(spendable, 0), spendable_after=spendable)
    if booked != 1 or credited != 1:
        raise RuntimeError(f"hold {id} half booked: transfer {booked}, credit {credited}")
    return Hold(booked=True, shortfall=0, spendable_after=spendable_after)


_PG_HOLD_WITH_ROW = """
WITH debited AS (
    UPDATE tokens_account SET debits_pending = debits_pending + %(amount)s
     WHERE ledger_id = %(ledger)s AND organization_id = %(organization)s
       AND credits_posted + credit_limit - debits_posted - debits_pending >= %(amount)s
       AND EXISTS (SELECT 1 FROM tokens_account c WHERE c.id = %(credit)s AND c.ledger_id = %(ledger)s AND c.is_hot)
       AND {guard}
    RETURNING id, credits_posted + credit_limit - debits_posted - debits_pending AS spendable
), held_row AS (
    {insert} SELECT {values} FROM debited {source} RETURNING id
){companion}, booked AS (
    INSERT INTO tokens_transfer (id, ledger_id, debit_account_id, credit_account_id, amount, kind, status, pending_id,
                                 timeout_at, linked, reason, message_id, job_id, payment_ref, payout_ref, memo,
                                 created_at, resolved_at)
    SELECT %(prefix)s || held_row.id, %(ledger)s, debited.id, %(credit)s, %(amount)s, %(kind)s, %(status)s, NULL,
           NULL, false, %(reason)s, held_row.id, NULL, '', '', '', %(now)s, NULL FROM debited, held_row
    RETURNING 1
), credited AS (
    INSERT INTO tokens_hotbalancedelta (account_id, debits_pending, debits_posted, credits_pending, credits_posted)
    SELECT %(credit)s, 0, 0, %(amount)s, 0 FROM debited, held_row RETURNING 1
)
SELECT (SELECT id FROM held_row), (SELECT spendable FROM debited), (SELECT count(*) FROM booked),
       (SELECT count(*) FROM credited),
       (SELECT spendable FROM debited) IS NOT NULL
       OR EXISTS (SELECT 1 FROM tokens_account c WHERE c.id = %(credit)s AND c.ledger_id = %(ledger)s AND c.is_hot),
       {guard}
"""


@dataclass(frozen=True, slots=True)
class HeldRow:
    """A row to insert only if its hold is booked, in the same statement: `insert` is `INSERT INTO table (columns)`
    and `values` the select list of its values (placeholders `%(name)s` with a cast, taken from `params`, or
    columns of what `source` joins, e.g. `CROSS JOIN (SELECT %(row)s::jsonb AS value) r`). The inserted row's `id`
    names the hold (`id_prefix` + id) and is its `message_id`. `guard`: a condition (over `params`) the row must
    meet; when it is false neither the row nor its hold is written (a message whose recipient is on an opt-out or
    block list)."""

    insert: str
    values: str
    params: dict[str, object]
    id_prefix: str
    source: str = ""  # a FROM clause's continuation the values read from (a join), if any
    guard: str = "TRUE"
    # More data-modifying CTEs (`, name AS (INSERT … SELECT … FROM held_row …)`), written only with the row and its
    # hold; one that fails (a unique key taken) fails the statement, which then writes nothing.
    companion: str = ""


def client_hold_create_with_row(
    *, row: HeldRow, organization_id: int, amount: int, credit_account_id: int, reason: str
) -> tuple[int | None, Hold | None]:
    """PostgreSQL, in autocommit: insert `row` (a message) and hold `amount` for it in ONE statement, so the row
    and its hold commit together or not at all, without a transaction of round trips around them (BEGIN, the
    INSERT, the hold, COMMIT) and with the client's account row locked for that one statement only. Returns the
    row's id (None when refused: nothing was inserted) and the hold, or None when the row's guard refused it (nothing
    was written, whatever the balance). The bound is checked exactly as `client_hold_create` checks it."""
    if not 0 < amount:
        raise ValueError("a hold's amount must be positive")
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        raise RuntimeError("client_hold_create_with_row is for PostgreSQL in autocommit: use client_hold_create")
    parameters = {
        **row.params,
        "prefix": row.id_prefix,
        "ledger": LEDGER_IDS[LedgerCode.PPT],
        "organization": organization_id,
        "amount": amount,
        "credit": credit_account_id,
        "kind": TransferKind.PENDING,
        "status": TransferStatus.PENDING,
        "reason": reason,
        "now": timezone.now(),
    }
    with prepared_cursor() as cursor:  # the same text for every message: planned once per connection
        cursor.execute(
            _PG_HOLD_WITH_ROW.format(
                insert=row.insert, values=row.values, source=row.source, guard=row.guard, companion=row.companion
            ),
            parameters,
        )
        row_id, spendable_after, booked, credited, credit_is_hot, allowed = cursor.fetchone()
    if not credit_is_hot:
        raise ValueError(f"a hold's credit account must be a hot PPT account, not {credit_account_id}")
    if not allowed:
        return None, None
    if spendable_after is None:
        spendable = client_spendable(organization_id=organization_id).spendable
        return None, Hold(booked=False, shortfall=amount - max(spendable, 0), spendable_after=spendable)
    if row_id is None or booked != 1 or credited != 1:
        raise RuntimeError(f"hold for {row.id_prefix}{row_id} half booked: transfer {booked}, credit {credited}")
    return row_id, Hold(booked=True, shortfall=0, spendable_after=spendable_after)


def _hold_through_engine(
    *,
    id: str,
    organization_id: int,
    amount: int,
    credit_account_id: int,
    reason: str,
    message_id: int | None,
    now: datetime,
) -> Hold:
    if not Account.objects.filter(pk=credit_account_id, ledger_id=LEDGER_IDS[LedgerCode.PPT], is_hot=True).exists():
        raise ValueError(f"a hold's credit account must be a hot PPT account, not {credit_account_id}")
    spendable = client_spendable_lock(organization_id=organization_id)
    if spendable.account_id is None or spendable.spendable < amount:
        return Hold(booked=False, shortfall=amount - max(spendable.spendable, 0), spendable_after=spendable.spendable)
    spec = TransferSpec(
        id=id,
        amount=amount,
        debit_account_id=spendable.account_id,
        credit_account_id=credit_account_id,
        reason=reason,
        pending=True,
        message_id=message_id,
    )
    (result,) = transfers_create([spec], now=now)
    if result in (Result.EXISTS, Result.EXISTS_WITH_DIFFERENT_FIELDS):
        raise IntegrityError(f"hold {id} exists")  # as the primary key answers on PostgreSQL
    if result != Result.OK:
        # The account is locked and was read under the lock: a refusal here means the decision above was wrong.
        raise RuntimeError(f"hold {id} refused under the account lock: {result}")
    return Hold(booked=True, shortfall=0, spendable_after=spendable.spendable - amount)
