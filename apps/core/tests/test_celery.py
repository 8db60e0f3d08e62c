"""A real Celery worker process consumes from the configured broker (SQLite file, or Redis in CI)."""

import time

import pytest

from apps.core.metrics import multiprocess_dir_reset
from apps.core.signals import end_task_context, start_task_context
from apps.core.tasks import ping
from apps.core.tests.metrics_scrape import scrape, value
from peerpower.celery import app


def test_configuration_is_production_like():
    conf = app.conf
    assert conf.task_always_eager is False
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.accept_content == ["json"]
    assert {queue.name for queue in conf.task_queues} == {"high", "default", "low"}
    assert conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"
    assert conf.task_time_limit and conf.task_soft_time_limit < conf.task_time_limit


@pytest.mark.parametrize("queue", ["high", "low"])
def test_a_worker_process_runs_a_task(worker, queue):
    started = time.monotonic()
    result = ping.apply_async(args=[f"hello {queue}"], queue=queue)
    assert result.get(timeout=60) == f"hello {queue}"
    assert worker.poll() is None, "the worker should still be running"
    assert time.monotonic() - started < 60


@pytest.fixture
def metrics_folder(tmp_path, monkeypatch):
    """A shared metrics folder for this test's processes (set before the worker starts, which inherits it)."""
    folder = multiprocess_dir_reset(tmp_path / "metrics")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", folder)
    return folder


@pytest.mark.django_db
def test_the_worker_times_its_tasks_on_metrics(metrics_folder, worker, client):
    assert ping.apply_async(args=["timed"], queue="default").get(timeout=60) == "timed"
    # The result is stored before the worker's task_postrun handler counts the run: wait for the count.
    deadline = time.monotonic() + 30
    while not value(samples := scrape(client), "peerpower_celery_tasks_total", task="core.ping", state="SUCCESS"):
        assert time.monotonic() < deadline, "the worker's count of the run never reached /metrics"
        time.sleep(0.1)
    # The task ran in the worker; the web process's /metrics shows its run, its duration and its wait in the queue.
    assert value(samples, "peerpower_celery_tasks_total", task="core.ping", state="SUCCESS") == 1
    assert value(samples, "peerpower_celery_task_duration_seconds_count", task="core.ping") == 1
    assert value(samples, "peerpower_celery_task_queue_wait_seconds_count", task="core.ping") == 1
    assert value(samples, "peerpower_celery_task_queue_wait_seconds_bucket", task="core.ping", le="60.0") == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("reuse_max", [1000, 0])
def test_a_prefork_worker_keeps_its_connection_pool_between_tasks(reuse_max, settings):
    """Celery's Django fixup closes the connections around every task, and on a prefork worker it closed Django's
    whole connection pool too, so every task opened new PostgreSQL connections. With CELERY_DB_REUSE_MAX (the
    setting's default) the pool lives on and each task's connection goes back to it; 0 is Celery's behaviour."""
    from types import SimpleNamespace

    from celery.fixups.django import DjangoWorkerFixup
    from django.db import connection

    if connection.vendor != "postgresql" or connection.pool is None:
        pytest.skip("Django's connection pool: PostgreSQL")
    assert settings.CELERY_DB_REUSE_MAX == 1000
    settings.CELERY_DB_REUSE_MAX = reuse_max
    fixup = DjangoWorkerFixup(app)
    fixup.worker = SimpleNamespace(pool_cls="celery.concurrency.prefork:TaskPool")
    task = SimpleNamespace(name="core.ping", request=SimpleNamespace(is_eager=False))
    pool = connection.pool
    for _ in range(3):
        for handler in (fixup.on_task_prerun, start_task_context):
            handler(sender=task, task=task, task_id="t")
        connection.ensure_connection()
        assert connection.connection is not None
        for handler in (fixup.on_task_postrun, end_task_context):
            handler(sender=task, task=task, task_id="t", state="SUCCESS")
        assert connection.connection is None, "the task's connection is given back after it"
    assert (connection.pool is pool) == bool(reuse_max)
