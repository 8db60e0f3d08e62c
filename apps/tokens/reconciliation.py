"""Reconciliation: every balance recomputed from the transfers, every invariant checked from scratch.

Run by `manage.py ledger_check` and the daily `tokens.ledger_check` task; each run is kept as a `LedgerCheck` row,
the latest of which `/metrics` reports (`peerpower_ledger_imbalance`, `peerpower_ledger_breaks`). Reads only: the
checks run in one REPEATABLE READ snapshot on PostgreSQL (one transaction on SQLite), so transfers committed
meanwhile cannot make stored totals and recomputed ones disagree.
"""

import time
from collections import defaultdict
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from apps.tokens.models import Account, HotBalanceDelta, Ledger, LedgerCheck, Transfer

REPORT_LIMIT = 200
COLUMNS = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")

_RECOMPUTE = """
SELECT account_id, SUM(dp), SUM(dpo), SUM(cp), SUM(cpo) FROM (
    SELECT debit_account_id AS account_id,
           CASE WHEN kind = 'pending' AND status = 'pending' THEN amount ELSE 0 END AS dp,
           CASE WHEN kind IN ('single', 'post') THEN amount ELSE 0 END AS dpo,
           0 AS cp, 0 AS cpo
      FROM tokens_transfer
    UNION ALL
    SELECT credit_account_id, 0, 0,
           CASE WHEN kind = 'pending' AND status = 'pending' THEN amount ELSE 0 END,
           CASE WHEN kind IN ('single', 'post') THEN amount ELSE 0 END
      FROM tokens_transfer
) entries GROUP BY account_id
"""
# Transfers whose accounts are not on their ledger, or missing (the database prevents both on PostgreSQL).
_WRONG_LEDGER = """
SELECT t.id FROM tokens_transfer t
  LEFT JOIN tokens_account d ON d.id = t.debit_account_id
  LEFT JOIN tokens_account c ON c.id = t.credit_account_id
 WHERE d.id IS NULL OR c.id IS NULL OR d.ledger_id <> t.ledger_id OR c.ledger_id <> t.ledger_id
    OR t.amount <= 0 OR t.debit_account_id = t.credit_account_id
"""
# A post or void must match its pending transfer's status, accounts and amount; a posted or voided pending
# transfer must have the transfer that did it.
_RESOLUTIONS = """
SELECT r.id FROM tokens_transfer r JOIN tokens_transfer p ON p.id = r.pending_id
 WHERE p.kind <> 'pending'
    OR (r.kind = 'post' AND (p.status <> 'posted' OR r.amount > p.amount))
    OR (r.kind = 'void' AND (p.status <> 'voided' OR r.amount <> p.amount))
    OR r.debit_account_id <> p.debit_account_id OR r.credit_account_id <> p.credit_account_id
UNION ALL
SELECT p.id FROM tokens_transfer p LEFT JOIN tokens_transfer r ON r.pending_id = p.id
 WHERE p.kind = 'pending' AND p.status IN ('posted', 'voided') AND r.id IS NULL
"""


def ledger_check() -> LedgerCheck:
    """Check everything and store the outcome (`breaks` = 0 when the ledger is sound)."""
    started, clock = timezone.now(), time.monotonic()
    own_snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if own_snapshot:  # inside a caller's transaction, its snapshot rules
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        outcome = _check()
    return LedgerCheck.objects.create(started_at=started, duration_ms=int((time.monotonic() - clock) * 1000), **outcome)


def _check() -> dict[str, Any]:
    report: list[dict] = []
    breaks = 0

    def found(check: str, **detail: Any) -> None:
        nonlocal breaks
        breaks += 1
        if len(report) < REPORT_LIMIT:
            report.append({"check": check, **detail})

    codes = dict(Ledger.objects.values_list("id", "code"))
    with connection.cursor() as cursor:
        cursor.execute(_RECOMPUTE)
        recomputed = {row[0]: tuple(int(value) for value in row[1:]) for row in cursor.fetchall()}
        cursor.execute(_WRONG_LEDGER)
        for (transfer_id,) in cursor.fetchall():
            found("transfer_invalid", transfer=transfer_id)
        cursor.execute(_RESOLUTIONS)
        for (transfer_id,) in cursor.fetchall():
            found("pending_resolution", transfer=transfer_id)

    queued: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in HotBalanceDelta.objects.values_list("account_id", *COLUMNS):
        for position in range(4):
            queued[row[0]][position] += row[position + 1]

    imbalance: dict[str, int] = {code: 0 for code in codes.values()}
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    fields = (
        "id",
        "ledger_id",
        "debits_must_not_exceed_credits",
        "credits_must_not_exceed_debits",
        "credit_limit",
        *COLUMNS,
    )
    accounts = 0
    for account_id, ledger_id, debits_bounded, credits_bounded, credit_limit, *stored in Account.objects.values_list(
        *fields
    ):
        accounts += 1
        total = [stored[position] + queued.get(account_id, (0, 0, 0, 0))[position] for position in range(4)]
        expected = recomputed.pop(account_id, (0, 0, 0, 0))
        code = codes[ledger_id]
        if tuple(total) != expected:
            imbalance[code] += sum(abs(total[position] - expected[position]) for position in range(4))
            found("balance_mismatch", account=account_id, stored=total, recomputed=list(expected))
        debits_pending, debits_posted, credits_pending, credits_posted = expected
        if debits_bounded and debits_pending + debits_posted > credits_posted + credit_limit:
            found("bound_passed", account=account_id, bound="debits_must_not_exceed_credits")
        if credits_bounded and credits_pending + credits_posted > debits_posted:
            found("bound_passed", account=account_id, bound="credits_must_not_exceed_debits")
        if min(total) < 0:
            found("negative_total", account=account_id, stored=total)
        for position in range(4):
            sums[ledger_id][position] += total[position]
    for account_id in recomputed:
        found("account_missing", account=account_id)
    for ledger_id, (debits_pending, debits_posted, credits_pending, credits_posted) in sums.items():
        difference = abs(debits_pending - credits_pending) + abs(debits_posted - credits_posted)
        if difference:
            imbalance[codes[ledger_id]] += difference
            found(
                "ledger_unbalanced",
                ledger=codes[ledger_id],
                debits=[debits_pending, debits_posted],
                credits=[credits_pending, credits_posted],
            )
    return {
        "transfers": Transfer.objects.count(),
        "accounts": accounts,
        "breaks": breaks,
        "imbalance": imbalance,
        "report": report,
    }
