"""What a run's messages cost in units of work, counted rather than timed: Celery tasks by name, the database's
transactions and the shared cache's commands, each taken before and after the traffic and divided by the messages.

CPU seconds per message (the summary's `cpu` line) move with the host's speed and its neighbours by more than most
changes are worth on a shared two-core machine; these counts do not, so a change that saves a task, a commit or a
round trip per message shows as an exact difference between two runs. What each count includes:

- tasks: the workers' own counter (`peerpower_celery_tasks_total`, every state), read on the web server's /metrics
  like the pushes' figure — the run's servers only.
- transactions: `xact_commit + xact_rollback` of the run's PostgreSQL database (`pg_stat_database`), every process
  connected to it (web, workers, beat and the simulator's own reads). PostgreSQL publishes a backend's counts when it
  goes idle, at most about once a second, so the last second or so of a window may land in the next read.
- cache commands: Redis's `total_commands_processed` for the whole server (the cache and the broker, and anything
  else using that server); meaningful when nothing else does.
"""

from collections import Counter
from dataclasses import dataclass, field

import httpx
import redis
from django.conf import settings
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

TASKS_METRIC = "peerpower_celery_tasks_total"


@dataclass
class WorkCounts:
    """Counts at one instant; `since(before)` gives what a window added. None where the run has no such service."""

    tasks: Counter[str] = field(default_factory=Counter)
    transactions: int | None = None
    cache_commands: int | None = None

    def since(self, before: "WorkCounts") -> "WorkCounts":
        def minus(after: int | None, earlier: int | None) -> int | None:
            return None if after is None or earlier is None else after - earlier

        tasks = Counter({name: count - before.tasks.get(name, 0) for name, count in self.tasks.items()})
        return WorkCounts(
            tasks=+tasks,  # unary plus drops the tasks that did not run in the window
            transactions=minus(self.transactions, before.transactions),
            cache_commands=minus(self.cache_commands, before.cache_commands),
        )

    def lines(self, messages: int) -> list[str]:
        """The summary's lines: each count per message."""
        if not messages:
            return []

        def each(count: int) -> str:
            return f"{count / messages:.2f}"

        total = sum(self.tasks.values())
        by_name = ", ".join(f"{name.rsplit('.', 1)[-1]} {each(count)}" for name, count in self.tasks.most_common())
        lines = [f"work           {each(total)} Celery tasks per message ({by_name or 'none'})"]
        if self.transactions is not None:
            lines.append(f"               {each(self.transactions)} database transactions per message")
        if self.cache_commands is not None:
            lines.append(f"               {each(self.cache_commands)} Redis commands per message (the whole server)")
        return lines


def work_counts(http: httpx.Client) -> WorkCounts:
    """The counts now: the servers' /metrics through `http`, the database and the cache this process is set up
    with (the servers share them)."""
    return WorkCounts(
        tasks=tasks_on_metrics(http), transactions=database_transactions(), cache_commands=cache_commands()
    )


def tasks_on_metrics(http: httpx.Client) -> Counter[str]:
    """Celery task runs so far by task name, every final state, as the workers counted them."""
    tasks: Counter[str] = Counter()
    for family in text_string_to_metric_families(http.get("/metrics").text):
        for sample in family.samples:
            if sample.name == TASKS_METRIC:
                tasks[sample.labels.get("task", "")] += int(sample.value)
    return tasks


def database_transactions() -> int | None:
    """Transactions committed or rolled back so far in this database, by every process connected to it; None on
    SQLite, which keeps no such count."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        # A fresh snapshot: within a transaction PostgreSQL would answer from the first read's.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
        (count,) = cursor.fetchone()
    return int(count)


def cache_commands() -> int | None:
    """Commands the Redis server has processed so far; None when the run uses no Redis."""
    url = settings.REDIS_URL or (settings.CELERY_BROKER_URL if settings.CELERY_BROKER_URL.startswith("redis") else "")
    if not url:
        return None
    client = redis.Redis.from_url(url)
    try:
        return int(client.info("stats")["total_commands_processed"])
    finally:
        client.close()
