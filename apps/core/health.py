"""Dependency checks shared by `/ready` and `manage.py wait_for_services`: database(s), cache, broker."""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, connections
from kombu import Connection


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    duration_ms: float
    error: str = ""


def check_database(alias: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_cache() -> None:
    cache = caches["default"]
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return the value it was given")
    cache.delete(key)


def check_broker() -> None:
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=3) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=3)


def dependency_checks() -> dict[str, Callable[[], None]]:
    checks: dict[str, Callable[[], None]] = {
        f"database:{alias}": (lambda alias=alias: check_database(alias))
        for alias in [DEFAULT_DB_ALIAS, *settings.DATABASE_REPLICAS]
    }
    checks["cache"] = check_cache
    checks["broker"] = check_broker
    return checks


def run_check(name: str, check: Callable[[], None]) -> CheckResult:
    started = time.perf_counter()
    try:
        check()
    except Exception as error:  # noqa: BLE001 - any failure means "not ready"; the message says which
        return CheckResult(name, False, _elapsed_ms(started), f"{type(error).__name__}: {error}"[:300])
    return CheckResult(name, True, _elapsed_ms(started))


def run_checks() -> list[CheckResult]:
    return [run_check(name, check) for name, check in dependency_checks().items()]


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
