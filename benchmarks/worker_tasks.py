"""What a Celery task costs a prefork worker and PostgreSQL beyond its own work: N cheap tasks (one small query
each) through a real worker (concurrency 1) on the configured broker and database, for each CELERY_DB_REUSE_MAX
given (0 = Celery's default: the connection pool closed around every task).

    DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://.../9 .venv/bin/python benchmarks/worker_tasks.py 300 0 1000

Prints CPU ms per task of the worker (main and pool processes) and of every PostgreSQL process on the machine
(others' work included: compare runs made back to back), and the wall time to drain the queue.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.development")

import django  # noqa: E402

django.setup()

import redis  # noqa: E402

from apps.simulator.processes import cpu_seconds  # noqa: E402
from peerpower.celery import app  # noqa: E402

TASK = "providers.prune_sticky_senders"  # one small DELETE: the task's own work is small beside the overhead


def run(tasks: int, reuse: str, broker: redis.Redis, logs: Path) -> str:
    env = {**os.environ, "CELERY_DB_REUSE_MAX": reuse}
    argv = [str(Path(sys.executable).parent / "celery"), "-A", "peerpower", "worker", "-Q", "default"]
    argv += ["--concurrency", "1", "--loglevel", "WARNING", "--hostname", f"bench{reuse}@%h"]
    with open(logs / f"worker-{reuse}.log", "w") as log:
        worker = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        time.sleep(12)  # booted and idle
        before = cpu_seconds({"worker": worker.pid}, {"postgres": "postgres"})
        started = time.monotonic()
        for _ in range(tasks):
            app.send_task(TASK, queue="default")
        time.sleep(1)
        while broker.llen("default") > 0:
            time.sleep(0.2)
        time.sleep(2)  # the last task finishes
        after = cpu_seconds({"worker": worker.pid}, {"postgres": "postgres"})
        wall = time.monotonic() - started
    finally:
        worker.terminate()
        worker.wait()
    per_task = {name: 1000 * (after[name] - before[name]) / tasks for name in ("worker", "postgres")}
    return (
        f"CELERY_DB_REUSE_MAX={reuse}: {tasks} tasks, worker CPU {per_task['worker']:.2f} ms/task, "
        f"PostgreSQL CPU {per_task['postgres']:.2f} ms/task, wall {wall:.1f} s, load {os.getloadavg()[0]:.1f}"
    )


def main() -> None:
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    broker = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    with tempfile.TemporaryDirectory() as logs:
        for reuse in sys.argv[2:] or ["0", "1000"]:
            print(run(tasks, reuse, broker, Path(logs)), flush=True)


if __name__ == "__main__":
    main()
