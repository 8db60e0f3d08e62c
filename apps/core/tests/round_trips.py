"""Round trips to PostgreSQL, counted on the wire: libpq's protocol trace of the connection (what the client sent
the server and what came back), not Django's query log. A round trip is a message the client then waits on: a
simple `Query` or the `Sync` closing an extended-protocol statement — so BEGIN and COMMIT count, and statements run
outside Django's cursors (a pool's check, psycopg's own) would too.

    with RoundTrips() as trips:
        ...
    assert trips.count == 3, trips.statements

`statements` holds each round trip's SQL: a prepared statement's execution names it only, so its text is read back
from `pg_prepared_statements` when the block ends.
"""

import re
import tempfile
from types import TracebackType
from typing import Self

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections

_PREPARED = "prepared "
_SENT = re.compile(r"^F\t\d+\t(Query|Sync|Parse|Bind)\t?(.*)$")


class RoundTrips:
    """Counts the round trips connection `using` makes inside the block (PostgreSQL only)."""

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        self.using = using
        self.count = 0
        self.statements: list[str] = []  # each round trip's statement (its Parse, or the Query's text)

    def __enter__(self) -> Self:
        connection = connections[self.using]
        connection.ensure_connection()
        self._raw = connection.connection
        self._file = tempfile.TemporaryFile("w+")
        self._raw.pgconn.trace(self._file.fileno())
        self._raw.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._raw.pgconn.untrace()
        if connections[self.using].connection is not self._raw:
            raise AssertionError("the connection changed inside the block: its round trips were not all counted")
        self._file.seek(0)
        pending = ""
        for line in self._file:
            match = _SENT.match(line.rstrip("\n"))
            if match is None:
                continue
            message, rest = match.groups()
            if message == "Parse":  # the statement a following Sync runs
                pending = rest
            elif message == "Bind":  # a prepared statement runs by its name, not parsed again
                pending = pending or _PREPARED + rest.split('"')[3]  # Bind <length> "<portal>" "<statement>" …
            elif message == "Sync":
                self.count += 1
                self.statements.append(pending)
                pending = ""
            else:
                self.count += 1
                self.statements.append(rest)
        self._file.close()
        if any(statement.startswith(_PREPARED) for statement in self.statements):
            with connections[self.using].cursor() as cursor:
                cursor.execute("SELECT name, statement FROM pg_prepared_statements")
                texts = dict(cursor.fetchall())
            self.statements = [_text(statement, texts) for statement in self.statements]


def _text(statement: str, prepared: dict[str, str]) -> str:
    """A round trip's SQL: a prepared statement's text in place of its name."""
    if statement.startswith(_PREPARED):
        return prepared.get(statement.removeprefix(_PREPARED), statement)
    return statement
