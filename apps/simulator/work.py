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
- cache commands: Redis's own count per command (`INFO commandstats`) for the whole server (the cache and the
  broker, and anything else using that server; meaningful when nothing else does). Commands a script or a MULTI
  block runs count one each: the figure is the server's work, not the clients' round trips.
"""

from collections import Counter
from dataclasses import dataclass, field

import httpx
import redis
from django.conf import settings
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

TASKS_METRIC = "peerpower_celery_tasks_total"


@dataclass
class WorkCounts:
    """Counts at one instant; `since(before)` gives what a window added. None where the run has no such service."""

    tasks: Counter[str] = field(default_factory=Counter)
    transactions: int | None = None
    cache_commands: Counter[str] | None = None
    web_requests: Counter[str] = field(default_factory=Counter)  # by view, as the web servers counted them

    def since(self, before: "WorkCounts") -> "WorkCounts":
        transactions = None
        if self.transactions is not None and before.transactions is not None:
            transactions = self.transactions - before.transactions
        commands = None
        if self.cache_commands is not None and before.cache_commands is not None:
            commands = _added(self.cache_commands, before.cache_commands)
        return WorkCounts(
            tasks=_added(self.tasks, before.tasks),
            transactions=transactions,
            cache_commands=commands,
            web_requests=_added(self.web_requests, before.web_requests),
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
        if self.web_requests:
            served = ", ".join(f"{view} {count}" for view, count in self.web_requests.most_common(8))
            lines.append(
                f"               {each(sum(self.web_requests.values()))} requests served per message, as the web "
                f"servers counted them ({sum(self.web_requests.values())}: {served})"
            )
        if self.transactions is not None:
            lines.append(f"               {each(self.transactions)} database transactions per message")
        if self.cache_commands is not None:
            top = ", ".join(f"{name} {each(count)}" for name, count in self.cache_commands.most_common(8))
            lines.append(
                f"               {each(sum(self.cache_commands.values()))} Redis commands per message (the whole "
                f"server, those in scripts and MULTI blocks included: {top or 'none'})"
            )
        return lines


def _added(after: Counter[str], before: Counter[str]) -> Counter[str]:
    """What each count gained between `before` and `after`; names that did not move are left out."""
    return +Counter({name: count - before.get(name, 0) for name, count in after.items()})


def work_counts(http: httpx.Client) -> WorkCounts:
    """The counts now: the servers' /metrics through `http`, the database and the cache this process is set up
    with (the servers share them)."""
    return WorkCounts(
        tasks=tasks_on_metrics(http),
        transactions=database_transactions(),
        cache_commands=cache_commands(),
        web_requests=requests_on_metrics(http),
    )


def metric_samples(http: httpx.Client, name: str) -> list[Sample]:
    """The samples named `name` on the servers' /metrics (the web server's, which also shows the workers' counters:
    one multi-process folder)."""
    families = text_string_to_metric_families(http.get("/metrics").text)
    return [sample for family in families for sample in family.samples if sample.name == name]


def tasks_on_metrics(http: httpx.Client) -> Counter[str]:
    """Celery task runs so far by task name, every final state, as the workers counted them."""
    tasks: Counter[str] = Counter()
    for sample in metric_samples(http, TASKS_METRIC):
        tasks[sample.labels.get("task", "")] += int(sample.value)
    return tasks


def requests_on_metrics(http: httpx.Client) -> Counter[str]:
    """HTTP requests served so far by view name, as the web servers counted them (every method and status)."""
    requests: Counter[str] = Counter()
    for sample in metric_samples(http, "peerpower_http_requests_total"):
        requests[sample.labels.get("view", "")] += int(sample.value)
    return requests


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


def cache_commands() -> Counter[str] | None:
    """Commands the Redis server has run so far, by command; None when the run uses no Redis."""
    url = settings.REDIS_URL or (settings.CELERY_BROKER_URL if settings.CELERY_BROKER_URL.startswith("redis") else "")
    if not url:
        return None
    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    # redis-py parses each `cmdstat_<name>` line into a dict: {"calls": 12, "usec": 30, ...}.
    return Counter({name.removeprefix("cmdstat_"): int(values["calls"]) for name, values in stats.items()})
