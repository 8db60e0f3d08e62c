"""Benchmark of the delivery's settle step (apps.delivery.settling): what one settle batch of N deliveries costs in
statements, PostgreSQL round trips and CPU.

`--seed` sets the database up: a funded, priced client organisation, `--providers` providers with one SIM each, and
`--deliveries` messages submitted, dispatched, acknowledged by the provider the dispatcher chose and reported
`delivered` (unsigned, as REPORTS_ALLOW_UNSIGNED allows), their settling left to the settle step — the state a settle
task finds. Without `--seed` the script copies the seeded database (`<name>_seed`, PostgreSQL's template copy) over
the `_bench` one first, so every run, of any worktree, settles the same deliveries.

Then, for each batch size of `--sizes`, it settles the oldest deliveries in batches of that size (after a warm batch:
statements prepared, accounts read), and prints one batch's statements (Django's query log) and round trips (libpq's
trace, apps.core.tests.round_trips: BEGIN and COMMIT included), then the CPU of this process per batch over
`--rounds` batches. `--sql` lists the round trips' statements; `--profile` runs the timed batches under cProfile (its
times inflated by the profiler) and prints the top of the profile.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_settle_bench REDIS_URL=redis://127.0.0.1:6379/3 \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/4 .venv/bin/python benchmarks/settle.py --seed
    ... .venv/bin/python benchmarks/settle.py --sizes 1,10,50

The database's name must end in `_bench`. This is a measurement, not a test: nothing here fails on a slow machine.
"""

import argparse
import cProfile
import os
import pstats
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.development")
os.environ["DEBUG"] = "false"  # no query log kept in memory
os.environ.setdefault("LOG_LEVEL", "WARNING")

from benchmarks.common import bench_database_url
from benchmarks.reports import UNLIMITED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", action="store_true", help="set up the seeded database (slow), then exit")
    parser.add_argument("--deliveries", type=int, default=1000, help="deliveries to seed")
    parser.add_argument("--providers", type=int, default=20, help="providers to seed (the dispatcher spreads jobs)")
    parser.add_argument("--sizes", default="1,10,50", help="batch sizes")
    parser.add_argument("--rounds", type=int, default=0, help="timed batches per size (default: ~200 deliveries)")
    parser.add_argument("--sql", action="store_true", help="list one batch's round trips")
    parser.add_argument("--profile", action="store_true", help="time the batches under cProfile")
    parser.add_argument("--top", type=int, default=40, help="profile lines to print")
    args = parser.parse_args()

    url = bench_database_url()
    name = urlparse(url).path.lstrip("/")
    seed = f"{name}_seed"
    if not args.seed:
        _copy(url, template=seed, name=name)

    import django

    django.setup()
    from django.test.utils import override_settings

    with override_settings(**UNLIMITED, DELIVERY_SETTLE_LINGER_MS=300, REPORTS_ALLOW_UNSIGNED=True):
        if args.seed:
            _seed(args.deliveries, args.providers)
            from django.db import connections

            connections.close_all()
            _copy(url, template=name, name=seed)
            print(f"seeded {seed}: {args.deliveries} deliveries of {args.providers} providers")
            return
        _measure([int(size) for size in args.sizes.split(",")], args)


def _copy(url: str, *, template: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        # This process's own connections (a pool's, a thread's) may still be open on the template.
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [template],
        )
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        for _attempt in range(20):
            try:
                connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                return
            except psycopg.errors.ObjectInUse:  # the terminated sessions take a moment to end
                time.sleep(0.5)
        raise RuntimeError(f"{template} stays in use")


def _seed(deliveries: int, providers: int) -> None:
    from django.core.management import call_command
    from django.utils import timezone

    from apps.accounts.services import client_create, client_go_live, client_plan_internal
    from apps.accounts.tests.factories import UserFactory
    from apps.delivery.reports import ReportInput, reports_submit_batch
    from apps.incentives.choices import Route
    from apps.incentives.models import Price
    from apps.incentives.tests.conftest import CROSS, ON_NET, fund
    from apps.messaging.models import Job
    from apps.messaging.services import MessageInput, job_accept, message_submit, messages_dispatch_due
    from apps.providers.choices import Carrier, MatchPriority
    from apps.providers.tests.factories import provider_with_sim

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    organization = client_create(user=UserFactory(), name="Settle benchmark")
    client_go_live(organization=organization, actor=None, reason="benchmark", plan=client_plan_internal())
    for priority in MatchPriority.values:
        for route in Route.values:
            Price.objects.create(priority=priority, route=route, amount=ON_NET if route == "on_net" else CROSS)
    fund(organization, 10**15)
    carriers = [Carrier.CELLCARD, Carrier.SMART, Carrier.METFONE]
    for index in range(providers):
        provider_with_sim(carriers[index % len(carriers)])
    for number in range(deliveries):
        data = MessageInput(to=f"01{number % 3 + 1} {300000 + number:06d}", body="Hi")
        message = message_submit(organization=organization, api_key=None, data=data)
        outcome = messages_dispatch_due(priority=message.priority)
        assert outcome.get("assigned") == 1, (number, outcome)
        job = Job.objects.select_related("provider__user").get(message=message)
        job_accept(job_id=job.pk, user=job.provider.user)
        # Offered a minute ago: no delivery looks implausibly fast (a strike would void its reward).
        Job.objects.filter(pk=job.pk).update(offered_at=timezone.now() - timedelta(minutes=1))
        moment = timezone.now()
        text = moment.isoformat().replace("+00:00", "Z")
        item = ReportInput(job_id=job.pk, status="delivered", occurred_at=moment, occurred_at_text=text, signature="")
        [result] = reports_submit_batch(user=job.provider.user, items=[item])
        assert not isinstance(result, Exception) and result.message_status == "delivered", result


def _measure(sizes: list[int], args: argparse.Namespace) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.core.tests.round_trips import RoundTrips
    from apps.delivery.models import DeliveryReport
    from apps.delivery.settling import deliveries_settle

    def cuts(size: int, batches: int) -> list:
        """The `received_before` of each of the next `batches` batches of `size` (the oldest first)."""
        rows = DeliveryReport.objects.exclude(unsettled="").order_by("received_at", "pk")
        times = list(rows.values_list("received_at", flat=True)[: size * batches + 1])
        if len(times) < size * batches + 1:
            return []
        return [times[size * (index + 1)] for index in range(batches)]

    def settle(before, size: int) -> None:
        assert deliveries_settle(received_before=before) == size

    print(f"load average at start: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    # Warm: statements prepared, most providers' accounts opened and read, the day's stat rows made.
    for size in (1, 100, 100):
        [before] = cuts(size, 1)
        settle(before, size)
    for size in sizes:
        rounds = args.rounds or min(50, max(4, 150 // size))
        befores = cuts(size, rounds + 2)
        if not befores:
            print(f"batches of {size}: too few deliveries left (seed more)")
            continue
        rows = DeliveryReport.objects.exclude(unsettled="").order_by("received_at", "pk")
        providers = len(set(rows.values_list("provider_id", flat=True)[:size]))
        with CaptureQueriesContext(connection) as captured:
            settle(befores[0], size)
        with RoundTrips() as trips:
            settle(befores[1], size)
        print(
            f"batches of {size} ({providers} providers): {len(captured.captured_queries)} statements,"
            f" {trips.count} round trips"
        )
        if args.sql:
            for statement in trips.statements:
                print(f"    {' '.join(statement.split())[:200]}")
        # On this process's CPU clock: a wall clock counts the waits for PostgreSQL and a busy machine's cores.
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        load = os.getloadavg()[0]
        start = time.process_time()
        if profiler:
            profiler.enable()
        for before in befores[2:]:
            settle(before, size)
        if profiler:
            profiler.disable()
        cpu = time.process_time() - start
        print(
            f"batches of {size}: CPU {cpu / rounds * 1000:.2f} ms per batch, {cpu / rounds / size * 1000:.3f} ms per"
            f" delivery ({rounds} batches, load {load:.2f}{', profiled' if profiler else ''})"
        )
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
