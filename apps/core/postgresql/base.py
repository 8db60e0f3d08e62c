"""Django's PostgreSQL backend, whose connection pool checks a connection at checkout only when it may be stale.

With `CONN_HEALTH_CHECKS` Django gives psycopg_pool `ConnectionPool.check_connection` as the pool's `check`: an empty
query, a round trip to PostgreSQL, on every checkout — every request and every Celery task, about 4 % of the web's CPU
in a profile (benchmarks/RESULTS.md). Django passes that `check` itself, so another cannot be given through
`OPTIONS["pool"]`; this backend builds the same pool with `IdleConnectionCheck` instead.

`IdleConnectionCheck` makes the round trip only for a connection that was last handed out more than
`DATABASE_POOL_CHECK_IDLE_SECONDS` ago, or on whose socket something arrived while it sat in the pool. A server that
ends a connection (a restart, a crash, `pg_terminate_backend`, an idle timeout) sends an error and closes the socket,
so the socket reads ready and the connection is checked — and replaced — however short its idle time. What leaves no
trace on the socket (a network path that silently drops the connection) is caught by the round trip after the
interval. A burst reuses warm connections without it.
"""

import select
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from psycopg import Connection
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

# Set on each psycopg connection the pool hands out: when it last was (the check's clock).
_HANDED_OUT_AT = "_peerpower_handed_out_at"


class IdleConnectionCheck:
    """psycopg_pool `check` callback: psycopg_pool's own check (a round trip), only when the connection may be stale.

    Stale: never handed out before, handed out last more than `idle_seconds` ago (0 checks every time), or anything
    readable on its socket. The time since the last checkout is never shorter than the time the connection sat in
    the pool, so the interval errs towards checking."""

    def __init__(self, idle_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_seconds = idle_seconds
        self.clock = clock

    def __call__(self, connection: Connection[Any]) -> None:
        now = self.clock()
        handed_out_at = getattr(connection, _HANDED_OUT_AT, None)
        if handed_out_at is None or now - handed_out_at >= self.idle_seconds or not _quiet(connection):
            ConnectionPool.check_connection(connection)
        setattr(connection, _HANDED_OUT_AT, now)


def _quiet(connection: Connection[Any]) -> bool:
    """Whether an idle connection looks open and nothing arrived on its socket since its last use (no round trip)."""
    if connection.closed or connection.pgconn.transaction_status != TransactionStatus.IDLE:
        return False
    poller = select.poll()
    poller.register(connection.pgconn.socket, select.POLLIN)
    return not poller.poll(0)


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> Any:
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not pool_options or self.alias in self._connection_pools:
            return super().pool
        # As Django's `pool` (django/db/backends/postgresql/base.py), with the idle check as the pool's `check`.
        if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
            raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
        connect_kwargs = self.get_connection_params()
        connect_kwargs["autocommit"] = True  # Django sets it properly later on
        check = None
        if self.settings_dict["CONN_HEALTH_CHECKS"]:
            check = IdleConnectionCheck(settings.DATABASE_POOL_CHECK_IDLE_SECONDS)
        pool = ConnectionPool(
            kwargs=connect_kwargs,
            open=False,  # opened at the first connection, as Django does
            configure=self._configure_connection,
            check=check,
            **({} if pool_options is True else pool_options),
        )
        # setdefault: threads racing at startup build a pool each; the first one set wins (none of them is open yet).
        self._connection_pools.setdefault(self.alias, pool)
        return self._connection_pools[self.alias]
