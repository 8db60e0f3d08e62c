"""Celery signal handlers: each task starts with a clean context, tagged with its task id and the id of the request
that enqueued it, so its log lines and audit rows can be traced back; each task run is counted and timed on /metrics
(how long it waited in the queue, from the publication time its sender stamps on it, and how long it ran)."""

import time
from typing import Any

from celery.signals import before_task_publish, task_postrun, task_prerun, worker_process_shutdown
from django.db import close_old_connections

from apps.core.context import request_id_var, reset_context
from apps.core.metrics import CELERY_TASK_DURATION, CELERY_TASK_QUEUE_WAIT, CELERY_TASKS, process_dead

# Start times of the tasks running in this process, by task id (a pool process runs one at a time; a thread pool,
# several).
_started: dict[str, float] = {}


@before_task_publish.connect
def carry_request_id(headers: dict | None = None, **kwargs: Any) -> None:
    request_id = request_id_var.get()
    if headers is not None and request_id:
        headers.setdefault("request_id", request_id)
    if headers is not None:
        headers.setdefault("published_at", time.time())  # wall clock: publisher and worker are different machines


@task_prerun.connect
def start_task_context(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    request_id = getattr(task.request, "request_id", None) if task is not None else None
    reset_context(request_id=request_id, task_id=task_id)
    if task is None:
        return
    published_at = getattr(task.request, "published_at", None)
    if isinstance(published_at, int | float) and not task.request.is_eager:
        CELERY_TASK_QUEUE_WAIT.labels(task=task.name).observe(max(0.0, time.time() - published_at))
    if task_id:
        _started[task_id] = time.perf_counter()
    _release_connections(task)


def _release_connections(task: Any) -> None:
    """What Django does around a request: give the connection back to the pool, or close it if it is unusable or
    too old. Celery's own fixup would close the whole pool around every task; CELERY_DB_REUSE_MAX stops that (see
    the setting). Not for eager tasks: they run inside the caller's transaction."""
    if task is not None and not task.request.is_eager:
        close_old_connections()


@task_postrun.connect
def end_task_context(task_id: str | None = None, task: Any = None, state: str | None = None, **kwargs: Any) -> None:
    started = _started.pop(task_id, None) if task_id else None
    if task is not None:
        CELERY_TASKS.labels(task=task.name, state=state or "UNKNOWN").inc()
        if started is not None:
            CELERY_TASK_DURATION.labels(task=task.name).observe(time.perf_counter() - started)
    _release_connections(task)
    reset_context()


@worker_process_shutdown.connect
def drop_metrics_of_ended_pool_process(pid: int | None = None, **kwargs: Any) -> None:
    """A prefork pool process has ended: its live gauges must not be added to the totals any more."""
    if pid is not None:
        process_dead(pid)
