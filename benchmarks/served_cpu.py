"""CPU of one request's fixed part served by gunicorn against the same request through Django's WSGI handler in this
process, and with the processor's caches cold: where a served request's extra CPU goes.

The request is a phone's `POST /api/jobs/ack` with a token that fails authentication (401): the whole middleware
stack and DRF's authentication, no database work. Ways:

- `served`: a gunicorn with the application's config (`peerpower.gunicorn_config`, one sync worker; `--worker-class
  gthread` for the threaded one) and the simulator's settings (development, DEBUG off, a metrics folder), requests
  over HTTP from this process, a new connection each (`--keep-alive`: one connection); the worker's CPU from /proc,
  and all the server's processes' (master included). `--server granian|uwsgi` serves it with one granian or uWSGI
  worker instead (`benchmarks/ingest.py`'s `server_argv`).
- `wsgi`: the same request through `WSGIHandler` in this process, CPU from `time.process_time()` around each call;
  `--evict-mb N` touches N MB between requests (outside the timed call), so each request starts with cold caches
  as a served one does among PostgreSQL, Redis, the workers and the load generator; `--pause-ms` sleeps between
  requests, as a served worker waits for the next one (the scheduler may wake it on the other core).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_served_bench REDIS_URL=redis://127.0.0.1:6380/3 \\
    CELERY_BROKER_URL=redis://127.0.0.1:6380/4 .venv/bin/python benchmarks/served_cpu.py --way served

The database must be migrated (nothing is written). A measurement, not a test.
"""

import argparse
import http.client
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATH = "/api/jobs/ack"
BODY = b'{"job_ids": [1]}'
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer not.a.token"}
WARM_UP = 200
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def environment() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "peerpower.settings.development",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CHAIN_RPC_URL": "",
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="served-cpu-"),
    }


def process_cpu(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process (its own, not its children's)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def served(requests: int, server_name: str, worker_class: str, keep_alive: bool) -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks.ingest import process_tree_cpu_seconds, server_argv

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = server_argv(server_name, port=port, workers=1, keep_alive=keep_alive)
    if server_name == "gunicorn":
        argv[-1:-1] = ["--worker-class", worker_class]
    server = subprocess.Popen(  # noqa: S603 - our own executable, fixed arguments
        argv, env=environment(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    connection: http.client.HTTPConnection | None = None

    def one() -> None:
        nonlocal connection
        if connection is None or not keep_alive:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", PATH, BODY, HEADERS)
        response = connection.getresponse()
        response.read()
        assert response.status == 401, response.status
        if response.getheader("Connection", "").lower() == "close":
            connection.close()
            connection = None

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/health")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        for _ in range(WARM_UP):
            one()
        workers = [int(pid) for pid in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()]
        before = [process_cpu(pid) for pid in workers]
        tree_before = process_tree_cpu_seconds(server.pid)
        for _ in range(requests):
            one()
        after = [process_cpu(pid) for pid in workers]
        tree = (process_tree_cpu_seconds(server.pid) - tree_before) / requests * 1000
        user = sum(a[0] - b[0] for a, b in zip(after, before, strict=True)) / requests * 1000
        system = sum(a[1] - b[1] for a, b in zip(after, before, strict=True)) / requests * 1000
        way = f"served {server_name}{f' {worker_class}' if server_name == 'gunicorn' else ''}"
        way += " keep-alive" if keep_alive else ""
        print(
            f"{way}: worker {user + system:.3f} ms per request ({system:.3f} ms of it system time), all the server's "
            f"processes {tree:.3f} ms"
        )
    finally:
        server.terminate()
        server.wait()


def in_process(requests: int, evict_mb: int, pause_ms: float) -> None:
    os.environ.update(environment())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()

    def call() -> None:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": PATH,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "REMOTE_ADDR": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(BODY),
            "wsgi.errors": sys.stderr,
            "CONTENT_TYPE": HEADERS["Content-Type"],
            "CONTENT_LENGTH": str(len(BODY)),
            "HTTP_HOST": "127.0.0.1",
            "HTTP_AUTHORIZATION": HEADERS["Authorization"],
        }
        response = handler(environ, lambda status, headers, exc_info=None: None)
        b"".join(response)
        response.close()

    for _ in range(WARM_UP):
        call()
    buffer = bytearray(evict_mb << 20)
    used = 0.0
    for _ in range(requests):
        if evict_mb:
            buffer[::64] = bytes(len(buffer[::64]))  # a write to every cache line
        if pause_ms:
            time.sleep(pause_ms / 1000)  # off the processor, as a served worker between requests
        started = time.process_time()
        call()
        used += time.process_time() - started
    print(
        f"wsgi, {evict_mb} MB touched and {pause_ms} ms asleep between requests: {used / requests * 1000:.3f} ms per "
        f"request"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--way", choices=("served", "wsgi"), required=True)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--server", choices=("gunicorn", "granian", "uwsgi"), default="gunicorn")
    parser.add_argument("--worker-class", default="sync", help="gunicorn's worker class")
    parser.add_argument("--keep-alive", action="store_true")
    parser.add_argument("--evict-mb", type=int, default=0)
    parser.add_argument("--pause-ms", type=float, default=0.0)
    args = parser.parse_args()
    if args.way == "served":
        served(args.requests, args.server, args.worker_class, args.keep_alive)
    else:
        in_process(args.requests, args.evict_mb, args.pause_ms)


if __name__ == "__main__":
    main()
