"""Benchmark of provider matching on PostgreSQL: 1k, 10k and 100k providers.

For each size it loads providers (cumulatively) into a database of its own, then times `match_one` (the whole
service: hot query, weighted pick, reservation, commit) and the hot query alone, prints p50 / p99, and prints
`EXPLAIN (ANALYZE, BUFFERS)` of the hot query and of the reservation statement (run, then rolled back). It also
times a saturated network, where every online provider is at its in-flight limit and each match answers "no
capacity" (20 matches: the first one after every SIM left the index at once walks the dead index entries, so
"full p99" is that one), matches as dispatch makes them, with a sticky-sender lookup first ("sticky"), and, as a
yardstick of the machine at that moment, the cheapest durable write: one-row UPDATE and COMMIT ("write").

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_providers_bench .venv/bin/python benchmarks/matching.py
    (add REDIS_URL=redis://127.0.0.1:6379/3 to count caps in Redis; --sizes 1000 10000 --matches 500 for less)

The database name must end in `_bench`: the script creates it if needed and empties its providers tables. This is
a measurement, not a test: nothing here fails on a slow machine.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.development")
os.environ["DEBUG"] = "false"  # no query log kept in memory
os.environ.setdefault("LOG_LEVEL", "WARNING")

from benchmarks.common import bench_database_url, percentile, sims_and_phones_create

# Market shares of Cambodian mobile subscribers (roughly): who providers are, and who recipients are.
CARRIER_SHARES = {"smart": 0.45, "metfone": 0.30, "cellcard": 0.22, "seatel": 0.03}
BATCH = 5000


def match_one(**request: object) -> object:
    """One message matched as dispatch matches it: a batch of one."""
    from apps.providers.services import MatchRequest, providers_match_batch

    return providers_match_batch([MatchRequest(**request)]).assignments[0]


def load(start: int, end: int, rng: random.Random) -> None:
    """Providers start..end-1, each with one SIM (30% with a second on another carrier) and a phone."""
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.providers.models import Provider

    now = timezone.now()
    for batch_start in range(start, end, BATCH):
        numbers = range(batch_start, min(end, batch_start + BATCH))
        users = User.objects.bulk_create(
            [User(phone=f"+85560{n:07d}", password="!", display_name=f"bench {n}") for n in numbers]  # noqa: S106
        )
        providers = []
        for user in users:
            roll = rng.random()
            status = "active" if roll < 0.9 else ("pending" if roll < 0.95 else "suspended")
            roll = rng.random()
            availability = "online" if roll < 0.6 else ("busy" if roll < 0.7 else "offline")
            providers.append(
                Provider(
                    user=user,
                    status=status,
                    availability=availability,
                    chosen_availability=availability,
                    reputation=rng.randint(200, 900),
                    jobs_delivered=rng.randint(0, 500),
                    jobs_failed=rng.randint(0, 40),
                    last_heartbeat_at=now - timedelta(seconds=rng.uniform(0, 60)),
                )
            )
        Provider.objects.bulk_create(providers)
        sims_and_phones_create(
            providers,
            rng,
            now=now,
            carrier_shares=CARRIER_SHARES,
            second_sim_share=0.3,
            turn_offset=(-600, 600),
        )


def refresh_heartbeats() -> None:
    """Phones that are up have all been heard from within the last interval, as the app would ensure."""
    from django.db import connection

    from apps.providers.services import sims_resync_matchable

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE providers_provider SET last_heartbeat_at = now() - random() * interval '60 seconds', "
            "jobs_in_flight = 0 WHERE availability <> 'offline'"
        )
        cursor.execute("UPDATE providers_sim SET capped_until = NULL WHERE capped_until IS NOT NULL")
    sims_resync_matchable()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE providers_provider; ANALYZE providers_sim;")


def time_matches(count: int, rng: random.Random) -> tuple[list[float], list[float], list[float], int]:
    """Times the hot query alone, the whole match, and (as a yardstick of what the machine allows at that moment)
    the cheapest durable write: a transaction updating one row, which waits for the same commit as a match."""
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from apps.providers.selectors import sims_for_matching
    from apps.providers.services import capacity_release

    carriers, weights = list(CARRIER_SHARES), list(CARRIER_SHARES.values())
    match_ms, query_ms, write_ms, misses = [], [], [], 0
    for _ in range(count):
        carrier = rng.choices(carriers, weights)[0]
        started = time.perf_counter()
        sims_for_matching(carriers=[carrier], now=timezone.now(), limit=settings.PROVIDER_MATCH_POOL_SIZE)
        query_ms.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        assignment = match_one(recipient_carrier=carrier)
        match_ms.append((time.perf_counter() - started) * 1000)
        if assignment is None:
            misses += 1
            continue
        capacity_release(
            provider_id=assignment.provider_id,
            sim_id=assignment.sim_id,
            reserved_at=assignment.reserved_at,
            sms_sent=True,
        )
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE providers_provider SET jobs_in_flight = jobs_in_flight WHERE id = %s", [assignment.provider_id]
            )
        write_ms.append((time.perf_counter() - started) * 1000)
    return match_ms, query_ms, write_ms, misses


def time_sticky_matches(count: int, rng: random.Random) -> list[float]:
    """Matches as dispatch makes them: for a client and a recipient, so the sticky sender is looked up first.
    Recipients recur (1,000 of them), and each delivery is remembered, so about half the matches find one."""
    from apps.providers.services import capacity_release, sticky_sender_remember

    carriers, weights = list(CARRIER_SHARES), list(CARRIER_SHARES.values())
    recipients = [(f"+8551{n:07d}", carrier) for n, carrier in enumerate(rng.choices(carriers, weights, k=1000))]
    samples = []
    for _ in range(count):
        recipient, carrier = rng.choice(recipients)
        started = time.perf_counter()
        assignment = match_one(recipient_carrier=carrier, client_ref="bench", recipient=recipient)
        samples.append((time.perf_counter() - started) * 1000)
        if assignment is not None:
            sticky_sender_remember(
                client_ref="bench", recipient=recipient, provider_id=assignment.provider_id, sim_id=assignment.sim_id
            )
            capacity_release(
                provider_id=assignment.provider_id,
                sim_id=assignment.sim_id,
                reserved_at=assignment.reserved_at,
                sms_sent=True,
            )
    return samples


def explain(carrier: str) -> str:
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from apps.providers.selectors import sims_for_matching_query

    sql, params = sims_for_matching_query(
        carriers=[carrier], now=timezone.now(), limit=settings.PROVIDER_MATCH_POOL_SIZE
    )
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(line for (line,) in cursor.fetchall())


def explain_reservation(carrier: str) -> str:
    """The reservation statement for the first candidate, run and rolled back (EXPLAIN ANALYZE executes it)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from apps.providers.selectors import sims_for_matching
    from apps.providers.services.matching import batch_reservation_statement

    now = timezone.now()
    candidate = sims_for_matching(carriers=[carrier], now=now, limit=1)[0]
    # Matching reserves through the batch statement (here a batch of one); the cap counters come after it.
    sql, params = batch_reservation_statement([(candidate, now + timedelta(minutes=2))], now=now, skip_locked=False)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
        transaction.set_rollback(True)
    return plan


def time_saturated(carrier: str, repeats: int = 20) -> list[float]:
    """Every provider is at its in-flight limit, as at the busiest moment: each match finds nothing."""
    from django.conf import settings
    from django.db import connection

    from apps.providers.services import sims_resync_matchable

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE providers_provider SET jobs_in_flight = %s WHERE availability = 'online'",
            [settings.PROVIDER_MAX_JOBS_IN_FLIGHT],
        )
    sims_resync_matchable()  # what reservations would have done one by one
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        assert match_one(recipient_carrier=carrier, allow_cross_carrier=False) is None
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--matches", type=int, default=2_000, help="timed matches per size")
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()

    bench_database_url()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from apps.providers.models import Sim
    from apps.providers.services import sims_resync_matchable

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE providers_stickysender, providers_availabilitychange, providers_simcounter, providers_device, "
            "providers_sim, providers_provider, audit_auditlog RESTART IDENTITY CASCADE"
        )
        # Phone numbers are encrypted: the benchmark's users are known by their display names.
        cursor.execute("DELETE FROM accounts_user WHERE display_name LIKE 'bench %%'")
    rng = random.Random(args.seed)
    counters = "redis" if settings.REDIS_URL else "database"
    print(f"PostgreSQL {connection.pg_version // 10000}, cap counters in {counters}, {args.matches} matches per size")
    print(
        f"{'providers':>10} {'sims':>8} {'match p50':>10} {'match p99':>10} {'query p50':>10} {'query p99':>10}"
        f" {'no match':>9} {'full p50':>9} {'full p99':>9} {'sticky p50':>11} {'sticky p99':>11}"
        f" {'write p50':>10} {'write p99':>10}"
    )
    loaded, plans, reservation_plans = 0, {}, {}
    for size in sorted(args.sizes):
        load(loaded, size, rng)
        loaded = size
        sims_resync_matchable()
        refresh_heartbeats()
        time_matches(200, rng)  # warm caches and the connection pool
        refresh_heartbeats()
        match_ms, query_ms, write_ms, misses = time_matches(args.matches, rng)
        sticky_ms = time_sticky_matches(args.matches, rng)
        plans[size] = explain("smart")
        reservation_plans[size] = explain_reservation("smart")
        saturated = time_saturated("smart")
        refresh_heartbeats()
        sims = Sim.objects.count()
        print(
            f"{size:>10} {sims:>8} {statistics.median(match_ms):>8.2f}ms {percentile(match_ms, 0.99):>8.2f}ms"
            f" {statistics.median(query_ms):>8.2f}ms {percentile(query_ms, 0.99):>8.2f}ms {misses:>9}"
            f" {statistics.median(saturated):>7.1f}ms {percentile(saturated, 0.99):>7.1f}ms"
            f" {statistics.median(sticky_ms):>9.2f}ms {percentile(sticky_ms, 0.99):>9.2f}ms"
            f" {statistics.median(write_ms):>8.2f}ms {percentile(write_ms, 0.99):>8.2f}ms",
            flush=True,
        )
    for size, plan in plans.items():
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the hot query for Smart at {size} providers:\n{plan}")
    for size, plan in reservation_plans.items():
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the reservation ({counters} counters) at {size} providers:\n{plan}")


if __name__ == "__main__":
    main()
