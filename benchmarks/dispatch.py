"""Benchmark of the backend's own dispatch work: match + lease + push, in jobs/s, on PostgreSQL + Redis.

It loads P providers (active, online, SIMs on Smart, Metfone and Cellcard, one phone each with an FCM token) and N
queued, due messages, starts the FCM fake (`apps.delivery.fcm_fake.FcmFake`) in a process of its own so it does
not share a GIL with the dispatcher, points the FCM push backend (the real firebase-admin client) at it, and runs
the dispatch code the Celery tasks run — the task functions themselves, in 1 or 2 processes, with Celery in eager
mode so the push tasks that dispatch enqueues run in the same process (the broker's own cost per signal is timed
separately and printed). It prints jobs/s, the cost of each phase per job (match, lease and commit, push), and
checks at the end that every message got exactly one job and that FCM received exactly one push per job.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_dispatch_bench REDIS_URL=redis://127.0.0.1:6379/7 \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/8 .venv/bin/python benchmarks/dispatch.py --processes 1 2

`--sealed` gives every phone a seal key, as the simulator's phones and current apps have, so each push reads its job's
content and seals it (apps.delivery.sealed_push); without it the pushes name the job only.

The database name must end in `_bench` (the script creates it if needed and empties its tables); REDIS_URL's and
CELERY_BROKER_URL's databases are emptied too, so give it databases of its own. A measurement, not a test: nothing
here fails on a slow machine, except the final check that nothing was lost or pushed twice.
"""

import argparse
import multiprocessing
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.development")
os.environ["DEBUG"] = "false"  # no query log kept in memory
os.environ.setdefault("LOG_LEVEL", "WARNING")
# Capacity is not what is measured: room for every message.
os.environ.setdefault("PROVIDER_MAX_JOBS_IN_FLIGHT", "50")
# Nor is the heartbeat sweep: a slow run must not see its providers go stale halfway.
os.environ.setdefault("PROVIDER_OFFLINE_AFTER_MISSED_HEARTBEATS", "1000")

from benchmarks.common import (  # noqa: E402
    bench_database_url,
    percentile,
    seal_key_random,
    sims_and_phones_create,
)

CARRIERS = {"smart": 0.45, "metfone": 0.32, "cellcard": 0.23}
LOAD_BATCH = 5000


# --- The FCM fake, in a process of its own ---------------------------------------------------------------------------
def run_fcm_fake(connection, credentials_path: str) -> None:
    from apps.delivery.fcm_fake import FcmFake

    with FcmFake(project_id="peerpower-bench") as fake:
        fake.write_service_account(credentials_path)
        connection.send(fake.endpoint)
        while True:
            command = connection.recv()
            if command == "jobs":
                connection.send([message.data.get("job") for message in fake.accepted if message.data])
            elif command == "cpu":
                connection.send(time.process_time())
            elif command == "reset":
                fake.reset()
                connection.send(True)
            elif command == "stop":
                return


# --- Loading ---------------------------------------------------------------------------------------------------------
def empty_tables() -> None:
    from django.core.cache import cache
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE messaging_job, messaging_message, providers_stickysender, providers_availabilitychange, "
            "providers_simcounter, providers_device, providers_sim, providers_provider, audit_auditlog, "
            "accounts_clientmembership, accounts_clientorganization "
            "RESTART IDENTITY CASCADE"
        )
        # Phone numbers are encrypted: the benchmark's users are known by their display names.
        cursor.execute("DELETE FROM accounts_user WHERE display_name LIKE 'bench %%'")
    cache.clear()  # cap counters in Redis


def load_providers(count: int, rng: random.Random) -> None:
    """Providers with one SIM (40 % with a second on another carrier) and a phone each, all up and in good standing."""
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.providers.models import Provider

    now = timezone.now()
    for start in range(0, count, LOAD_BATCH):
        numbers = range(start, min(count, start + LOAD_BATCH))
        users = User.objects.bulk_create(
            [User(phone=f"+85561{n:07d}", password="!", display_name=f"bench {n}") for n in numbers]  # noqa: S106
        )
        providers = Provider.objects.bulk_create(
            [
                Provider(
                    user=user,
                    status="active",
                    availability="online",
                    chosen_availability="online",
                    reputation=rng.randint(500, 900),
                    jobs_delivered=rng.randint(0, 500),
                    jobs_failed=rng.randint(0, 20),
                    last_heartbeat_at=now,
                )
                for user in users
            ]
        )
        sims_and_phones_create(
            providers, rng, now=now, carrier_shares=CARRIERS, second_sim_share=0.4, turn_offset=(-600, 0)
        )


def seal_keys_give() -> None:
    """A seal key of its own for every phone (`--sealed`): each push then seals the job's content to it."""
    from apps.providers.models import Device

    devices = list(Device.objects.only("pk"))
    for device in devices:
        device.seal_key = seal_key_random()
    Device.objects.bulk_update(devices, ["seal_key"], batch_size=LOAD_BATCH)


def organization() -> Any:
    from apps.accounts.models import ClientOrganization, User
    from apps.accounts.services import client_create, client_go_live, client_plan_internal

    found = ClientOrganization.objects.filter(name="Dispatch bench").first()
    if found:
        return found
    user = User.objects.create(phone="+855629999999", password="!", display_name="bench client")  # noqa: S106
    created = client_create(user=user, name="Dispatch bench")
    client_go_live(organization=created, actor=None, reason="benchmark", plan=client_plan_internal())
    return created


def reset_run(count: int, rng: random.Random) -> list[int]:
    """No jobs, no messages, every provider idle; then `count` queued messages, all due now."""
    from django.core.cache import cache
    from django.db import connection
    from django.utils import timezone

    from apps.messaging.models import Message
    from apps.providers.services import sims_resync_matchable

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE messaging_job, messaging_message, providers_stickysender RESTART IDENTITY CASCADE")
        cursor.execute("UPDATE providers_provider SET jobs_in_flight = 0, last_heartbeat_at = now()")
        cursor.execute("UPDATE providers_sim SET capped_until = NULL, matchable = true")
        cursor.execute("UPDATE providers_simcounter SET hour_count = 0, day_count = 0")
    sims_resync_matchable()
    cache.clear()
    org = organization()
    now = timezone.now()
    carriers, weights = list(CARRIERS), list(CARRIERS.values())
    messages = [
        Message(
            organization=org,
            to=f"+8551{n:08d}",
            carrier=rng.choices(carriers, weights)[0],
            body="Your code is 1234",
            encoding="gsm7",
            segments=1,
            priority="normal",
            status="queued",
            created_at=now,
            expires_at=now + timedelta(hours=1),
            next_attempt_at=now,
        )
        for n in range(count)
    ]
    Message.objects.bulk_create(messages, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE messaging_message; ANALYZE providers_provider; ANALYZE providers_sim;")
    return [message.pk for message in messages]


# --- The timed part ---------------------------------------------------------------------------------------------------
class Timer:
    """Wraps functions to add up the time spent in them (re-entrant calls are counted once)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._depth: dict[str, int] = defaultdict(int)

    def wrap(self, module, name: str, label: str) -> None:
        original = getattr(module, name, None)
        if original is None:
            return

        def timed(*args: Any, **kwargs: Any) -> Any:
            self._depth[label] += 1
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._depth[label] -= 1
                if not self._depth[label]:
                    self.seconds[label] += time.perf_counter() - started
                    self.calls[label] += 1

        setattr(module, name, timed)


def worker(index: int, message_ids: list[int], batch: int, ready, start, results, pushes=None) -> None:
    """One dispatching process: the dispatch task on its share of the messages, `batch` ids per task, as the
    ingest path signals them; pushes run in the same process (Celery eager mode), or with `pushes` (a queue) in the
    pushing process, as production runs `push_jobs` in another worker."""
    import django

    django.setup()
    from django.db import connection

    import apps.delivery.services as delivery_services
    import apps.delivery.tasks as delivery_tasks
    import apps.messaging.services.dispatch as dispatch
    from apps.messaging import tasks as messaging_tasks
    from peerpower.celery import app

    app.conf.task_always_eager = True
    if hasattr(messaging_tasks, "dispatch_due"):
        # Each process here runs the dispatcher itself until nothing is due; the dispatcher's own signals (for
        # deferred messages) must not start nested dispatchers in eager mode. They still pay their cache `add`.
        messaging_tasks.dispatch_due.apply_async = lambda *args, **kwargs: None
    if pushes is not None:
        delivery_tasks.push_jobs.apply_async = lambda args, **kwargs: pushes.put(args[0])
    timer = Timer()
    for name in ("provider_match", "providers_match_batch"):  # before and after the batched match
        timer.wrap(dispatch, name, "match")
    timer.wrap(delivery_services, "push_send_many", "fcm")
    for name in ("job_push", "jobs_push"):  # before and after batching
        timer.wrap(delivery_tasks, name, "push")
    connection.ensure_connection()
    # Warm the firebase-admin app and its access token, as a long-running worker has them.
    from apps.delivery.push.fcm import firebase_app

    firebase_app()
    ready.set()
    start.wait()
    started = time.perf_counter()
    cpu_started = time.process_time()
    outcomes: dict[str, int] = defaultdict(int)
    task_seconds = []
    if hasattr(messaging_tasks, "dispatch_due"):
        # The batch dispatcher takes due messages itself; each process runs the task until it finds none.
        while True:
            task_started = time.perf_counter()
            done = messaging_tasks.dispatch_due("normal", budget_seconds=3600)
            task_seconds.append(time.perf_counter() - task_started)
            for outcome, count in done.items():
                outcomes[outcome] += count
            if not done.get("taken"):
                break
    else:
        for offset in range(0, len(message_ids), batch):
            task_started = time.perf_counter()
            done = messaging_tasks.dispatch_messages(message_ids[offset : offset + batch])
            task_seconds.append(time.perf_counter() - task_started)
            for outcome, count in done.items():
                outcomes[outcome] += count
    results.put(
        {
            "index": index,
            "started": started,
            "seconds": time.perf_counter() - started,
            "cpu": time.process_time() - cpu_started,
            "phases": dict(timer.seconds),
            "calls": dict(timer.calls),
            "outcomes": dict(outcomes),
            "tasks": len(task_seconds),
            "task_p50": statistics.median(task_seconds) if task_seconds else 0,
        }
    )


def pusher(pushes, ready, results) -> None:
    """The pushing process (`--push-process`): `jobs_push` for each dispatch batch's jobs, as the high queue's worker
    runs `push_jobs`, until it gets None."""
    import django

    django.setup()
    from django.db import connection

    from apps.delivery.push.fcm import firebase_app
    from apps.delivery.services import jobs_push

    connection.ensure_connection()
    firebase_app()
    ready.set()
    seconds = cpu = 0.0
    while (job_ids := pushes.get()) is not None:
        started, cpu_started = time.perf_counter(), time.process_time()
        jobs_push(job_ids=job_ids)
        seconds += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
    results.put({"pusher": True, "seconds": seconds, "cpu": cpu})


def run_once(processes: int, message_ids: list[int], batch: int, push_process: bool = False) -> dict:
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("spawn")
    ready = [context.Event() for _ in range(processes)]
    start, results = context.Event(), context.Queue()
    pushes = context.Queue() if push_process else None
    shares = [message_ids[offset::processes] for offset in range(processes)]
    children = [
        context.Process(target=worker, args=(index, shares[index], batch, ready[index], start, results, pushes))
        for index in range(processes)
    ]
    if push_process:
        ready.append(context.Event())
        children.append(context.Process(target=pusher, args=(pushes, ready[-1], results)))
    for child in children:
        child.start()
    for event in ready:
        event.wait()
    wall_started = time.perf_counter()
    start.set()
    reports = [results.get() for _ in range(processes)]
    if push_process:
        pushes.put(None)
        reports.append(results.get())
    wall = time.perf_counter() - wall_started
    for child in children:
        child.join()
    pushed = next((report for report in reports if report.get("pusher")), None)
    return {"wall": wall, "reports": [report for report in reports if not report.get("pusher")], "pusher": pushed}


def verify(fake_connection) -> tuple[int, list[str]]:
    """Every message assigned with exactly one job, every job pushed once, nothing else pushed."""
    from django.db.models import Count

    from apps.messaging.models import Job, Message

    problems = []
    not_assigned = Message.objects.exclude(status="assigned").count()
    if not_assigned:
        problems.append(f"{not_assigned} messages not assigned")
    several = Job.objects.values("message").annotate(n=Count("id")).filter(n__gt=1).count()
    if several:
        problems.append(f"{several} messages with more than one job")
    jobs = set(Job.objects.values_list("id", flat=True))
    unpushed = Job.objects.filter(last_pushed_at__isnull=True).count()
    if unpushed:
        problems.append(f"{unpushed} jobs never pushed")
    fake_connection.send("jobs")
    pushed = [int(job) for job in fake_connection.recv()]
    if len(pushed) != len(set(pushed)):
        problems.append(f"{len(pushed) - len(set(pushed))} jobs pushed more than once")
    if set(pushed) != jobs:
        problems.append(f"pushes received for {len(set(pushed))} jobs, {len(jobs)} jobs exist")
    return len(jobs), problems


def time_signals(count: int) -> list[float]:
    """What the ingest path pays to signal one message after its commit (`enqueue_dispatch`), in ms."""
    from django.db import transaction

    try:
        from apps.messaging.services.signal import enqueue_dispatch
    except ImportError:  # before the dispatch module was split, the signal took (and ignored) message ids
        from apps.messaging.services.dispatch import enqueue_dispatch as enqueue_with_ids

        def enqueue_dispatch(*, priority: str) -> None:
            enqueue_with_ids([], priority=priority)

    from peerpower.celery import app

    samples = []
    for _ in range(count):
        started = time.perf_counter()
        with transaction.atomic():
            enqueue_dispatch(priority="normal")
        samples.append((time.perf_counter() - started) * 1000)
    with app.connection_for_write() as connection:
        for queue in ("high", "default", "low"):
            connection.default_channel.queue_purge(queue)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--providers", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=100, help="message ids per dispatch task (before batching)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--sealed",
        action="store_true",
        help="a seal key for every phone, as the simulator's phones and current apps have: pushes carry the job sealed",
    )
    parser.add_argument(
        "--push-process",
        action="store_true",
        help="push from a process of its own (as production's high-queue worker), not inline in each dispatcher",
    )
    args = parser.parse_args()

    bench_database_url(require_redis=True)

    credentials = Path(tempfile.mkdtemp(prefix="dispatch-bench-")) / "service-account.json"
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    fake = context.Process(target=run_fcm_fake, args=(theirs, str(credentials)), daemon=True)
    fake.start()
    endpoint = ours.recv()
    os.environ.update(
        PUSH_BACKEND="fcm",
        FCM_CREDENTIALS_FILE=str(credentials),
        FCM_ENDPOINT=endpoint,
        MESSAGING_JOB_OFFER_HOOK="apps.delivery.services.job_offer_push_later",
    )

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    rng = random.Random(args.seed)
    empty_tables()
    load_providers(args.providers, rng)
    if args.sealed:
        seal_keys_give()
    from apps.providers.models import Sim

    sims = Sim.objects.count()
    print(
        f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"PostgreSQL {connection.pg_version // 10000}; load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{args.providers} providers, {sims} SIMs, {args.messages} messages per run, "
        f"{settings.PROVIDER_MAX_JOBS_IN_FLIGHT} jobs in flight per provider; FCM fake in its own process at {endpoint}"
        f"; phones {'with' if args.sealed else 'without'} seal keys"
    )
    signals = time_signals(500)
    print(
        f"signal per message after commit (enqueue_dispatch): p50 {statistics.median(signals):.3f} ms, "
        f"p99 {percentile(signals, 0.99):.3f} ms"
    )
    print(
        f"{'procs':>5} {'run':>3} {'jobs/s':>8} {'wall s':>7} {'load':>5} {'match ms/job':>13} "
        f"{'lease+commit':>13} {'push ms/job':>12} {'fcm wire':>9} {'cpu ms/job':>11} {'fake cpu':>9} {'tasks':>6} "
        f"{'task p50 ms':>12}  outcomes"
    )
    failures = 0
    for processes in args.processes:
        for run in range(args.repeat):
            ours.send("reset")
            ours.recv()
            message_ids = reset_run(args.messages, rng)
            ours.send("cpu")
            fake_cpu = ours.recv()
            result = run_once(processes, message_ids, args.batch, args.push_process)
            ours.send("cpu")
            fake_cpu = ours.recv() - fake_cpu
            jobs, problems = verify(ours)
            reports = result["reports"]
            phases: dict[str, float] = defaultdict(float)
            outcomes: dict[str, int] = defaultdict(int)
            for report in reports:
                for name, seconds in report["phases"].items():
                    phases[name] += seconds
                for name, count in report["outcomes"].items():
                    outcomes[name] += count
            busy = sum(report["seconds"] for report in reports)
            per_job = 1000 / max(jobs, 1)
            lease = busy - phases["match"] - phases["push"]
            cpu = sum(r["cpu"] for r in reports)
            if result["pusher"]:  # pushed in a process of its own: its time and CPU
                phases["push"] += result["pusher"]["seconds"]
                cpu += result["pusher"]["cpu"]
            print(
                f"{processes:>5} {run + 1:>3} {jobs / result['wall']:>8.0f} {result['wall']:>7.2f} "
                f"{os.getloadavg()[0]:>5.2f} {phases['match'] * per_job:>13.3f} {lease * per_job:>13.3f} "
                f"{phases['push'] * per_job:>12.3f} {phases['fcm'] * per_job:>9.3f} "
                f"{cpu * per_job:>11.3f} {fake_cpu * per_job:>9.3f} {sum(r['tasks'] for r in reports):>6} "
                f"{statistics.median([r['task_p50'] for r in reports]) * 1000:>12.1f}  {dict(outcomes)}",
                flush=True,
            )
            if problems:
                failures += 1
                print("      CHECK FAILED: " + "; ".join(problems), flush=True)
    print(
        "Per job, summed over processes: match = provider_match or providers_match_batch; push = the push task "
        "(its queries and the FCM "
        "call), of which 'fcm wire' is push_send_many; lease+commit = everything else (locking the message, "
        "exclusions, the job, the status move, commit, signals); cpu = the dispatching (and pushing) processes'; "
        "fake cpu = the FCM fake's process. With --push-process the push runs in its own process, beside the "
        "dispatchers, and 'push' is that process's time."
    )
    ours.send("stop")
    fake.join(timeout=5)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
