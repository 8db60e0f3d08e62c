"""A real Celery worker process consumes from the configured broker (SQLite file, or Redis in CI)."""

import time

import pytest

from apps.core.metrics import multiprocess_dir_reset
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
