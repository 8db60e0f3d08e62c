"""Ingest benchmark on a real server: `POST /api/messages/send` against the framework's floor, then bulk ingest.

Starts gunicorn (sync workers, 127.0.0.1, a free port; `--server granian|uwsgi` for another server, see
`server_argv`) on `benchmarks.ingest_settings`, which adds a bare DRF view
that authenticates the API key like the send endpoint and inserts one row (`benchmarks/ingest_urls.py`). Then, in
the same run, alternates timed rounds of the floor and of the real send endpoint under the same concurrency, and
prints requests/s, p50 and p99 of each and the ratio. Finally posts `/api/messages/bulk` with 1,000 recipients a
request and prints recipients/s.

Billing: the send and bulk rounds run twice, back to back in the same run and server — `send` with no price in
force (a free message: no hold, no account lock) and `send+hold` with prices in force and a funded client (each
message locks the client's PPT account and books its hold, `charge:message:<id>`, in its transaction). The script
switches prices on and off between rounds (rows in the benchmark's own database) and the server re-reads them
within BILLING_CACHE_SECONDS (set to 0.5 s here).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_sim_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/15 .venv/bin/python benchmarks/ingest.py

The load generator runs on the same machine as the server (and, on 2 cores, competes with it): the figures are a
floor for what the server does, and the ratio is the fair comparison. `--generator wrk` drives the timed rounds with
wrk (C, `apt-get install wrk`; a Lua script draws each request's recipient and body as the Python threads do), which
takes far less of the two cores than Python threads: the server gets more of them, and its figures come closer to
what it would do with the load generator on another machine. Bulk requests are posted from Python (one
client in sequence; `--bulk-clients N` posts from N at once, so every worker is busy) or, with `--bulk-generator
wrk`, by wrk with one connection per client for `--bulk-seconds`. Either way the request bodies are built before the
round, and only the answer's first bytes are read (its count of accepted items), so the load generator's CPU in the
round is little more than sending the bytes; it is printed per recipient beside the server processes' (from /proc),
as is their CPU per request of each timed endpoint, with the CPU of the PostgreSQL backends serving the run's
database and the share of the machine's cores left idle during that endpoint's rounds. `--bulk-only` skips the
timed send rounds. No Celery worker runs: the dispatch tasks the send endpoint enqueues stay in the broker, which
this script empties (CELERY_BROKER_URL's Redis database) at the end.
"""

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.development")
os.environ["DEBUG"] = "false"
os.environ.setdefault("LOG_LEVEL", "WARNING")

from benchmarks.common import percentile  # noqa: E402


def api_key() -> tuple[str, int]:
    import django

    django.setup()
    from django.core.management import call_command

    from apps.accounts.models import User
    from apps.accounts.services import api_key_create, client_create, client_go_live, client_plan_internal

    call_command("migrate", verbosity=0, interactive=False)
    phone = f"+85512{random.randint(200000, 999999)}"
    user = User.objects.create_user(phone=phone)
    organization = client_create(user=user, name="Ingest benchmark")
    client_go_live(organization=organization, actor=None, reason="benchmark", plan=client_plan_internal())
    _, secret = api_key_create(organization=organization, actor=user, name="bench", rate_per_second=10_000)
    _fund(organization)
    return secret, organization.pk


def _fund(organization) -> None:
    """Enough PPT for every held message of the run (a million PPT)."""
    from apps.tokens.choices import PlatformAccount, Reason
    from apps.tokens.services import TransferSpec, account_open, platform_account, transfers_create

    transfers_create(
        [
            TransferSpec(
                id=f"bench:fund:{organization.pk}",
                amount=10**12,
                debit_account_id=platform_account(PlatformAccount.ISSUANCE).pk,
                credit_account_id=account_open(organization=organization).pk,
                reason=Reason.TOP_UP,
            )
        ]
    )


def prices(*, on: bool) -> None:
    """Prices in force for every priority and route (on), or none (off: messages are free)."""
    from apps.incentives.models import Price

    Price.objects.all().delete()
    if on:
        Price.objects.bulk_create(
            Price(priority=priority, route=route, amount=10_000)
            for priority in ("high", "normal", "low")
            for route in ("on_net", "cross_carrier")
        )
    time.sleep(1.0)  # the server's price cache (BILLING_CACHE_SECONDS=0.5) lets go of the old table


PREFIXES = ["10", "12", "15", "16", "17", "77", "78", "89", "92", "97", "60", "66"]


def recipient(rng: random.Random) -> str:
    prefix = rng.choice(PREFIXES)
    return f"0{prefix}{rng.randint(200000, 999999)}"


BODIES = (
    "Your verification code is {n}. It expires in 5 minutes.",
    "លេខកូដផ្ទៀងផ្ទាត់របស់អ្នកគឺ {n}។ វានឹងផុតកំណត់ក្នុងរយៈពេល ៥ នាទី។",
)


def load(url: str, path: str, key: str, *, concurrency: int, seconds: float) -> tuple[int, float, list[float], int]:
    """`concurrency` threads post for `seconds`; returns (requests, wall seconds, latencies, errors)."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
            while time.monotonic() < stop_at:
                body = {"to": recipient(rng), "body": rng.choice(BODIES).format(n=rng.randint(100000, 999999))}
                started = time.perf_counter()
                response = http.post(path, json=body)
                elapsed = time.perf_counter() - started
                with lock:
                    if response.status_code == 202:
                        latencies.append(elapsed)
                    else:
                        errors += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies), time.monotonic() - started, latencies, errors


# wrk's request generator: a new recipient and body for every request, as `load` draws them. Each wrk thread has its
# own Lua state, seeded differently (`setup` gives each its number) so that they do not send the same numbers.
WRK_SCRIPT = r"""
local prefixes = PREFIXES
local bodies = BODIES
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("number", threads)
end
function init(args)
  math.randomseed(os.time() * 100 + number)
end
request = function()
  local to = "0" .. prefixes[math.random(#prefixes)] .. tostring(math.random(200000, 999999))
  local body = bodies[math.random(#bodies)]:gsub("{n}", tostring(math.random(100000, 999999)))
  return wrk.format("POST", nil, nil, '{"to": "' .. to .. '", "body": "' .. body .. '"}')
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("WRK %d %d %d %d %d\n", summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), errors.status + errors.connect + errors.read + errors.write + errors.timeout))
end
"""


def _lua_list(values: list[str]) -> str:
    """A Lua table of strings (the values have no quote or backslash; JSON strings need none either)."""
    assert not any('"' in value or "\\" in value for value in values)
    return "{" + ", ".join(f'"{value}"' for value in values) + "}"


def load_wrk(url: str, path: str, key: str, *, concurrency: int, seconds: float) -> tuple[int, float, list[float], int]:
    """The same round as `load`, driven by wrk with 2 threads and `concurrency` connections (POST, the key's
    header, a JSON body). wrk gives only its percentiles, so the latencies returned are the round's p50 and p99."""
    import shutil
    import tempfile

    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("--generator wrk needs wrk on the PATH (apt-get install wrk)")
    script = WRK_SCRIPT.replace("PREFIXES", _lua_list(PREFIXES), 1).replace("BODIES", _lua_list(list(BODIES)), 1)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        completed = subprocess.run(  # noqa: S603 - wrk with fixed arguments
            [
                wrk,
                "--threads",
                "2",
                "--connections",
                str(concurrency),
                "--duration",
                f"{seconds:.0f}s",
                "--timeout",
                "30s",
                "--header",
                f"Authorization: Bearer {key}",
                "--header",
                "Content-Type: application/json",
                "--script",
                handle.name,
                f"{url}{path}",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(handle.name)
    line = next(line for line in completed.stdout.splitlines() if line.startswith("WRK "))
    requests, duration_us, p50_us, p99_us, errors = (int(value) for value in line.split()[1:])
    # wrk counts answers other than 2xx/3xx as errors: the accepted ones are the rest.
    return requests - errors, duration_us / 1e6, [p50_us / 1e6, p99_us / 1e6], errors


def bulk_bodies(*, seed: int, requests: int, size: int, same_body: bool = False) -> list[bytes]:
    """`requests` bulk request bodies of `size` recipients each, as JSON bytes, built before a timed round so that the
    round's client does nothing per recipient but send the bytes. Each recipient gets a body of its own (a code), or
    with `same_body` one per request (a campaign)."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(requests):
        shared = rng.choice(BODIES).format(n=rng.randint(100000, 999999)) if same_body else ""
        batch = [
            {
                "to": recipient(rng),
                "body": shared if same_body else rng.choice(BODIES).format(n=rng.randint(100000, 999999)),
            }
            for _ in range(size)
        ]
        bodies.append(json.dumps({"messages": batch}, ensure_ascii=False).encode())
    return bodies


# The bulk answer opens with its count of accepted items (`{"accepted":N,…`): read from there, the client does not
# parse the ~480 bytes per recipient of the rest.
ACCEPTED = re.compile(rb'"accepted":\s*(\d+)')


def bulk_accepted(answer: bytes) -> int:
    match = ACCEPTED.search(answer, 0, 64)
    if match is None:
        raise ValueError(f"not a bulk answer: {answer[:200]!r}")
    return int(match.group(1))


def bulk(url: str, key: str, bodies: list[list[bytes]]) -> tuple[float, int]:
    """One client thread per list of `bodies` posts its pre-built requests one after another; returns (wall seconds,
    accepted). Through `http.client`, which reads an answer in one C call: httpx took ~8 µs of CPU per recipient to
    send a request and read its ~480 bytes per recipient of answer, a measurable share of the two cores."""
    import http.client

    accepted = 0
    lock = threading.Lock()
    address = urlparse(url)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def client(own: list[bytes]) -> None:
        nonlocal accepted
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
        try:
            for content in own:
                connection.request("POST", "/api/messages/bulk", body=content, headers=headers)
                response = connection.getresponse()
                answer = response.read()
                if response.status != 200:
                    raise RuntimeError(f"bulk request answered {response.status}: {answer[:300]!r}")
                with lock:
                    accepted += bulk_accepted(answer)
        finally:
            connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(own,)) for own in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started, accepted


# wrk's bulk round: each connection posts pre-built bulk bodies (files written before the round) in turn, and the
# accepted counts are read from the answers' first bytes. Thread n of N takes bodies n, n+N, … of the list.
WRK_BULK_SCRIPT = r"""
local files = FILES
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("number", #threads)
  thread:set("count", THREADS)
end
function init(args)
  bodies = {}
  for index = number, #files, count do
    local handle = assert(io.open(files[index], "rb"))
    table.insert(bodies, handle:read("*a"))
    handle:close()
  end
  next_body = 0
  accepted = 0
  refused = 0
end
request = function()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", nil, nil, bodies[next_body])
end
response = function(status, headers, body)
  local n = string.match(string.sub(body, 1, 64), '"accepted":%s*(%d+)')
  if status == 200 and n then accepted = accepted + tonumber(n) else refused = refused + 1 end
end
done = function(summary, latency, requests)
  local total, failed = 0, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("accepted")
    failed = failed + thread:get("refused")
  end
  io.write(string.format("WRK %d %d %d %d\n", summary.requests, summary.duration, total, failed))
end
"""


def bulk_wrk(url: str, key: str, bodies: list[list[bytes]], *, seconds: float) -> tuple[float, int, int]:
    """The bulk round driven by wrk (C) for `seconds`: one connection (and wrk thread) per list of `bodies`, each
    posting its bodies in turn, again from the first when it has posted them all. Returns (wall seconds, accepted,
    requests answered). Requests still under way when the time is up are not counted (their server CPU is, in part:
    the CPU per recipient is a little high, by about a request's share of the round)."""
    import shutil
    import tempfile

    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("--bulk-generator wrk needs wrk on the PATH (apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="bulk-wrk-") as folder:
        # Interleaved so that thread n's bodies are its own list's (n, n+N, …).
        files = []
        for position in range(max(len(own) for own in bodies)):
            for number, own in enumerate(bodies):
                if position < len(own):
                    path = Path(folder) / f"{number}-{position}.json"
                    path.write_bytes(own[position])
                    files.append(str(path))
        script = Path(folder) / "bulk.lua"
        script.write_text(WRK_BULK_SCRIPT.replace("FILES", _lua_list(files), 1).replace("THREADS", str(len(bodies)), 1))
        started = time.monotonic()
        completed = subprocess.run(  # noqa: S603 - wrk with fixed arguments
            [
                wrk,
                "--threads",
                str(len(bodies)),
                "--connections",
                str(len(bodies)),
                "--duration",
                f"{seconds:.0f}s",
                "--timeout",
                "120s",
                "--header",
                f"Authorization: Bearer {key}",
                "--header",
                "Content-Type: application/json",
                "--script",
                str(script),
                f"{url}/api/messages/bulk",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.monotonic() - started
    line = next(line for line in completed.stdout.splitlines() if line.startswith("WRK "))
    requests, duration_us, accepted, failed = (int(value) for value in line.split()[1:])
    if failed:
        raise RuntimeError(f"wrk: {failed} bulk requests were refused")
    return min(duration_us / 1e6, wall), accepted, requests


def _client_cpu_seconds() -> float:
    """This process's CPU and its finished children's (wrk, once it has exited; gunicorn is still running)."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def process_tree_cpu_seconds(pid: int) -> float:
    """CPU time so far (user + system) of `pid` and its children (the server's master and workers, all their threads),
    from /proc; 0 where there is no /proc. Beside requests/s it is what a shared machine disturbs least. Workers the
    server has replaced count through their parent's reaped-children times, so the figure never goes back."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return 0.0
    # Every thread's children: a process started from a thread other than the main one is listed under it. A thread
    # that ends meanwhile has none left.
    children: list[str] = []
    for task in tasks:
        try:
            children += (task / "children").read_text().split()
        except OSError:
            continue
    total += sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime
    return total + sum(process_tree_cpu_seconds(int(child)) for child in children)


def postgres_cpu_seconds() -> float:
    """CPU time so far of the PostgreSQL backends connected to this run's database (the server's side of every
    request, from /proc: PostgreSQL must run on this machine), 0 where there is no /proc. Only backends alive at both
    reads count, which the workers' pooled connections are."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids = [row[0] for row in cursor.fetchall()]
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:13]) / os.sysconf("SC_CLK_TCK")
    return total


def machine_cpu_jiffies() -> tuple[int, int]:
    """(busy, all) jiffies of the whole machine so far, from /proc/stat; idle and I/O wait are not busy."""
    try:
        values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0
    return sum(values) - values[3] - values[4], sum(values)


SERVERS = ("gunicorn", "granian", "uwsgi")
SERVER_LABELS = {"gunicorn": "gunicorn sync", "granian": "granian WSGI", "uwsgi": "uWSGI (pyuwsgi)"}


def server_argv(
    server: str, *, port: int, workers: int, log_level: str = "warning", keep_alive: bool = True
) -> list[str]:
    """The command that serves the application on 127.0.0.1:`port` with `workers` processes, without worker recycling
    (a replaced worker's start-up, a second or more of CPU and a stall, would land in one endpoint's round and not
    another's and swing the ratios by several per cent) and without an access log.

    - gunicorn: the application's config (`peerpower.gunicorn_config`: sync workers, one thread).
    - granian: WSGI, one runtime thread and one blocking thread (the thread that runs Python) a worker: a worker
      serves one request at a time, as a sync worker does; its HTTP/1 path (accept, parse, keep-alive) is Rust.
    - uwsgi: pyuwsgi, a master and `workers` processes without threads, each loading the application itself and
      parsing HTTP/1.1 with keep-alive in C (`--http11-socket`).
    Both load `benchmarks.wsgi_frozen`: the application with its start-up objects frozen, as gunicorn's hook does.
    Without `keep_alive` granian and uWSGI close each connection after its answer, as gunicorn's sync workers always
    do (`uwsgi --http-socket`, with a `Connection: close` header so that clients do not reuse it).
    The executables are looked up beside this Python's, then on the PATH."""
    import shutil

    def executable(name: str) -> str:
        beside = Path(sys.executable).parent / name
        found = str(beside) if beside.exists() else shutil.which(name)
        if found is None:
            raise SystemExit(f"--server {server} needs {name} installed")
        return found

    address = f"127.0.0.1:{port}"
    if server == "gunicorn":
        return [
            executable("gunicorn"),
            "-c",
            "python:peerpower.gunicorn_config",
            "--bind",
            address,
            "--workers",
            str(workers),
            "--log-level",
            log_level,
            "--max-requests",
            "0",
            "peerpower.wsgi",
        ]
    if server == "granian":
        return [
            executable("granian"),
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--runtime-threads",
            "1",
            "--blocking-threads",
            "1",
            "--log-level",
            log_level,
            "--no-access-log",
            *([] if keep_alive else ["--no-http1-keep-alive"]),
            "benchmarks.wsgi_frozen:application",
        ]
    return [
        executable("uwsgi"),
        *(
            ["--http11-socket", address]
            if keep_alive
            else ["--http-socket", address, "--add-header", "Connection: close"]
        ),
        "--lazy-apps",
        "--master",
        "--processes",
        str(workers),
        "--pythonpath",
        str(ROOT),
        "--module",
        "benchmarks.wsgi_frozen:application",
        "--need-app",
        "--die-on-term",
        "--disable-logging",
        "--buffer-size",
        "16384",
        "--max-requests",
        "0",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default 2, one per core)")
    parser.add_argument(
        "--server",
        choices=SERVERS,
        default="gunicorn",
        help="the web server: gunicorn (sync workers, the application's config), granian (WSGI, one blocking thread "
        "a worker) or uwsgi (pyuwsgi, processes without threads)",
    )
    parser.add_argument(
        "--no-keep-alive",
        action="store_true",
        help="granian and uWSGI close each connection after its answer, as gunicorn's sync workers do",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--seconds", type=float, default=10, help="length of one timed round (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each endpoint, alternating (default 2)")
    parser.add_argument("--bulk-requests", type=int, default=5)
    parser.add_argument("--bulk-size", type=int, default=1000)
    parser.add_argument(
        "--bulk-clients",
        type=int,
        default=1,
        help="bulk clients posting at once (default 1: one request at a time, one worker busy)",
    )
    parser.add_argument(
        "--bulk-same-body", action="store_true", help="one body for all of a bulk request's recipients (a campaign)"
    )
    parser.add_argument(
        "--generator", choices=["python", "wrk"], default="python", help="load generator of the timed rounds"
    )
    parser.add_argument(
        "--bulk-generator",
        choices=["python", "wrk"],
        default="python",
        help="load generator of the bulk rounds: Python threads posting --bulk-requests each, or wrk (C) posting the "
        "same pre-built bodies in turn for --bulk-seconds",
    )
    parser.add_argument("--bulk-seconds", type=float, default=6, help="length of a wrk bulk round (default 6)")
    parser.add_argument(
        "--bulk-only", action="store_true", help="skip the timed send rounds (the floor, send and send+hold)"
    )
    args = parser.parse_args()
    timed = load_wrk if args.generator == "wrk" else load

    key, _ = api_key()
    load_before = os.getloadavg()
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.ingest_settings",
        "MESSAGE_RATE_PER_SECOND": "100000",
        "MESSAGE_QUOTA_PER_DAY": "100000000",
        "BILLING_CACHE_SECONDS": "0.5",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen(  # noqa: S603 - our own server, fixed arguments
        server_argv(args.server, port=port, workers=args.workers, keep_alive=not args.no_keep_alive), env=env, cwd=ROOT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        # Warm-up: imports, the content filter's first compile, connection pools.
        load(url, "/api/messages/send", key, concurrency=2, seconds=2)
        load(url, "/bench/floor", key, concurrency=2, seconds=1)
        if not args.bulk_only:
            results: dict[str, list[tuple[int, float, list[float], int]]] = {"floor": [], "send": [], "send+hold": []}
            web_cpu: dict[str, float] = {}  # the server processes' CPU seconds over each endpoint's rounds
            # PostgreSQL's CPU (the run's database's backends) and the machine's busy and total jiffies, likewise:
            # where a request's time goes beyond the web process, and whether the cores were ever left idle.
            pg_cpu: dict[str, float] = {}
            machine: dict[str, list[int]] = {}
            is_postgresql = urlparse(env.get("DATABASE_URL", "sqlite:")).scheme.startswith("postgres")
            for _ in range(args.rounds):
                for name, path in (("floor", "/bench/floor"), ("send", "/api/messages/send"), ("send+hold", "")):
                    if name == "send+hold":
                        prices(on=True)
                        path = "/api/messages/send"
                    cpu_before = process_tree_cpu_seconds(server.pid)
                    pg_before = postgres_cpu_seconds() if is_postgresql else 0.0
                    busy_before, all_before = machine_cpu_jiffies()
                    results[name].append(timed(url, path, key, concurrency=args.concurrency, seconds=args.seconds))
                    web_cpu[name] = web_cpu.get(name, 0.0) + process_tree_cpu_seconds(server.pid) - cpu_before
                    pg_cpu[name] = pg_cpu.get(name, 0.0) + (postgres_cpu_seconds() if is_postgresql else 0.0)
                    pg_cpu[name] -= pg_before
                    busy_after, all_after = machine_cpu_jiffies()
                    spent = machine.setdefault(name, [0, 0])
                    spent[0] += busy_after - busy_before
                    spent[1] += all_after - all_before
                    if name == "send+hold":
                        prices(on=False)
            print(
                f"ingest: {SERVER_LABELS[args.server]}{' (no keep-alive)' if args.no_keep_alive else ''}, "
                f"{args.workers} workers, {args.concurrency} "
                f"{'wrk connections' if args.generator == 'wrk' else 'client threads'}, "
                f"{args.rounds}×{args.seconds:.0f} s per endpoint, "
                f"database {urlparse(env.get('DATABASE_URL', 'sqlite:')).scheme}"
            )
            rates = {}
            for name, rounds in results.items():
                count = sum(r[0] for r in rounds)
                wall = sum(r[1] for r in rounds)
                errors = sum(r[3] for r in rounds)
                rates[name] = count / wall
                if args.generator == "wrk":  # each round's own p50 and p99: the median of the p50s, the worst p99
                    p50, p99 = statistics.median(r[2][0] for r in rounds), max(r[2][1] for r in rounds)
                else:
                    latencies = [x for r in rounds for x in r[2]]
                    p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
                print(
                    f"  {name:9} {rates[name]:7.1f} req/s   p50 {p50 * 1000:6.1f} ms   p99 {p99 * 1000:6.1f} ms   "
                    f"errors {errors}   web CPU {web_cpu[name] / max(count, 1) * 1000:.2f} ms per request   "
                    f"PostgreSQL CPU {pg_cpu[name] / max(count, 1) * 1000:.2f} ms   "
                    f"machine idle {1 - machine[name][0] / max(machine[name][1], 1):.0%}"
                )
            print(f"  ratio send/floor: {rates['send'] / rates['floor']:.2f} (target ≥ 0.7)")
            print(f"  ratio send+hold/floor: {rates['send+hold'] / rates['floor']:.2f} (target ≥ 0.7)")
            # The machine is usually shared: say how busy it was (1-minute load average, this run's own load included).
            print(f"  load average: {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after the timed rounds")
        # A bulk request first, outside the rounds: the bulk path's own first-use costs (imports, prepared statements).
        bulk(url, key, [bulk_bodies(seed=1, requests=1, size=args.bulk_size)])
        for label, on in (("free", False), ("held", True), ("free", False), ("held", True)):
            prices(on=on)
            built = time.process_time()
            bodies = [
                bulk_bodies(
                    seed=9 + number, requests=args.bulk_requests, size=args.bulk_size, same_body=args.bulk_same_body
                )
                for number in range(args.bulk_clients)
            ]
            built = time.process_time() - built
            load_round = os.getloadavg()[0]
            cpu_before = process_tree_cpu_seconds(server.pid)
            client_before = _client_cpu_seconds()
            if args.bulk_generator == "wrk":
                seconds, accepted, requests = bulk_wrk(url, key, bodies, seconds=args.bulk_seconds)
            else:
                (seconds, accepted), requests = bulk(url, key, bodies), args.bulk_clients * args.bulk_requests
            client_cpu = _client_cpu_seconds() - client_before
            web_cpu = process_tree_cpu_seconds(server.pid) - cpu_before
            print(
                f"bulk ({label}{', one body' if args.bulk_same_body else ''}, {args.bulk_generator}): "
                f"{args.bulk_clients} clients, {requests} requests × {args.bulk_size} recipients: "
                f"{accepted / seconds:.0f} recipients/s ({seconds * args.bulk_clients / max(requests, 1):.2f} s per "
                f"request), web CPU {web_cpu / max(accepted, 1) * 1e6:.0f} µs per recipient; load generator CPU "
                f"{client_cpu / max(accepted, 1) * 1e6:.1f} µs per recipient in the round "
                f"(+{built / max(args.bulk_clients * args.bulk_requests * args.bulk_size, 1) * 1e6:.1f} µs building "
                f"the bodies before it); load {load_round:.2f}"
            )
        prices(on=False)
    finally:
        server.terminate()
        server.wait(timeout=30)
        broker = os.environ.get("CELERY_BROKER_URL", "")
        if broker.startswith("redis://"):
            import redis

            redis.Redis.from_url(broker).flushdb()


if __name__ == "__main__":
    main()
