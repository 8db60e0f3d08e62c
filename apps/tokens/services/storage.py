"""How the ledger engine reads, locks and writes its rows: the lock order, and one statement per batch on
PostgreSQL (plain statements on SQLite). `transfers` decides; this module only carries its decisions to the
database. Why it is shaped this way is in `apps.tokens.services.transfers`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection

from apps.tokens.models import Account, Transfer

TRANSFER_COLUMNS = (
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


class LostRace(Exception):
    """A concurrent transaction committed one of the batch's ids first: start the batch over."""


@dataclass(slots=True)
class AccountState:
    id: int
    ledger_id: int
    hot: bool
    debits_bounded: bool
    credits_bounded: bool
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0
    credit_limit: int = 0


@dataclass(slots=True)
class PendingState:
    id: str
    ledger_id: int
    debit_account_id: int
    credit_account_id: int
    amount: int
    kind: str
    status: str
    timeout_at: datetime | None


@dataclass(slots=True)
class Plan:
    """What a batch will write, built transfer by transfer; a failing linked chain is undone from `undo`."""

    accounts: dict[int, AccountState]
    pendings: dict[str, PendingState]
    rows: dict[str, tuple] = field(default_factory=dict)
    resolved: dict[str, str] = field(default_factory=dict)
    deltas: dict[int, list[int]] = field(default_factory=dict)


def read_and_lock(ids: list[str], account_ids: set[int]) -> tuple[dict[str, dict], dict[int, AccountState]]:
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
    accounts = {row[0]: AccountState(*row) for row in (*_json(cold_json), *_json(hot_json))}
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
            credits_must_not_exceed_debits, debits_pending, debits_posted, credits_pending, credits_posted,
            credit_limit)),
            '[]'::json)
     FROM (SELECT * FROM tokens_account WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)::bigint))
           AND NOT is_hot ORDER BY id FOR NO KEY UPDATE) locked),
  (SELECT coalesce(json_agg(json_build_array(id, ledger_id, is_hot, false, false, 0, 0, 0, 0, 0)), '[]'::json)
     FROM tokens_account WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)::bigint)) AND is_hot)
"""


def _existing_rows(ids: list[str]) -> dict[str, dict]:
    if not ids:
        return {}
    rows = Transfer.objects.filter(id__in=ids).values(*TRANSFER_COLUMNS)
    return {row["id"]: stored_fields(row) for row in rows}


def stored_fields(row: dict) -> dict:
    timeout = row["timeout_at"]
    seconds = round((timeout - row["created_at"]).total_seconds()) if timeout is not None else 0
    return {**{key: row[key] for key in _COMPARED[:-1]}, "timeout_seconds": seconds}


def lock_pendings(pending_ids: list[str]) -> dict[str, PendingState]:
    """The pending transfers a batch posts or voids, locked in id order (first in the lock order)."""
    if not pending_ids:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PG_LOCK_PENDINGS, [json.dumps(pending_ids)])
            return {row[0]: PendingState(*row) for row in cursor.fetchall()}
    rows = (
        Transfer.objects.filter(id__in=pending_ids)
        .order_by("id")
        .select_for_update()
        .values_list(
            "id", "ledger_id", "debit_account_id", "credit_account_id", "amount", "kind", "status", "timeout_at"
        )
    )
    return {row[0]: PendingState(*row) for row in rows}


def _lock_accounts(account_ids: Iterable[int]) -> dict[int, AccountState]:
    """Ordinary accounts locked in id order with their totals; hot accounts only read (never locked)."""
    ids = sorted(account_ids)
    if not ids:
        return {}
    accounts: dict[int, AccountState] = {}
    flags = Account.objects.filter(id__in=ids).values_list(
        "id", "ledger_id", "is_hot", "debits_must_not_exceed_credits", "credits_must_not_exceed_debits"
    )
    for row in flags:
        accounts[row[0]] = AccountState(*row)
    cold = [account_id for account_id, account in accounts.items() if not account.hot]
    if cold:
        locked = (
            Account.objects.filter(id__in=sorted(cold))
            .order_by("id")
            .select_for_update()
            .values_list("id", "debits_pending", "debits_posted", "credits_pending", "credits_posted", "credit_limit")
        )
        for account_id, debits_pending, debits_posted, credits_pending, credits_posted, credit_limit in locked:
            account = accounts[account_id]
            account.credit_limit = credit_limit
            account.debits_pending, account.debits_posted = debits_pending, debits_posted
            account.credits_pending, account.credits_posted = credits_pending, credits_posted
    return accounts


def write_plan(plan: Plan, now: datetime) -> None:
    """Write the plan: transfers, resolved pending transfers, account totals (see `apps.tokens.services.transfers`)."""
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
    INSERT INTO tokens_transfer ({", ".join(TRANSFER_COLUMNS)})
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
        raise LostRace()


def _write_portable(
    rows: list[tuple], resolved: list[tuple[str, str]], deltas: dict[int, list[int]], now: datetime
) -> None:
    """SQLite (one writer at a time: IMMEDIATE transactions): plain statements, hot accounts updated in place."""
    adapt = connection.ops.adapt_datetimefield_value
    rows = [(*row[:8], adapt(row[8]), *row[9:16], adapt(row[16]), adapt(row[17])) for row in rows]
    with connection.cursor() as cursor:
        if rows:
            placeholders = ", ".join(["%s"] * len(TRANSFER_COLUMNS))
            cursor.executemany(
                f"INSERT INTO tokens_transfer ({', '.join(TRANSFER_COLUMNS)}) VALUES ({placeholders})",  # noqa: S608
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
