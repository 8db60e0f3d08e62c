"""Benchmark of delivery reports: what a `sent` and a `delivered` report cost, in round trips and milliseconds.

Sets up one client organisation and one provider (one SIM, a DID key), submits and dispatches `--pairs` messages
(their jobs accepted, offered a minute ago so no delivery looks implausibly fast), then for each job submits a
signed `sent` and `delivered` report through `reports_submit_batch`, as a phone's batch does (`--batch` jobs per
call). Prints the machine's load average, the database round trips of one warm `sent` and one warm `delivered`
report (`--sql` lists their statements), and the wall-clock and CPU time per sent+delivered pair. `--profile` runs
the same timed loop again under cProfile and prints the top of the profile (its times are inflated by the profiler).

`--statuses delivered --batch 20` measures a phone's batch of twenty `delivered` reports instead (a phone that holds
the receipt reports `delivered` alone); `--priced` gives the client PPT and prices, so each delivery captures the
client's hold as well as booking the provider's reward (the path production takes). CPU is also given per report.

A delivery's capture, reward, outcome and sticky sender are booked by the settle step a moment after its report
(apps.delivery.settling; its task is not run here): the timed loop measures the reports alone. `--settle 1,10,50`
then settles the timed deliveries in batches of each size (the oldest first, cut by their reports' time), and prints
the settle step's round trips per batch and CPU per delivery.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_reports_bench REDIS_URL=redis://127.0.0.1:6379/3 \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/4 .venv/bin/python benchmarks/reports.py --pairs 500

The database's name must end in `_bench`: the script creates it if needed, migrates it and empties it (`flush`).
Dispatch tasks are not run (no worker is needed). This is a measurement, not a test: nothing here fails on a slow
machine.
"""

import argparse
import base64
import cProfile
import os
import pstats
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.development")
os.environ["DEBUG"] = "false"  # no query log kept in memory
os.environ.setdefault("LOG_LEVEL", "WARNING")

from benchmarks.common import bench_database_url, percentile

# Capacity, caps and the burst rule out of the way: one provider takes every job, as fast as it is reported.
UNLIMITED = {
    "PROVIDER_MAX_JOBS_IN_FLIGHT": 10**8,
    "PROVIDER_SIM_HOURLY_CAP": 10**8,
    "PROVIDER_SIM_DAILY_CAP": 10**8,
    "PROVIDER_SIM_HOURLY_CAP_MAX": 10**8,
    "PROVIDER_SIM_DAILY_CAP_MAX": 10**8,
    "PROVIDER_SIM_WARMUP_DAYS": 0,
    "FRAUD_BURST_PER_MINUTE": 10**8,
    "MESSAGE_PUMPING_ADJACENT": 10**8,  # the recipients are consecutive numbers
    "MESSAGING_JOB_OFFER_HOOK": "apps.messaging.services.dispatch.job_offer_nothing",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=500, help="timed sent+delivered pairs (one job each)")
    parser.add_argument("--batch", type=int, default=1, help="jobs per reports_submit_batch call (2 reports each)")
    parser.add_argument(
        "--statuses", default="sent,delivered", help="the reports of each job, in order (e.g. `delivered` alone)"
    )
    parser.add_argument("--priced", action="store_true", help="prices and a funded client: holds are captured")
    parser.add_argument("--sql", action="store_true", help="print the statements of a sent and a delivered report")
    parser.add_argument("--settle", default="", help="batch sizes to settle the timed deliveries in, e.g. 1,10,50")
    parser.add_argument("--profile", action="store_true", help="then run the loop again under cProfile")
    parser.add_argument("--top", type=int, default=30, help="profile lines to print")
    args = parser.parse_args()

    bench_database_url()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, override_settings
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.accounts.services import client_create, client_go_live, client_plan_internal
    from apps.accounts.tests.factories import UserFactory
    from apps.accounts.tests.test_did import new_key
    from apps.delivery.reports import ReportInput, report_signing_text, reports_submit_batch
    from apps.messaging.models import Job
    from apps.messaging.services import MessageInput, job_accept, message_submit, messages_dispatch_due
    from apps.providers.choices import Carrier
    from apps.providers.tests.factories import provider_with_sim

    statuses = args.statuses.split(",")
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    key, did = new_key()

    def report(job: Job, status: str) -> ReportInput:
        moment = timezone.now()
        text = moment.isoformat().replace("+00:00", "Z")
        signed = report_signing_text(job_id=job.pk, status=status, occurred_at_text=text, trace_token=job.trace_token)
        signature = base64.b64encode(key.sign(signed.encode())).decode()
        return ReportInput(job_id=job.pk, status=status, occurred_at=moment, occurred_at_text=text, signature=signature)

    def pairs(jobs: list[Job]) -> list[list[ReportInput]]:
        batches = [jobs[start : start + args.batch] for start in range(0, len(jobs), args.batch)]
        return [[report(job, status) for job in batch for status in statuses] for batch in batches]

    def timed(batches: list[list[ReportInput]]) -> list[float]:
        durations = []
        for items in batches:
            start = time.perf_counter()
            results = reports_submit_batch(user=user, items=items)
            durations.append(time.perf_counter() - start)
            assert all(not isinstance(result, Exception) and not result.duplicate for result in results), results
        return durations

    with override_settings(**UNLIMITED):
        print(f"load average at start: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
        print(f"database: {connection.vendor}; setting up {args.pairs * (2 if args.profile else 1) + 2} jobs ...")
        organization = client_create(user=UserFactory(), name="Reports benchmark")
        client_go_live(organization=organization, actor=None, reason="benchmark", plan=client_plan_internal())
        if args.priced:
            from apps.incentives.choices import Route
            from apps.incentives.models import Price
            from apps.incentives.tests.conftest import CROSS, ON_NET, fund
            from apps.providers.choices import MatchPriority

            for priority in MatchPriority.values:
                for route in Route.values:
                    Price.objects.create(priority=priority, route=route, amount=ON_NET if route == "on_net" else CROSS)
            fund(organization, 10**15)
        provider = provider_with_sim(Carrier.CELLCARD)
        User.objects.filter(pk=provider.user_id).update(did=did)
        user = User.objects.get(pk=provider.user_id)
        jobs = []
        for number in range(args.pairs * (2 if args.profile else 1) + 2):
            recipient = f"012 {300000 + number:06d}"
            data = MessageInput(to=recipient, body="Hi")
            message = message_submit(organization=organization, api_key=None, data=data)
            # The dispatcher's own batch (the `dispatch_due` task's work): this message is the only one due.
            outcome = messages_dispatch_due(priority=message.priority)
            assert outcome.get("assigned") == 1, (number, outcome)
            jobs.append(job_accept(job_id=Job.objects.get(message=message).pk, user=user))
        Job.objects.filter(pk__in=[job.pk for job in jobs]).update(offered_at=timezone.now() - timedelta(minutes=1))

        # Round trips of warm reports: the first pair creates the day's rate rows, the second is the steady state.
        timed(pairs(jobs[:1]))
        counts = {}
        for status in statuses:
            with CaptureQueriesContext(connection) as captured:
                reports_submit_batch(user=user, items=[report(jobs[1], status)])
            counts[status] = captured.captured_queries
        print("round trips of one report: " + ", ".join(f"{status} {len(counts[status])}" for status in statuses))
        if args.sql:
            for status, queries in counts.items():
                print(f"  {status}:")
                for query in queries:
                    print(f"    {query['sql'][:160]}")

        timed_jobs, profiled_jobs = jobs[2 : 2 + args.pairs], jobs[2 + args.pairs :]
        with CaptureQueriesContext(connection) as captured:
            timed(pairs(timed_jobs[: args.batch]))
        print(f"round trips of one batch of {args.batch} jobs' reports: {len(captured.captured_queries)}")
        timed_jobs = timed_jobs[args.batch :]
        load_before = os.getloadavg()[0]
        start, cpu_start = time.perf_counter(), time.process_time()
        durations = timed(pairs(timed_jobs))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        per_pair = [duration / args.batch * 1000 for duration in durations]
        count = len(timed_jobs)
        print(
            f"{count} jobs ({'+'.join(statuses)}), {args.batch} per batch: {elapsed / count * 1000:.2f} ms per job"
            f" ({count / elapsed:.0f} jobs/s in one process); per call p50 {percentile(per_pair, 0.5):.2f}"
            f" / p99 {percentile(per_pair, 0.99):.2f} ms per job, mean {statistics.fmean(per_pair):.2f}"
        )
        waiting = "the rest is waiting: for PostgreSQL, Redis or a core"
        reports = len(timed_jobs) * len(statuses)
        print(
            f"CPU of this process: {cpu / len(timed_jobs) * 1000:.2f} ms per job, {cpu / reports * 1000:.2f} ms per"
            f" report ({waiting})"
        )
        print(f"load average: {load_before:.2f} before, {os.getloadavg()[0]:.2f} after the timed loop")

        if args.settle:
            settle_in_batches([int(size) for size in args.settle.split(",")])

        if args.profile:
            profiler = cProfile.Profile()
            batches = pairs(profiled_jobs)
            profiler.enable()
            timed(batches)
            profiler.disable()
            print(f"\ncProfile of {len(profiled_jobs)} more pairs (times inflated by the profiler):")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)


def settle_in_batches(sizes: list[int]) -> None:
    """Settle the unsettled deliveries in batches of each of `sizes` (a few batches each, the oldest first), with the
    settle step's round trips per batch and CPU per delivery."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.delivery.models import DeliveryReport
    from apps.delivery.settling import deliveries_settle

    def oldest(count: int) -> list:
        rows = DeliveryReport.objects.exclude(unsettled="").order_by("received_at", "pk")
        return list(rows.values_list("received_at", flat=True)[:count])

    def settle(size: int) -> int:
        # The batch is the `size` oldest: those received before the next one's moment.
        times = oldest(size + 1)
        before = times[size] if len(times) > size else None
        settled = deliveries_settle(received_before=before)
        assert settled == min(size, len(times)), (settled, size)
        return settled

    settle(1)  # warm: the settle step's statements built, the accounts read
    for size in sizes:
        rounds = max(2, min(20, 60 // size))
        if len(oldest(size * rounds)) < size * rounds:
            print(f"settle step, batches of {size}: too few deliveries left (raise --pairs)")
            continue
        with CaptureQueriesContext(connection) as captured:
            settle(size)
        rounds -= 1
        load_before = os.getloadavg()[0]
        cpu_start = time.process_time()
        settled = sum(settle(size) for _ in range(rounds))
        cpu = time.process_time() - cpu_start
        print(
            f"settle step, batches of {size}: {len(captured.captured_queries)} round trips per batch, CPU"
            f" {cpu / settled * 1000:.2f} ms per delivery ({rounds} batches, load {load_before:.2f})"
        )


if __name__ == "__main__":
    main()
