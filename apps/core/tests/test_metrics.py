"""/metrics: Prometheus text with request counts and latency, only for allowed addresses or the token."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from apps.core.metrics import multiprocess_dir_reset, process_identifier


def test_metrics_count_requests_by_view(client):
    client.get("/health")
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    text = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert 'peerpower_http_requests_total{method="GET",status="200",view="health"}' in text
    assert 'peerpower_http_request_duration_seconds_bucket{le="0.005",method="GET",view="health"}' in text


def test_metrics_refused_to_other_addresses(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_metrics_allowed_networks(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


@pytest.mark.parametrize(("header", "status"), [("Bearer s3cret-token", 200), ("Bearer wrong", 403), ("", 403)])
def test_metrics_token(client, settings, header, status):
    settings.METRICS_TOKEN = "s3cret-token"
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=header)
    assert response.status_code == status


def test_forwarded_address_is_believed_only_behind_trusted_proxies(client, settings):
    headers = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "127.0.0.1"}
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    settings.TRUSTED_PROXY_COUNT = 0
    assert client.get("/metrics", **headers).status_code == 403  # a client can write any X-Forwarded-For
    settings.TRUSTED_PROXY_COUNT = 1
    assert client.get("/metrics", **headers).status_code == 200


INCREMENT_IN_A_WORKER = (
    "import django; django.setup()\n"
    "from apps.delivery.metrics import PUSHES\n"
    "PUSHES.labels(outcome='sent', error_code='').inc(3)\n"
)


def test_a_counter_incremented_in_another_process_shows_on_metrics(client, tmp_path, run_python, monkeypatch):
    # As a Celery worker does: a process of its own, with the folder the stack gives every process.
    folder = multiprocess_dir_reset(tmp_path / "metrics")
    result = run_python("-c", INCREMENT_IN_A_WORKER, env={"PROMETHEUS_MULTIPROC_DIR": folder})
    assert result.returncode == 0, result.stderr
    # Files are named after host and process, so containers sharing the folder do not write to one file.
    host = process_identifier(0).removesuffix("-0")
    names = [path.name for path in Path(folder).iterdir()]
    assert names and all(name.startswith(f"counter_{host}-") for name in names)

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", folder)
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'peerpower_push_total{error_code="",outcome="sent"} 3.0' in text


def test_a_worker_pod_serves_its_counters_on_its_own_port(tmp_path, run_python, closed_port):
    folder = multiprocess_dir_reset(tmp_path / "metrics")
    assert run_python("-c", INCREMENT_IN_A_WORKER, env={"PROMETHEUS_MULTIPROC_DIR": folder}).returncode == 0
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": folder, "METRICS_TOKEN": "s3cret"}
    command = [sys.executable, "manage.py", "metrics_serve", "--host", "127.0.0.1", "--port", str(closed_port)]
    server = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert "serving" in server.stdout.readline()  # listening once it says so
        url = f"http://127.0.0.1:{closed_port}/metrics"
        assert httpx.get(url).status_code == 403
        response = httpx.get(url, headers={"Authorization": "Bearer s3cret"})
        assert response.status_code == 200
        assert 'peerpower_push_total{error_code="",outcome="sent"} 3.0' in response.text
    finally:
        server.terminate()
        server.wait(timeout=10)
