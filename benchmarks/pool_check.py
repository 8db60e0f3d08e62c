"""CPU per pooled-connection checkout, in this process and in PostgreSQL's backend: Django's check at every checkout
(`ConnectionPool.check_connection`, an empty query), the idle check (`apps.core.postgresql.IdleConnectionCheck`,
connections handed out again at once: no round trip) and no check at all. Rounds alternate the three; medians.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_poolcheck_bench .venv/bin/python benchmarks/pool_check.py

A checkout here is `getconn` + `putconn` of a one-connection pool, as each request and each Celery task does through
Django (which returns the connection at its end). A measurement, not a test.
"""

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.development")

from benchmarks.common import bench_database_url


def backend_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(check: Callable[[Any], None] | None, url: str, checkouts: int) -> tuple[float, float, float]:
    """(µs of this process's CPU, µs of the backend's CPU, µs of wall time) per checkout."""
    from psycopg_pool import ConnectionPool

    with ConnectionPool(url, min_size=1, max_size=1, check=check, kwargs={"autocommit": True}) as pool:
        pool.wait()
        with pool.connection() as conn:
            pid = conn.info.backend_pid
        backend = backend_cpu_seconds(pid)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(checkouts):
            conn = pool.getconn()
            pool.putconn(conn)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        backend = backend_cpu_seconds(pid) - backend
    return cpu / checkouts * 1e6, backend / checkouts * 1e6, wall / checkouts * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkouts", type=int, default=5000, help="checkouts per round and check (default 5000)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    url = bench_database_url()
    import django

    django.setup()
    from psycopg_pool import ConnectionPool

    from apps.core.postgresql.base import IdleConnectionCheck

    checks: dict[str, Callable[[Any], None] | None] = {
        "every checkout": ConnectionPool.check_connection,
        "idle check": IdleConnectionCheck(2.0),
        "none": None,
    }
    figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in checks}
    load = os.getloadavg()[0]
    for _ in range(args.rounds):
        for name, check in checks.items():
            figures[name].append(measure(check, url, args.checkouts))
    print(f"per checkout, median of {args.rounds} rounds of {args.checkouts}:")
    for name, rounds in figures.items():
        cpu, backend, wall = (statistics.median(f[i] for f in rounds) for i in range(3))
        print(f"  {name:15} process CPU {cpu:6.1f} µs  PostgreSQL CPU {backend:6.1f} µs  wall {wall:6.1f} µs")
    print(f"  load average: {load:.2f} before, {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
