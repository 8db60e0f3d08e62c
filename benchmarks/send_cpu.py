"""CPU, SQL statements and Redis round trips per request of the ingest benchmark's endpoints, in this process.

The same requests as `benchmarks/ingest.py` (the floor, `POST /api/messages/send` free and with a PPT hold, and a
1,000-recipient `POST /api/messages/bulk`, free and held), the free send served by DRF alone (`send-drf`, without
apps.core.lean's way), the single send with an `Idempotency-Key` (`send+key`, `send+hold+key`: a new key each
request, as a client that retries safely sends) and a simple authenticated read (`detail`, `GET /api/messages/{id}`),
through Django's handler on `benchmarks.ingest_settings` — no server, no load generator — so the figures are the web
process's own CPU (`time.process_time`), which a loaded, shared machine disturbs far less than requests/s — and, with
PostgreSQL on this machine, the CPU its backend spent on this process's connection (from /proc), since a statement's
planning and execution are CPU the server pays too. Rounds alternate the endpoints; the table gives the median per
request and the ratio to the floor, without and with the database's CPU, and PostgreSQL round trips per request
(`PG trips`, counted in a pass of their own after the rounds) and Python function calls of a typical request (`Python
calls`, the median by a profile hook, in another pass). `--profile NAME` prints cProfile's top functions for
that endpoint instead.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_sendpath_bench REDIS_URL=redis://127.0.0.1:6380/3 \\
    CELERY_BROKER_URL=redis://127.0.0.1:6380/4 .venv/bin/python benchmarks/send_cpu.py

The database name must end in `_bench`. The broker's Redis database is emptied at the end (the dispatch signals
the sends enqueue). A measurement, not a test.
"""

import argparse
import cProfile
import os
import pstats
import random
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.ingest_settings"
os.environ["DEBUG"] = "false"
os.environ.setdefault("LOG_LEVEL", "WARNING")
# As the ingest benchmark's server: no key limit in the way, prices re-read within half a second.
os.environ.setdefault("MESSAGE_RATE_PER_SECOND", "100000")
os.environ.setdefault("MESSAGE_QUOTA_PER_DAY", "100000000")
os.environ.setdefault("BILLING_CACHE_SECONDS", "0.5")

from benchmarks.common import bench_database_url
from benchmarks.ingest import BODIES, api_key, prices, recipient

_round_trips = 0


def _count_redis_round_trips() -> None:
    """Count Redis round trips at the socket: every `sendall` of a command (or a pipeline) is one."""
    from redis.connection import AbstractConnection

    original = AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):  # noqa: ANN202 - redis-py's signature
        global _round_trips
        _round_trips += 1
        return original(self, command, check_health)

    AbstractConnection.send_packed_command = counted


def endpoints(secret: str, bulk_size: int) -> dict[str, tuple[Callable[[], None], bool]]:
    """Each endpoint: a call that makes one request and checks its answer, and whether prices are in force."""
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}", SERVER_NAME="localhost")
    rng = random.Random(5)

    def message() -> dict:
        return {"to": recipient(rng), "body": rng.choice(BODIES).format(n=rng.randint(100000, 999999))}

    sent: list[str] = []  # the last message sent, for `detail`

    keys = iter(range(10**9))
    run = f"{time.time_ns():x}"  # the keys of an earlier run, in the same database, are not replayed

    def post(path: str, body: dict, expected: int, *, key: bool = False) -> None:
        headers = {"HTTP_IDEMPOTENCY_KEY": f"bench-{run}-{next(keys)}"} if key else {}
        response = client.post(path, body, content_type="application/json", **headers)
        assert response.status_code == expected, response.content[:300]
        if path == "/api/messages/send":
            sent[:] = [response.json()["id"]]

    def detail() -> None:
        if not sent:
            post("/api/messages/send", message(), 202)
        response = client.get(f"/api/messages/{sent[0]}")
        assert response.status_code == 200, response.content[:300]

    return {
        "floor": (lambda: post("/bench/floor", message(), 202), False),
        "send": (lambda: post("/api/messages/send", message(), 202), False),
        "send-drf": (lambda: post("/bench/send-drf", message(), 202), False),
        # A simple authenticated read: one message by its id (API key, one SELECT).
        "detail": (detail, False),
        "send+hold": (lambda: post("/api/messages/send", message(), 202), True),
        # With an Idempotency-Key, a new one each time (as a client that retries safely sends them): free and held.
        "send+key": (lambda: post("/api/messages/send", message(), 202, key=True), False),
        "send+hold+key": (lambda: post("/api/messages/send", message(), 202, key=True), True),
        "bulk": (lambda: post("/api/messages/bulk", {"messages": [message() for _ in range(bulk_size)]}, 200), False),
        "bulk+hold": (
            lambda: post("/api/messages/bulk", {"messages": [message() for _ in range(bulk_size)]}, 200),
            True,
        ),
    }


def _backend_cpu_seconds() -> float | None:
    """CPU time so far of the PostgreSQL backend serving this process's connection, read from /proc (so only when
    PostgreSQL runs on this machine); None elsewhere. Clock ticks: ~10 ms resolution, fine over a round."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pg_round_trips(call: Callable[[], None], requests: int) -> float | None:
    """PostgreSQL round trips per request, counted apart from the timed rounds (the trace costs CPU): libpq's trace
    of the connection, where the server ends each request it received (a query, or an extended query's Sync) with
    one ReadyForQuery. BEGIN, COMMIT and savepoints count, which the SQL column (Django's query log) leaves out."""
    import tempfile

    from django.db import connection
    from psycopg.pq import Trace

    if connection.vendor != "postgresql":
        return None
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    with tempfile.TemporaryFile() as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
        try:
            for _ in range(requests):
                call()
        finally:
            pgconn.untrace()
        trace.seek(0)
        answered = sum(1 for line in trace.read().decode(errors="replace").splitlines() if "\tReadyForQuery\t" in line)
    return answered / requests


def python_calls(call: Callable[[], None], requests: int) -> float:
    """Python function calls of `call`'s typical request (this thread), counted by a profile hook: the median over
    `requests` requests, so that the occasional request that re-reads a cache (prices every 0.5 s here) does not
    move it — an exact count where CPU figures are noisy."""
    calls = 0

    def hook(frame: object, event: str, arg: object) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    counts = []
    for _ in range(requests):
        calls = 0
        sys.setprofile(hook)
        try:
            call()
        finally:
            sys.setprofile(None)
        counts.append(calls)
    return statistics.median(counts)


def cpu_profile(call: Callable[[], None], requests: int, *, top: int, dump: str | None) -> None:
    """`call` made `requests` times under cProfile, its functions printed by own and by cumulative time (`top` of
    each); with `dump`, the profile also written there (for pstats)."""
    profiler = cProfile.Profile(time.process_time)  # CPU, not the waits for PostgreSQL and Redis
    profiler.enable()
    for _ in range(requests):
        call()
    profiler.disable()
    if dump:
        profiler.dump_stats(dump)
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def measure(call: Callable[[], None], requests: int) -> tuple[float, float, float, float | None]:
    """(ms of CPU in this process, SQL statements, Redis round trips, ms of CPU in PostgreSQL's backend or None)
    per request."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    global _round_trips
    backend_before = _backend_cpu_seconds()
    _round_trips = 0
    # The log is capped (9,000 entries): once full, CaptureQueriesContext's slice of it would be empty.
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        started = time.process_time()
        for _ in range(requests):
            call()
        cpu = time.process_time() - started
    trips = _round_trips
    backend_after = _backend_cpu_seconds()
    backend = None if backend_before is None or backend_after is None else backend_after - backend_before
    return (
        cpu / requests * 1000,
        len(queries) / requests,
        trips / requests,
        None if backend is None else backend / requests * 1000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per round and endpoint (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--bulk-size", type=int, default=1000)
    parser.add_argument("--bulk-requests", type=int, default=3, help="bulk requests per round (default 3)")
    parser.add_argument(
        "--profile",
        choices=["floor", "send", "send-drf", "detail", "send+hold", "send+key", "send+hold+key", "bulk", "bulk+hold"],
        help="cProfile one endpoint",
    )
    parser.add_argument(
        "--no-freeze",
        action="store_true",
        help="leave start-up objects to the garbage collector (gunicorn's workers freeze them: apps.core.memory)",
    )
    parser.add_argument("--top", type=int, default=40, help="functions listed by --profile (default 40)")
    parser.add_argument("--dump", help="with --profile: also write the profile to this file (for pstats)")
    parser.add_argument("--sample", action="store_true", help="with --profile: pyinstrument's call tree (wall time)")
    parser.add_argument(
        "--endpoints",
        help="comma-separated endpoints to measure (the floor always is: the ratios need it), e.g. bulk,bulk+hold",
    )
    args = parser.parse_args()

    bench_database_url(require_redis=True)
    secret, _ = api_key()
    if not args.no_freeze:
        from apps.core.memory import freeze_startup_objects

        freeze_startup_objects()  # as each gunicorn worker does once it has loaded the application
    _count_redis_round_trips()
    calls = endpoints(secret, args.bulk_size)
    if args.endpoints:
        wanted = {"floor", args.profile, *args.endpoints.split(",")}
        if unknown := wanted - set(calls) - {None}:
            raise SystemExit(f"unknown endpoints: {', '.join(sorted(unknown))}")
        calls = {name: call for name, call in calls.items() if name in wanted}
    counts = {name: args.bulk_requests if name.startswith("bulk") else args.requests for name in calls}
    # `--bulk-requests 0` (or `--requests 0`) leaves those endpoints out rather than dividing by zero.
    calls = {name: call for name, call in calls.items() if counts[name] > 0 or name == "floor"}
    try:
        for name, (call, held) in calls.items():  # warm-up: imports, caches, the filter's first compile
            prices(on=held)
            for _ in range(2 if name.startswith("bulk") else 20):
                call()
        if args.profile:
            call, held = calls[args.profile]
            prices(on=held)
            if args.sample:
                from pyinstrument import Profiler

                with Profiler(interval=0.0002) as sampler:
                    for _ in range(counts[args.profile]):
                        call()
                print(sampler.output_text(color=False, show_all=False))
                return
            cpu_profile(call, counts[args.profile], top=args.top, dump=args.dump)
            return
        load_before = os.getloadavg()[0]
        figures: dict[str, list[tuple[float, float, float, float | None]]] = {name: [] for name in calls}
        for _ in range(args.rounds):
            for name, (call, held) in calls.items():
                prices(on=held)
                figures[name].append(measure(call, counts[name]))
        trips: dict[str, float | None] = {}
        python: dict[str, float] = {}
        for name, (call, held) in calls.items():
            prices(on=held)
            trips[name] = pg_round_trips(call, 1 if name.startswith("bulk") else 20)
            python[name] = python_calls(call, 1 if name.startswith("bulk") else 20)
        prices(on=False)
        print(f"in-process CPU per request, {socket.gethostname()}, median of {args.rounds} rounds")
        floor = statistics.median(f[0] for f in figures["floor"])
        backend = [f[3] for f in figures["floor"] if f[3] is not None]
        floor_total = floor + statistics.median(backend) if backend else None
        for name, rounds in figures.items():
            cpu = statistics.median(f[0] for f in rounds)
            extra = f"  {cpu / args.bulk_size * 1000:.0f} µs per recipient" if name.startswith("bulk") else ""
            backends = [f[3] for f in rounds if f[3] is not None]
            if backends and floor_total:
                database = statistics.median(backends)
                extra += f"  PostgreSQL {database:6.2f} ms  with it: floor/this {floor_total / (cpu + database):.2f}"
                if name.startswith("bulk"):
                    extra += f" (PostgreSQL {database / args.bulk_size * 1000:.0f} µs per recipient)"
            pg = "" if trips[name] is None else f"  PG trips {trips[name]:5.2f}"
            print(
                f"  {name:13} {cpu:8.2f} ms  floor/this {floor / cpu:5.2f}  SQL {rounds[-1][1]:6.2f}  "
                f"Redis {rounds[-1][2]:6.2f}{pg}  Python calls {python[name]:7.0f}{extra}"
            )
        print(f"  load average: {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    finally:
        prices(on=False)
        broker = os.environ.get("CELERY_BROKER_URL", "")
        if broker.startswith("redis://"):
            import redis

            redis.Redis.from_url(broker).flushdb()


if __name__ == "__main__":
    main()
