"""The PostgreSQL pool's checkout check (apps.core.postgresql): a connection handed out again soon goes without the
round trip; one unused longer than DATABASE_POOL_CHECK_IDLE_SECONDS is checked; one whose server process ended is
replaced without the caller seeing an error.

Round trips are counted on the server: pg_stat_activity's `query` is the last statement a backend received, and the
check's statement is the empty one."""

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection
from psycopg_pool import ConnectionPool

from apps.core.postgresql.base import IdleConnectionCheck

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the pool is PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]

MARKER = "SELECT 'pool-check-marker'"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def connect_params() -> dict[str, Any]:
    return {**connection.get_connection_params(), "autocommit": True}


@pytest.fixture
def observer() -> Iterator[psycopg.Connection]:
    """A connection of its own, outside any pool, that reads what the pooled backends received."""
    params = connect_params()
    params.pop("cursor_factory", None)
    with psycopg.connect(**params) as observer:
        yield observer


def last_query(observer: psycopg.Connection, pid: int) -> str | None:
    row = observer.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    return row[0] if row else None


def terminate(observer: psycopg.Connection, pid: int) -> None:
    observer.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 10
    while last_query(observer, pid) is not None:  # wait for the backend to be gone, not a fixed time
        assert time.monotonic() < deadline, "the backend did not end"
        time.sleep(0.01)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pool(clock: Clock) -> Iterator[ConnectionPool]:
    """One connection, so every checkout hands out the same one, checked by the idle check on the injected clock."""
    with ConnectionPool(
        kwargs=connect_params(), min_size=1, max_size=1, timeout=5, check=IdleConnectionCheck(2.0, clock)
    ) as pool:
        pool.wait()
        yield pool


def use(pool: ConnectionPool) -> int:
    with pool.connection() as conn:
        conn.execute(MARKER)
        return conn.info.backend_pid


def test_a_connection_handed_out_again_soon_is_not_checked(pool, clock, observer):
    pid = use(pool)
    clock.now += 1.9
    with pool.connection() as conn:
        assert conn.info.backend_pid == pid
        assert last_query(observer, pid) == MARKER  # no statement reached the server at checkout


def test_a_connection_unused_longer_than_the_interval_is_checked(pool, clock, observer):
    pid = use(pool)
    clock.now += 2.0
    with pool.connection() as conn:
        assert conn.info.backend_pid == pid
        assert last_query(observer, pid) == ""  # the check's empty statement


def test_a_connection_never_handed_out_is_checked(pool, observer):
    with pool.connection() as conn:
        assert last_query(observer, conn.info.backend_pid) == ""


@pytest.mark.parametrize("idle", [5.0, 0.5], ids=["longer-than-the-interval", "shorter-than-the-interval"])
def test_a_connection_whose_backend_ended_is_replaced(pool, clock, observer, idle):
    # Longer: the round trip finds it broken. Shorter (a restart quicker than the interval): the server's goodbye on
    # the socket does.
    pid = use(pool)
    terminate(observer, pid)
    clock.now += idle
    with pool.connection() as conn:
        assert conn.info.backend_pid != pid
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_django_connections_use_the_idle_check(observer):
    # Through Django's own connection handling, with its pool narrowed to one connection: handed out again at once,
    # no check; its backend ended, replaced without the caller's query failing.
    saved = connection.settings_dict["OPTIONS"]["pool"]
    connection.close()
    connection.close_pool()
    connection.settings_dict["OPTIONS"]["pool"] = {**saved, "min_size": 1, "max_size": 1}
    try:
        with connection.cursor() as cursor:
            cursor.execute(MARKER)
        pid = connection.connection.info.backend_pid
        connection.close()  # back to the pool
        connection.ensure_connection()
        assert connection.connection.info.backend_pid == pid
        assert last_query(observer, pid) == MARKER
        connection.close()
        terminate(observer, pid)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
        assert connection.connection.info.backend_pid != pid
    finally:
        connection.close()
        connection.close_pool()
        connection.settings_dict["OPTIONS"]["pool"] = saved
