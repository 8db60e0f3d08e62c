"""Celery signal handlers: each task starts with a clean context, tagged with its task id and the id of the request
that enqueued it, so its log lines and audit rows can be traced back; each task run is counted on /metrics."""

from typing import Any

from celery.signals import before_task_publish, task_postrun, task_prerun, worker_process_shutdown

from apps.core.context import request_id_var, reset_context
from apps.core.metrics import CELERY_TASKS, process_dead


@before_task_publish.connect
def carry_request_id(headers: dict | None = None, **kwargs: Any) -> None:
    request_id = request_id_var.get()
    if headers is not None and request_id:
        headers.setdefault("request_id", request_id)


@task_prerun.connect
def start_task_context(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    request_id = getattr(task.request, "request_id", None) if task is not None else None
    reset_context(request_id=request_id, task_id=task_id)


@task_postrun.connect
def end_task_context(task: Any = None, state: str | None = None, **kwargs: Any) -> None:
    if task is not None:
        CELERY_TASKS.labels(task=task.name, state=state or "UNKNOWN").inc()
    reset_context()


@worker_process_shutdown.connect
def drop_metrics_of_ended_pool_process(pid: int | None = None, **kwargs: Any) -> None:
    """A prefork pool process has ended: its live gauges must not be added to the totals any more."""
    if pid is not None:
        process_dead(pid)
