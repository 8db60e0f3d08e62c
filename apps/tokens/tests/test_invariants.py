"""The ledger's invariants under a seeded random workload: 0 imbalance, no bound passed, each id applied once,
stored balances equal to the ones recomputed from the transfers — with 8 concurrent writers on PostgreSQL, and the
same workload single-threaded on either database (which must give the same results on both)."""

import hashlib
import json
import random
import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
from django.db import connection, connections

from apps.accounts.tests.factories import UserFactory
from apps.providers.tests.factories import ProviderFactory
from apps.tokens.choices import Reason
from apps.tokens.models import Account, Transfer
from apps.tokens.reconciliation import ledger_check
from apps.tokens.selectors import account_balance
from apps.tokens.services import TransferSpec, hot_balances_roll_up, pending_transfers_expire, transfers_create
from apps.tokens.tests.workload import Book, batches, book_open

WRITERS = 8
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def open_book() -> Book:
    from apps.accounts.services import client_create

    clients = [client_create(user=UserFactory(), name=f"Client {n}") for n in range(4)]
    return book_open(clients, [ProviderFactory() for _ in range(4)])


def assert_sound(book: Book, outcomes: list[tuple[str, str]]) -> None:
    check = ledger_check()
    assert (check.breaks, check.report) == (0, [])
    assert set(check.imbalance.values()) == {0}
    applied = Counter(transfer_id for transfer_id, result in outcomes if result == "ok")
    assert applied and max(applied.values()) == 1, "an id was applied twice"
    assert set(Transfer.objects.values_list("id", flat=True)) == set(applied)
    for account in Account.objects.filter(pk__in=book.clients + book.providers):
        assert account_balance(account).available >= 0


def run(book: Book, work: list[tuple[datetime, list]], expire_every: int | None) -> list[tuple[str, str]]:
    outcomes = []
    for number, (now, specs) in enumerate(work):
        outcomes.extend(zip((spec.id for spec in specs), transfers_create(specs, now=now), strict=True))
        if expire_every and number % expire_every == 0:
            pending_transfers_expire(now=now)
    return outcomes


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="real parallel transactions: PostgreSQL")
def test_eight_concurrent_writers_keep_every_invariant():
    book = open_book()
    barrier = threading.Barrier(WRITERS)
    outcomes: list[tuple[str, str]] = []
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        try:
            work = batches(book, seed=seed, count=25, size=20, start=START)
            barrier.wait(timeout=30)
            outcomes.extend(run(book, work, expire_every=5 if seed % 2 else None))
            hot_balances_roll_up()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    results = Counter(result for _, result in outcomes)
    # The workload really exercised the refusals and races it is meant to.
    for code in ("ok", "exists", "exists_with_different_fields", "exceeds_credits", "linked_event_failed"):
        assert results[code] > 0, results
    assert results["pending_transfer_already_posted"] + results["pending_transfer_already_voided"] > 0
    assert_sound(book, outcomes)
    # Queued changes of hot accounts may wait for the roll-up; the check counted them, and rolling up keeps it sound.
    hot_balances_roll_up()
    assert_sound(book, outcomes)


@pytest.mark.django_db
def test_the_same_workload_single_threaded_gives_the_same_results_on_every_database():
    book = open_book()
    work = [batch for seed in range(WRITERS) for batch in batches(book, seed=seed, count=6, size=20, start=START)]
    work.sort(key=lambda batch: batch[0])
    outcomes = run(book, work, expire_every=4)
    assert_sound(book, outcomes)
    hot_balances_roll_up()
    balances = []
    for account_id in book.ordered:
        balance = account_balance(Account.objects.get(pk=account_id))
        balances.append(
            [balance.debits_pending, balance.debits_posted, balance.credits_pending, balance.credits_posted]
        )
    digest = hashlib.sha256(json.dumps([[result for _, result in outcomes], balances]).encode()).hexdigest()
    # Recorded from a run; SQLite and PostgreSQL must both reproduce it exactly.
    assert digest == EXPECTED_DIGEST, (digest, Counter(result for _, result in outcomes))


EXPECTED_DIGEST = "0348ca154eef588dfb37d23dca94baa48aeedf863509472db585cd47fcb902a1"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="real parallel transactions: PostgreSQL")
def test_writers_reusing_the_same_ids_for_different_transfers_neither_deadlock_nor_book_twice():
    book = open_book()
    for client in book.clients:
        transfers_create([TransferSpec(id=f"fund:{client}", amount=10**6, debit_account_id=book.issuance,
                                       credit_account_id=client, reason=Reason.TOP_UP)])  # fmt: skip
    barrier = threading.Barrier(WRITERS)
    outcomes: list[tuple[str, str]] = []
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        # Every writer books ids charge:0..59 in its own order, from its own client: same ids, different fields.
        rng = random.Random(seed)
        ids = list(range(60))
        rng.shuffle(ids)
        client = book.clients[seed % len(book.clients)]
        specs = [TransferSpec(id=f"charge:{n}", amount=seed + 1, debit_account_id=client,
                              credit_account_id=book.revenue, reason=Reason.CHARGE) for n in ids]  # fmt: skip
        try:
            barrier.wait(timeout=30)
            for start in range(0, 60, 20):
                batch = specs[start : start + 20]
                outcomes.extend(zip((spec.id for spec in batch), transfers_create(batch), strict=True))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert Counter(result for _, result in outcomes) == {"ok": 60, "exists_with_different_fields": 60 * (WRITERS - 1)}
    hot_balances_roll_up()
    assert ledger_check().breaks == 0
