"""Prometheus metrics: the project's registry of counters and histograms, and the multi-process setup.

Other apps define their metrics here or in their own modules with `prometheus_client` on the default registry;
`/metrics` exposes all of them.

Several processes record metrics: gunicorn's workers serve requests, Celery's workers send pushes and webhooks. They
all write to one folder, PROMETHEUS_MULTIPROC_DIR (prometheus_client's multi-process mode: one memory-mapped file
per process and metric type), and `/metrics` adds up every file in it, so a counter incremented in a worker shows on
the web process's `/metrics`. Whoever starts the stack empties the folder first (`manage.py runstack`, the
simulator, compose's `migrate` step) and gives it to every process it starts; a process that ends has its live
gauges dropped (`process_dead`, called from gunicorn's `child_exit` and Celery's `worker_process_shutdown`).
A Gauge must say how processes combine (`multiprocess_mode="livesum"`, "max", ...): the default keeps one series
per process.

Files are named after the host as well as the process id: compose shares the folder between containers, whose
process ids are counted separately and would otherwise collide on one file.
"""

import logging
import os
import re
import shutil
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

# Underscores separate the parts of prometheus_client's file names (gauge_livesum_<process>.db).
_HOST = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "host"


def process_identifier(pid: int | None = None) -> str:
    """The name under which process `pid` (default: this one) of this host writes its metric files."""
    return f"{_HOST}-{os.getpid() if pid is None else pid}"


def multiprocess_dir() -> str:
    """The shared metrics folder, or "" when this process keeps its metrics to itself."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


if multiprocess_dir():
    # Before any metric has a value: values are created with whatever class is installed at that moment.
    values.ValueClass = values.MultiProcessValue(process_identifier)


def multiprocess_dir_reset(path: str | Path) -> str:
    """Empty (or create) the shared metrics folder before a stack starts, so figures of earlier runs, whose
    processes are gone, are not added in. Returns the absolute path to give the processes."""
    folder = Path(path).resolve()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return str(folder)


def process_dead(pid: int) -> None:
    """Drop the live gauges of a process that has ended (its counters stay: they are part of the totals)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(process_identifier(pid))


HTTP_REQUESTS = Counter(
    "peerpower_http_requests_total", "HTTP requests by method, view and status.", ["method", "view", "status"]
)
HTTP_LATENCY = Histogram(
    "peerpower_http_request_duration_seconds",
    "HTTP request latency by method and view.",
    ["method", "view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CELERY_TASKS = Counter(
    "peerpower_celery_tasks_total",
    "Celery task runs by task and final state (SUCCESS, FAILURE, RETRY...), counted in the worker that ran them.",
    ["task", "state"],
)
# Task names are the project's registered tasks (a fixed set), never arguments.
_TASK_SECONDS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
CELERY_TASK_DURATION = Histogram(
    "peerpower_celery_task_duration_seconds",
    "Time a Celery task ran, from start to end, by task, in the worker that ran it.",
    ["task"],
    buckets=_TASK_SECONDS_BUCKETS,
)
CELERY_TASK_QUEUE_WAIT = Histogram(
    "peerpower_celery_task_queue_wait_seconds",
    "Time from a task's publication to its start in a worker (queueing latency), by task.",
    ["task"],
    buckets=_TASK_SECONDS_BUCKETS,
)


# Collectors that read their figures when scraped (from the database, say) rather than from process memory; they
# are added to the multi-process registry too, where only counters written to PROMETHEUS_MULTIPROC_DIR appear.
_LIVE_COLLECTORS: list = []


def register_live_collector(collector: Collector) -> None:
    """Expose `collector` on /metrics, in single- and multi-process mode alike (once, however often called)."""
    if any(type(existing) is type(collector) for existing in _LIVE_COLLECTORS):
        return
    _LIVE_COLLECTORS.append(collector)
    REGISTRY.register(collector)


class CachedCollector(Collector):
    """A live collector that reads its figures at most once every `cache_seconds` in a process: Prometheus (and
    several of them, in a redundant pair) scrape every few seconds, and the figures come from a grouped database query
    or the broker. A failed read exposes nothing for the scrape rather than failing /metrics."""

    cache_seconds = 5.0

    def __init__(self) -> None:
        self._read_at = float("-inf")
        self._families: list[Metric] = []

    def read(self) -> Iterable[Metric]:
        raise NotImplementedError

    def collect(self) -> Iterator[Metric]:
        now = time.monotonic()
        if now - self._read_at >= self.cache_seconds:
            try:
                self._families = list(self.read())
            except Exception:  # no database, broker down: the other metrics must still be scraped
                logger.warning("%s figures unavailable", type(self).__name__, exc_info=True)
                self._families = []
            self._read_at = now
        return iter(self._families)

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def expire(self) -> None:
        """Read afresh at the next scrape (tests, and callers that just changed what is counted)."""
        self._read_at = float("-inf")


class CeleryQueueCollector(CachedCollector):
    """Messages waiting in each of the Celery app's queues, as the broker counts them (Redis: the list lengths of
    every priority step; the SQLite broker: its rows), through kombu's passive queue declaration."""

    def read(self) -> Iterator[Metric]:
        from celery import current_app

        lengths = GaugeMetricFamily(
            "peerpower_celery_queue_length", "Tasks waiting in the broker, by Celery queue.", labels=["queue"]
        )
        with current_app.connection_for_read(connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=3)
            channel = connection.default_channel
            for queue in current_app.conf.task_queues or []:
                try:
                    waiting = channel.queue_declare(queue=queue.name, passive=True).message_count
                except connection.channel_errors:  # a queue nothing was ever sent to does not exist yet
                    waiting = 0
                lengths.add_metric([queue.name], waiting)
        yield lengths


def live_collectors_expire() -> None:
    """Make every cached live collector read afresh at the next scrape (after a change a test or staff wants to see
    at once)."""
    for collector in _LIVE_COLLECTORS:
        if isinstance(collector, CachedCollector):
            collector.expire()


def exposition() -> tuple[bytes, str]:
    """The text exposition of every metric, added up across processes when running multi-process."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        for collector in _LIVE_COLLECTORS:
            registry.register(collector)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
