"""CPU, SQL statements and Redis round trips per request of the phone's two hottest endpoints, in this process.

End to end (`end_to_end.py`, phones batching for 0.5 s) a message costs ~1.9 phone requests: one `POST /api/jobs/ack`
of the offered job and one `POST /api/jobs/reports` of its `delivered` report (the folded protocol: `delivered` alone
implies sent). This script makes those requests through Django's handler and the whole middleware stack (Django's test
client, no server), as served and through DRF's machinery alone (`-drf`: the same view class behind
`APIView.as_view`, mounted beside the application's URLs), with a signed-in phone whose session this process holds:

- `ack`, `report`: one job per request, a real acknowledgement and a signed `delivered` report (the jobs dispatched
  before each round, outside the timed loop);
- `report-folded`: a signed `delivered` report of a job offered to the phone and never acknowledged, which the
  report acknowledges too (`ack_folded`): a sealed push's phone sends at once and makes this one request per message,
  where the others make `ack` and `report` (their sum is the comparison). Each job is offered alone: the others wait
  with their deadline moved a day back (so that the answer's `offered` lists none of them, as a phone reporting its
  one job finds it) and get it back just before their report, by a connection of their own, outside the figures;
- `ack-none`, `report-none`: a job of no one, refused per item (200): the request's fixed part with next to no work.

Within each round the ways alternate in blocks of ten requests, so that the machine's drift falls on both alike.
Figures are this process's CPU (`time.process_time`) per request, and the CPU the PostgreSQL backend spent on its
connection (from /proc), medians over the rounds; `lean ÷ drf` compares the two ways within one run. On a tree
without the lean way both ways are DRF (the comparison's baseline). After the timed rounds, a few more requests of
each are made under a profile hook that counts Python function calls (`Python calls`, and `deepcopies` among them:
DRF copies a serializer's declared fields each time one is built): exact counts, which the machine's load does not
blur, for comparing two trees where the CPU figures are too noisy to; and `PG trips`, PostgreSQL round trips per
request (BEGIN and COMMIT included: libpq's trace). `--sql NAME-WAY` prints the statements of one request instead.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_phone_bench REDIS_URL=redis://127.0.0.1:6380/3 \\
    CELERY_BROKER_URL=redis://127.0.0.1:6380/4 .venv/bin/python benchmarks/phone_cpu.py --requests 150 --rounds 3

The database's name must end in `_bench` (it is migrated and emptied). The broker's Redis database is emptied at
the end (the dispatch signals the sends enqueue). A measurement, not a test.
"""

import argparse
import base64
import copy
import cProfile
import os
import pstats
import statistics
import sys
import time
import types
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The phone's limits stay in force (counted as in production) without refusing the benchmark's pace.
os.environ.setdefault("RATE_LIMIT_ACK", "1000000/m")
os.environ.setdefault("RATE_LIMIT_REPORTS", "1000000/m")

from benchmarks import send_cpu  # its settings, its counters of CPU and round trips
from benchmarks.common import bench_database_url
from benchmarks.reports import UNLIMITED

NOBODYS = 999_999_999
BLOCK = 10  # requests per block; the ways' blocks alternate


COUNTED = 20  # requests per endpoint and way made under the call-counting hook
ENDPOINTS = ("ack", "report", "report-folded", "ack-none", "report-none")
REAL = ("ack", "report", "report-folded")


def assert_refused(answer: dict) -> None:
    assert not answer["results"][0]["ok"], answer


def python_calls(call: Callable[[], None], requests: int, prepare: Callable[[], None]) -> tuple[float, float]:
    """Python function calls per request of `call` (`prepare` made before each, not counted), and `copy.deepcopy`
    calls among them (this thread)."""
    calls = deepcopies = 0
    deepcopy = copy.deepcopy.__code__

    def hook(frame: types.FrameType, event: str, arg: object) -> None:
        nonlocal calls, deepcopies
        if event == "call":
            calls += 1
            deepcopies += frame.f_code is deepcopy

    for _ in range(requests):
        prepare()
        sys.setprofile(hook)
        try:
            call()
        finally:
            sys.setprofile(None)
    return calls / requests, deepcopies / requests


def nothing() -> None:
    pass


def measure(
    call: Callable[[], None], requests: int, prepare: Callable[[], None]
) -> tuple[float, float, float, float | None]:
    """`send_cpu.measure`, with `prepare` made before each call outside the figures: its CPU is not timed, and it
    works on a connection of its own (neither its statements nor its backend's CPU are counted)."""
    if prepare is nothing:
        return send_cpu.measure(call, requests)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    backend_before = send_cpu._backend_cpu_seconds()
    send_cpu._round_trips = 0
    connection.queries_log.clear()
    cpu = 0.0
    with CaptureQueriesContext(connection) as queries:
        for _ in range(requests):
            prepare()
            started = time.process_time()
            call()
            cpu += time.process_time() - started
    backend_after = send_cpu._backend_cpu_seconds()
    if backend_before is None or backend_after is None:
        backend = None
    else:
        backend = (backend_after - backend_before) / requests * 1000
    return cpu / requests * 1000, len(queries) / requests, send_cpu._round_trips / requests, backend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=150, help="requests per round and endpoint (default 150)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument(
        "--profile",
        choices=[f"{name}-{way}" for name in ENDPOINTS for way in ("lean", "drf")],
        help="instead of the timed rounds: cProfile `--requests` requests of one endpoint and way (CPU time)",
    )
    parser.add_argument(
        "--sql",
        choices=[f"{name}-{way}" for name in ENDPOINTS for way in ("lean", "drf")],
        help="instead of the timed rounds: print the SQL statements of one request of one endpoint and way, in order",
    )
    parser.add_argument("--top", type=int, default=40, help="functions listed by --profile (default 40)")
    parser.add_argument("--dump", help="with --profile: also write the profile to this file (for pstats)")
    args = parser.parse_args()

    bench_database_url(require_redis=True)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db.models import F
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import include, path
    from django.utils import timezone
    from rest_framework.views import APIView

    from apps.accounts.models import User
    from apps.accounts.services import client_create, client_go_live, client_plan_internal, session_start
    from apps.accounts.tests.factories import UserFactory
    from apps.accounts.tests.test_did import new_key
    from apps.core.memory import freeze_startup_objects
    from apps.delivery.api.views import JobAckBatchView, JobReportBatchView
    from apps.delivery.reports import report_signing_text
    from apps.messaging.choices import JobStatus
    from apps.messaging.models import Job
    from apps.messaging.services import MessageInput, message_submit, messages_dispatch_due
    from apps.providers.choices import Carrier
    from apps.providers.tests.factories import provider_with_sim

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    urls = types.ModuleType("phone_cpu_urls")  # a URLconf of its own (hashable, as Django's resolver cache needs)
    urls.urlpatterns = [
        path("bench/jobs/ack", APIView.as_view.__func__(JobAckBatchView)),
        path("bench/jobs/reports", APIView.as_view.__func__(JobReportBatchView)),
        path("", include("peerpower.urls")),
    ]
    key, did = new_key()
    numbers = iter(range(10**6))

    def offered(count: int) -> Iterator[Job]:
        """`count` jobs offered to the phone now (dispatched as the dispatcher's task does), offered a minute ago
        so that no delivery looks implausibly fast."""
        priorities = set()
        for _ in range(count):
            data = MessageInput(to=f"012 {300000 + next(numbers):06d}", body="Your code is 482913")
            priorities.add(message_submit(organization=organization, api_key=None, data=data).priority)
        for priority in priorities:
            while messages_dispatch_due(priority=priority).get("assigned"):
                pass
        jobs = Job.objects.filter(provider__user=user, status=JobStatus.OFFERED)
        jobs.update(offered_at=timezone.now() - timedelta(minutes=1))
        found = list(jobs.order_by("pk"))
        assert len(found) == count, (len(found), count)
        return iter(found)

    def delivered(job: Job) -> dict:
        text = timezone.now().isoformat().replace("+00:00", "Z")
        signed = report_signing_text(
            job_id=job.pk, status="delivered", occurred_at_text=text, trace_token=job.trace_token
        )
        signature = base64.b64encode(key.sign(signed.encode())).decode()
        return {"job_id": job.pk, "status": "delivered", "occurred_at": text, "signature": signature}

    def post(prefix: str, endpoint: str, body: dict) -> dict:
        response = client.post(f"{prefix}/jobs/{endpoint}", body, content_type="application/json")
        assert response.status_code == 200, response.content[:300]
        return response.json()

    with override_settings(ROOT_URLCONF=urls, **UNLIMITED):
        organization = client_create(user=UserFactory(), name="Phone benchmark")
        client_go_live(organization=organization, actor=None, reason="benchmark", plan=client_plan_internal())
        provider = provider_with_sim(Carrier.CELLCARD)
        User.objects.filter(pk=provider.user_id).update(did=did)
        user = User.objects.get(pk=provider.user_id)
        access = session_start(user=user, device_name="benchmark phone").access
        client = Client(HTTP_AUTHORIZATION=f"Bearer {access}", SERVER_NAME="localhost")
        freeze_startup_objects()  # as each gunicorn worker does once it has loaded the application
        send_cpu._count_redis_round_trips()

        ways = {"lean": "/api", "drf": "/bench"}
        names = [f"{name}-{way}" for name in ENDPOINTS for way in ways]
        figures: dict[str, list[tuple[float, float, float, float | None]]] = {name: [] for name in names}
        counted: dict[str, tuple[float, float]] = {}
        trips: dict[str, float | None] = {}
        import psycopg

        side = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)  # the waiting jobs' deadlines

        def interleaved(
            name: str,
            calls: dict[str, Callable[[], None]],
            requests: int,
            record: bool,
            count: bool = False,
            profiled: bool = False,
            prepares: dict[str, Callable[[], None]] | None = None,
        ) -> None:
            """Each way's call `requests` times, in blocks of BLOCK alternating between the ways (and which goes
            first), so that the machine's drift within the round falls on both alike: one figure per way. With
            `count`, each way's calls are made under the call-counting hook instead, untimed; with `profiled`, the way
            `--profile` names under cProfile (or `--sql`'s statements printed). `prepares`: each way's step before
            each call, outside the figures."""
            prepares = prepares or dict.fromkeys(calls, nothing)
            if count:
                for way, call in calls.items():
                    counted[f"{name}-{way}"] = python_calls(call, requests // 2, prepares[way])
                    prepare = prepares[way]
                    trips[f"{name}-{way}"] = send_cpu.pg_round_trips(
                        lambda call=call, prepare=prepare: (prepare(), call()), requests - requests // 2
                    )
                return
            if profiled:
                for way, call in calls.items():  # every way, so that the jobs move as in the timed rounds
                    if f"{name}-{way}" == args.profile:
                        prepare = prepares[way]
                        profiler = cProfile.Profile(time.process_time)
                        for _ in range(requests):
                            prepare()
                            profiler.runcall(call)
                        if args.dump:
                            profiler.dump_stats(args.dump)
                        stats = pstats.Stats(profiler)
                        stats.sort_stats("tottime").print_stats(args.top)
                        stats.sort_stats("cumulative").print_stats(args.top)
                    elif f"{name}-{way}" == args.sql:
                        from django.db import connection
                        from django.test.utils import CaptureQueriesContext

                        for index in range(requests):
                            prepares[way]()
                            with CaptureQueriesContext(connection) as queries:
                                call()
                            if index == requests - 1:
                                for number, query in enumerate(queries.captured_queries, 1):
                                    print(f"{number:2}. {query['sql']}\n")
                    else:
                        for _ in range(requests):
                            prepares[way]()
                            call()
                return
            blocks: dict[str, list[tuple[float, float, float, float | None]]] = {way: [] for way in calls}
            for block in range(requests // BLOCK):
                for way in list(calls) if block % 2 == 0 else list(reversed(calls)):
                    blocks[way].append(measure(calls[way], BLOCK, prepares[way]))
            if record:
                for way, results in blocks.items():
                    backends = [result[3] for result in results if result[3] is not None]
                    figures[f"{name}-{way}"].append(
                        (
                            statistics.fmean(result[0] for result in results),
                            statistics.fmean(result[1] for result in results),
                            statistics.fmean(result[2] for result in results),
                            statistics.fmean(backends) if backends else None,
                        )
                    )

        def real(requests: int, record: bool, count: bool = False, profiled: bool = False) -> None:
            jobs = list(offered(2 * requests))
            acks = {"lean": iter(jobs[::2]), "drf": iter(jobs[1::2])}
            reports = {"lean": iter(jobs[::2]), "drf": iter(jobs[1::2])}

            def ack(way: str) -> Callable[[], None]:
                def call() -> None:
                    [row] = post(ways[way], "ack", {"jobs": [next(acks[way]).pk]})["results"]
                    assert row["ok"], row

                return call

            def report(way: str) -> Callable[[], None]:
                def call() -> None:
                    answer = post(ways[way], "reports", {"reports": [delivered(next(reports[way]))]})
                    assert answer["results"][0]["ok"] and answer["results"][0]["applied"], answer

                return call

            interleaved("ack", {way: ack(way) for way in ways}, requests, record, count, profiled)
            interleaved("report", {way: report(way) for way in ways}, requests, record, count, profiled)

            # Offered and never acknowledged: each waits out of sight (its deadline a day back) until its turn.
            jobs = list(offered(2 * requests))
            Job.objects.filter(pk__in=[job.pk for job in jobs]).update(deadline=F("deadline") - timedelta(days=1))
            folded = {"lean": iter(jobs[::2]), "drf": iter(jobs[1::2])}
            turn: dict[str, Job] = {}

            def reveal(way: str) -> Callable[[], None]:
                def prepare() -> None:
                    job = turn[way] = next(folded[way])
                    side.execute("UPDATE messaging_job SET deadline = %s WHERE id = %s", [job.deadline, job.pk])

                return prepare

            def report_folded(way: str) -> Callable[[], None]:
                def call() -> None:
                    answer = post(ways[way], "reports", {"reports": [delivered(turn[way])]})
                    [row] = answer["results"]
                    assert row["ok"] and row["applied"] and "ack_folded" in row["flags"], answer
                    assert answer["offered"] == [], answer

                return call

            interleaved(
                "report-folded",
                {way: report_folded(way) for way in ways},
                requests,
                record,
                count,
                profiled,
                prepares={way: reveal(way) for way in ways},
            )

        def none(requests: int, record: bool, count: bool = False, profiled: bool = False) -> None:
            def ack(way: str) -> Callable[[], None]:
                return lambda: assert_refused(post(ways[way], "ack", {"jobs": [NOBODYS]}))

            def report(way: str) -> Callable[[], None]:
                body = {"reports": [{"job_id": NOBODYS, "status": "delivered", "occurred_at": "2026-01-01T00:00Z"}]}
                return lambda: assert_refused(post(ways[way], "reports", body))

            interleaved("ack-none", {way: ack(way) for way in ways}, requests, record, count, profiled)
            interleaved("report-none", {way: report(way) for way in ways}, requests, record, count, profiled)

        try:
            real(2 * BLOCK, record=False)  # warm-up: imports, caches, prepared statements, the session held
            none(2 * BLOCK, record=False)
            if args.profile or args.sql:
                chosen = (args.profile or args.sql).rsplit("-", 1)[0]
                (real if chosen in REAL else none)(args.requests, record=False, profiled=True)
                return
            load_before = os.getloadavg()[0]
            started = time.strftime("%H:%M:%S", time.gmtime())
            for _ in range(args.rounds):
                real(args.requests, record=True)
                none(args.requests, record=True)
            real(COUNTED, record=False, count=True)
            none(COUNTED, record=False, count=True)
        finally:
            side.close()
            import redis

            redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()

    print(
        f"phone requests in process, {args.rounds} rounds × {args.requests} per endpoint and way, from {started} UTC, "
        f"load {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; medians"
    )
    print(
        f"  {'endpoint':20} {'web CPU':>9} {'PostgreSQL':>10} {'SQL':>6} {'PG trips':>8} {'Redis':>6} "
        f"{'Python calls':>12} {'deepcopies':>10}   rounds' web CPU"
    )

    def median(rounds: list, index: int) -> float:
        values = [r[index] for r in rounds if r[index] is not None]
        return statistics.median(values) if values else float("nan")

    for name, rounds in figures.items():
        spread = " / ".join(f"{r[0]:.2f}" for r in rounds)
        pg_trips = trips[name]
        print(
            f"  {name:20} {median(rounds, 0):7.2f}ms {median(rounds, 3):8.2f}ms {rounds[-1][1]:6.2f} "
            f"{'-' if pg_trips is None else f'{pg_trips:.2f}':>8} {rounds[-1][2]:6.2f} {counted[name][0]:12.0f} "
            f"{counted[name][1]:10.0f}   {spread}"
        )
    for way in ways:  # the folded report against the two requests it replaces
        pair = [figures[f"ack-{way}"], figures[f"report-{way}"]]
        folded = figures[f"report-folded-{way}"]
        print(
            f"  {'ack + report-' + way:20} {median(pair[0], 0) + median(pair[1], 0):7.2f}ms "
            f"{median(pair[0], 3) + median(pair[1], 3):8.2f}ms {pair[0][-1][1] + pair[1][-1][1]:6.2f} "
            f"{(trips[f'ack-{way}'] or 0) + (trips[f'report-{way}'] or 0):8.2f} "
            f"{pair[0][-1][2] + pair[1][-1][2]:6.2f} {counted[f'ack-{way}'][0] + counted[f'report-{way}'][0]:12.0f}"
            f"   folded ÷ (ack + report), web CPU: {median(folded, 0) / (median(pair[0], 0) + median(pair[1], 0)):.2f}"
        )
    for name in ENDPOINTS:
        lean, drf = figures[f"{name}-lean"], figures[f"{name}-drf"]
        ratio = statistics.median(a[0] / b[0] for a, b in zip(lean, drf, strict=True))
        saved = median(drf, 0) - median(lean, 0)
        print(f"  {name:20} lean ÷ drf (web CPU, per round, median) {ratio:.2f}, saved {saved:.2f} ms")


if __name__ == "__main__":
    main()
