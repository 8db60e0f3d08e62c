"""Benchmark of the PPT ledger (`apps.tokens.services.transfers_create`) on PostgreSQL, hot platform accounts involved.

Every transfer touches a hot platform account, as real traffic does: holds and charges credit revenue, rewards
debit rewards, top-ups debit issuance. Prints:

- single transfers, one per call and transaction: p50 / p99 latency (ms);
- batches of 100 and of 1,000 (a realistic mix: holds, posts of the previous batch's holds in full or part, charges,
  rewards): transfers/s;
- 8 concurrent writer processes, batches of 100, each on its own clients, all on the same hot accounts: total
  transfers/s, and how often a writer waited on a lock (pg_stat_activity sampled every 10 ms) — then the same run
  with the platform accounts made ordinary (locked by every writer), to show what the hot-account design saves;
- `ledger_check` at the end (must report 0 breaks);
- and, as a yardstick of the machine, the cheapest durable write (a one-row UPDATE and COMMIT): on a shared machine
  the commit's WAL flush sets the floor under every single-transfer figure.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_ledger_bench .venv/bin/python benchmarks/ledger.py

The database name must end in `_bench`: the script creates it if needed and empties the ledger's tables. This is
a measurement, not a test: nothing here fails on a slow machine.
"""

import argparse
import multiprocessing
import os
import platform
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.development")
os.environ["DEBUG"] = "false"  # no query log kept in memory
os.environ.setdefault("LOG_LEVEL", "WARNING")

from benchmarks.common import bench_database_url, percentile

CLIENTS = 2000
WRITERS = 8


def setup_django() -> None:
    import django

    django.setup()


def load(clients: int) -> dict:
    """Empty the ledger, open `clients` client accounts and fund each generously; the platform accounts' ids."""
    from django.db import connection

    from apps.accounts.models import ClientOrganization
    from apps.tokens.choices import PlatformAccount, Reason
    from apps.tokens.models import Account
    from apps.tokens.services import TransferSpec, platform_account, transfers_create

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE tokens_transfer, tokens_hotbalancedelta, tokens_adjustment, tokens_ledgercheck")
        cursor.execute(
            "UPDATE tokens_account SET debits_pending = 0, debits_posted = 0, credits_pending = 0, credits_posted = 0"
        )
    existing = Account.objects.filter(owner_kind="client").count()
    if existing < clients:
        organizations = ClientOrganization.objects.bulk_create(
            [ClientOrganization(name=f"bench client {n}") for n in range(existing, clients)]
        )
        Account.objects.bulk_create(
            [
                Account(
                    ledger_id=1, owner_kind="client", organization=organization, debits_must_not_exceed_credits=True
                )
                for organization in organizations
            ]
        )
    ids = {
        name: platform_account(name).pk
        for name in (PlatformAccount.ISSUANCE, PlatformAccount.REVENUE, PlatformAccount.REWARDS)
    }
    Account.objects.filter(pk__in=ids.values()).update(is_hot=True)
    client_ids = list(Account.objects.filter(owner_kind="client").order_by("id").values_list("id", flat=True)[:clients])
    top_ups = [
        TransferSpec(
            id=f"top-up:{client}", amount=10**15, debit_account_id=ids["issuance"], credit_account_id=client,
            reason=Reason.TOP_UP,
        )
        for client in client_ids
    ]  # fmt: skip
    for start in range(0, len(top_ups), 1000):
        assert set(transfers_create(top_ups[start : start + 1000])) == {"ok"}
    return {**ids, "clients": client_ids}


def mixed_batches(book: dict, rng: random.Random, *, prefix: str, batches: int, size: int, clients: list[int]) -> list:
    """Batches of holds (40 %), posts of the previous batch's holds (≈40 %), charges and rewards."""
    from apps.tokens.choices import Reason
    from apps.tokens.services import TransferSpec

    out, previous_holds = [], []
    for number in range(batches):
        specs, holds = [], []
        for hold in previous_holds:
            amount = None if rng.random() < 0.7 else rng.randrange(1, 1000)
            specs.append(TransferSpec(id=f"{hold}:post", post_pending_id=hold, amount=amount, reason=Reason.CHARGE))
        while len(specs) < size:
            n = f"{prefix}:{number}:{len(specs)}"
            client = rng.choice(clients)
            roll = rng.random()
            if roll < 0.5 and len(holds) < size * 0.4:
                holds.append(f"hold:{n}")
                specs.append(
                    TransferSpec(
                        id=f"hold:{n}", amount=rng.randrange(1000, 5000), debit_account_id=client,
                        credit_account_id=book["revenue"], reason=Reason.CHARGE, pending=True, timeout_seconds=3600,
                        message_id=len(specs),
                    )
                )  # fmt: skip
            elif roll < 0.8:
                specs.append(
                    TransferSpec(
                        id=f"charge:{n}", amount=rng.randrange(1, 5000), debit_account_id=client,
                        credit_account_id=book["revenue"], reason=Reason.CHARGE,
                    )
                )  # fmt: skip
            else:
                specs.append(
                    TransferSpec(
                        id=f"reward:{n}", amount=rng.randrange(1, 500), debit_account_id=book["rewards"],
                        credit_account_id=client, reason=Reason.REWARD,
                    )
                )  # fmt: skip
        out.append(specs[:size])
        previous_holds = [spec.id for spec in specs[:size] if spec.pending]
    return out


def single_latency(book: dict, rng: random.Random, count: int, prefix: str = "single") -> list[float]:
    from apps.tokens.choices import Reason
    from apps.tokens.services import TransferSpec, transfers_create

    samples = []
    for n in range(count):
        spec = TransferSpec(
            id=f"{prefix}:{n}", amount=rng.randrange(1, 5000), debit_account_id=rng.choice(book["clients"]),
            credit_account_id=book["revenue"], reason=Reason.CHARGE, message_id=n,
        )  # fmt: skip
        started = time.perf_counter()
        result = transfers_create([spec])
        samples.append((time.perf_counter() - started) * 1000)
        assert result == ["ok"], result
    return samples


def commit_yardstick(book: dict, count: int) -> list[float]:
    """The cheapest durable write, as a yardstick of the machine at that moment: a one-row UPDATE and COMMIT."""
    from django.db import connection, transaction

    samples = []
    with connection.cursor() as cursor:
        for n in range(count):
            started = time.perf_counter()
            with transaction.atomic():
                cursor.execute("UPDATE tokens_account SET created_at = created_at WHERE id = %s", [book["clients"][n]])
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def batched_rate(book: dict, rng: random.Random, *, size: int, total: int, prefix: str) -> tuple[float, Counter]:
    from apps.tokens.services import transfers_create

    batches = mixed_batches(book, rng, prefix=prefix, batches=total // size, size=size, clients=book["clients"])
    results: Counter = Counter()
    started = time.perf_counter()
    for specs in batches:
        results.update(transfers_create(specs))
    elapsed = time.perf_counter() - started
    return sum(len(specs) for specs in batches) / elapsed, results


def writer(book: dict, seed: int, prefix: str, batches: int, size: int, ready, start, done) -> None:
    """One of the concurrent writers (a process of its own): its own clients, the shared hot accounts."""
    setup_django()
    from apps.tokens.services import transfers_create

    rng = random.Random(seed)
    mine = book["clients"][seed::WRITERS]
    work = mixed_batches(book, rng, prefix=f"{prefix}:{seed}", batches=batches, size=size, clients=mine)
    results: Counter = Counter()
    ready.put(seed)
    start.wait()
    for specs in work:
        results.update(transfers_create(specs))
    done.put(dict(results))


def concurrent_rate(book: dict, *, prefix: str, batches: int, size: int) -> tuple[float, Counter, dict]:
    """Total transfers/s of WRITERS processes, and lock waits seen in pg_stat_activity while they ran."""
    from django.db import connection

    context = multiprocessing.get_context("spawn")
    ready, start, done = context.Queue(), context.Event(), context.Queue()
    processes = [
        context.Process(target=writer, args=(book, seed, prefix, batches, size, ready, start, done))
        for seed in range(WRITERS)
    ]
    for process in processes:
        process.start()
    for _ in processes:  # every writer has imported Django, connected and built its batches
        ready.get(timeout=120)
    waits: Counter = Counter()
    samples = 0
    started = time.perf_counter()
    start.set()
    finished: list = []
    with connection.cursor() as cursor:
        while len(finished) < WRITERS:
            cursor.execute(
                "SELECT wait_event_type, wait_event, count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' "
                "GROUP BY 1, 2"
            )
            samples += 1
            for wait_type, wait_event, count in cursor.fetchall():
                waits[f"{wait_type}:{wait_event}" if wait_type else "running"] += count
            while not done.empty():
                finished.append(done.get())
            time.sleep(0.01)
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    results: Counter = Counter()
    for outcome in finished:
        results.update(outcome)
    return WRITERS * batches * size / elapsed, results, {"samples": samples, "waits": dict(waits.most_common(6))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--single", type=int, default=2000, help="single transfers timed one by one")
    parser.add_argument("--total", type=int, default=20000, help="transfers per batched run")
    parser.add_argument("--writer-batches", type=int, default=40, help="batches of 100 per concurrent writer")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    bench_database_url()
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    from apps.tokens.models import Account
    from apps.tokens.reconciliation import ledger_check
    from apps.tokens.services import hot_balances_roll_up

    call_command("migrate", verbosity=0)
    rng = random.Random(args.seed)
    book = load(CLIENTS)
    print(
        f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"PostgreSQL {connection.pg_version // 10000}; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    print(f"{CLIENTS} funded client accounts; issuance, revenue, rewards hot (never locked by writers)")

    yardstick = commit_yardstick(book, 500)
    print(
        f"yardstick, one-row UPDATE + COMMIT: p50 {percentile(yardstick, 0.5):.2f} ms, "
        f"p99 {percentile(yardstick, 0.99):.2f} ms"
    )
    samples = single_latency(book, rng, args.single)
    print(
        f"single transfer ({args.single}, one per transaction): p50 {percentile(samples, 0.5):.2f} ms, "
        f"p99 {percentile(samples, 0.99):.2f} ms, max {max(samples):.2f} ms"
    )
    for size in (100, 1000):
        rate, results = batched_rate(book, rng, size=size, total=args.total, prefix=f"b{size}")
        print(f"batches of {size:>5}: {rate:>8,.0f} transfers/s  {dict(results)}  load {os.getloadavg()[0]:.2f}")

    for label, hot in (("hot accounts (as designed)", True), ("platform accounts locked like others", False)):
        hot_balances_roll_up()
        Account.objects.filter(owner_kind="platform").update(is_hot=hot)
        rate, results, waits = concurrent_rate(book, prefix=f"w{int(hot)}", batches=args.writer_batches, size=100)
        print(
            f"{WRITERS} writers, batches of 100, {label}: {rate:,.0f} transfers/s {dict(results)}\n"
            f"    backends seen in {waits['samples']} samples: {waits['waits']}  load {os.getloadavg()[0]:.2f}"
        )
    Account.objects.filter(owner_kind="platform", platform__in=["issuance", "revenue", "rewards"]).update(is_hot=True)

    hot_balances_roll_up()
    check = ledger_check()
    print(
        f"ledger_check: {check.transfers:,} transfers, {check.accounts} accounts, {check.duration_ms} ms, "
        f"breaks {check.breaks}, imbalance {check.imbalance}"
    )


if __name__ == "__main__":
    main()
