"""Core test fixtures: the API surface is exercised with the messaging tests' client (an organisation, its API key
and API client), and with the content filter reread for every test as there; `openapi` is the generated schema."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from apps.messaging.tests.conftest import _filter_rereads_rules, api_key, client_api, organization  # noqa: F401
from peerpower.celery import app as celery_app


@pytest.fixture(scope="session")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The OpenAPI schema as `manage.py spectacular` writes it (JSON), generated once per run."""
    output = tmp_path_factory.mktemp("schema") / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(output))
    return json.loads(output.read_text())


@contextmanager
def worker_process(tmp_path: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """A real Celery worker (solo pool) consuming every queue of the configured broker, with `env` added."""
    log = tmp_path / "worker.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "peerpower.settings.test", **(env or {})}
    # Tasks other tests enqueued on commit and nobody ran are still in the broker; the worker would run them first
    # (and report their errors): start it on empty queues.
    celery_app.control.purge()
    with open(log, "w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "peerpower",
                "worker",
                "-Q",
                "high,default,low",
                "--pool",
                "solo",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "INFO",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.terminate()  # SIGTERM: warm shutdown, the worker finishes what it holds
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode is not None


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[subprocess.Popen]:
    with worker_process(tmp_path) as process:
        yield process
