"""Fixtures shared by every app's tests."""

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connections
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Close PostgreSQL connection pools before the test database is dropped (idle pooled connections block it)."""
    yield
    with django_db_blocker.unblock():
        for connection in connections.all():
            connection.close()
            if connection.settings_dict.get("OPTIONS", {}).get("pool"):
                connection.close_pool()


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    # Rate limits and cooldowns live in the cache; every test starts with none (nor with a dispatcher on its way).
    from apps.messaging.services.signal import dispatch_signals_forget

    cache.clear()
    dispatch_signals_forget()
    yield


@pytest.fixture
def otp_outbox() -> Iterator[list]:
    """Texts the OTP sender delivered during the test (settings.OTP_SENDER = "memory")."""
    from apps.accounts.otp import MemoryOtpSender

    MemoryOtpSender.outbox.clear()
    yield MemoryOtpSender.outbox
    MemoryOtpSender.outbox.clear()


@pytest.fixture
def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def run_python() -> Callable[..., subprocess.CompletedProcess]:
    """Run Python code or manage.py in a fresh process with the given settings module and environment."""

    def run(
        *args: str,
        settings: str = "peerpower.settings.test",
        env: dict[str, str | None] | None = None,
        timeout: int = 120,
    ) -> subprocess.CompletedProcess:
        """`env` adds variables; a None value removes one from the inherited environment."""
        environment = {**os.environ, "DJANGO_SETTINGS_MODULE": settings, **(env or {})}
        environment = {name: value for name, value in environment.items() if value is not None}
        return subprocess.run(  # noqa: S603 - the test's own interpreter and arguments
            [sys.executable, *args],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def api_client_for() -> Callable[..., APIClient]:
    """`api_client_for(user)`: an API client signed in as `user` with a JWT access token, as the mobile app is."""

    from apps.accounts.services import session_start

    def make(user: object) -> APIClient:
        client = APIClient()
        tokens = session_start(user=user, device_name="test device")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.access}")
        client.session_tokens = tokens
        return client

    return make


@pytest.fixture(scope="session")
def baray_server() -> Iterator["BarayFake"]:  # noqa: F821 - imported below, when a test asks for it
    """The local Baray fake (apps/payments/baray_fake.py) with the test settings' merchant keys, one for the session:
    top-up tests and the API fuzz test point the Baray client at it."""
    from django.conf import settings

    from apps.payments.baray_fake import BarayFake

    with BarayFake(api_key=settings.BARAY_API_KEY, secret_key=settings.BARAY_SECRET_KEY, iv=settings.BARAY_IV) as fake:
        yield fake
