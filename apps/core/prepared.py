"""Prepared statements for the few hot statements whose planning costs as much as running them.

Django binds parameters in the client (psycopg's ClientCursor) and prepares nothing, which keeps transaction-mode
poolers working and every ORM query valid. PostgreSQL then plans each statement at every execution. For a send's
INSERT with its PPT hold (a statement of five CTEs) planning took about as long as executing it (EXPLAIN ANALYZE,
warm: planning 0.35–0.40 ms, execution 0.30–0.41 ms). `prepared_cursor` runs a statement through a cursor that binds
on the server and prepares it on its connection at the first execution. Later executions skip planning only once
PostgreSQL's plan cache takes the statement's generic plan (`plan_cache_mode = auto`: after five custom plans, when
the generic plan's estimated cost is no more than theirs); `pg_prepared_statements` counts each kind. A constant
passed as a parameter keeps it from that (apps.core.compiled writes the code's constants into the text), and so does
an estimate the generic plan cannot make as well as a custom one (`= ANY($1)` counts as ten ids).

Only constant statement texts should go through it (psycopg keeps the last `prepared_max` = 100 per connection).
Behind PgBouncer in transaction mode it needs PgBouncer 1.21 or later with `max_prepared_statements` set, or
`DATABASE_PREPARED_STATEMENTS=false`, which makes it an ordinary cursor (docs/deployment.md).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import CursorWrapper


class PreparingCursor(psycopg.Cursor):
    """Binds on the server and prepares every statement it executes (once per connection and text)."""

    logged = False  # set when Django logs queries (DEBUG, tests): see execute

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Any:
        result = super().execute(query, params, prepare=True, binary=binary)
        if self.logged:
            # psycopg records the query it sent (`_query`, which Django's query log reads) only when it did not run
            # a prepared statement: converted again here, for the log only.
            self._query = self._convert_query(query, params)
        return result


PREPARE_THRESHOLD = 5  # psycopg's default; our cursor asks for preparing at once anyway


def statements_prepared(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether statements of database `using` are prepared (PostgreSQL with DATABASE_PREPARED_STATEMENTS on): where
    `prepared_cursor` prepares, and `apps.core.compiled` builds its statements once."""
    return connections[using].vendor == "postgresql" and settings.DATABASE_PREPARED_STATEMENTS


@contextmanager
def prepared_cursor(using: str = DEFAULT_DB_ALIAS) -> Iterator[CursorWrapper]:
    """A cursor of connection `using` whose statements are prepared (PostgreSQL with psycopg 3 and
    DATABASE_PREPARED_STATEMENTS on); otherwise Django's ordinary cursor. Wrapped as Django wraps its own, so the
    statements count in `connection.queries` and pass through execute wrappers."""
    connection = connections[using]
    if not statements_prepared(using):
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.ensure_connection()
    connection.validate_thread_sharing()
    if connection.connection.prepare_threshold is None:
        # Django turns preparing off (None), which psycopg honours even when asked to prepare. Only server-binding
        # cursors ever prepare, and Django's own bind in the client: this changes nothing for them.
        connection.connection.prepare_threshold = PREPARE_THRESHOLD
    raw = PreparingCursor(connection.connection)
    raw.logged = connection.queries_logged
    cursor = connection.make_debug_cursor(raw) if raw.logged else connection.make_cursor(raw)
    with cursor:
        yield cursor
