"""Prepared statements for the hot statements (apps.core.prepared): prepared once per connection on PostgreSQL,
an ordinary cursor elsewhere or when turned off, and counted like any other query."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.prepared import prepared_cursor

pytestmark = pytest.mark.django_db


def _prepared(fragment: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{fragment}%"])
        return cursor.fetchone()[0]


def test_the_statement_answers_as_an_ordinary_cursor_would():
    with prepared_cursor() as cursor:
        cursor.execute("SELECT %s + 1, %s", [41, "text"])
        assert cursor.fetchone() == (42, "text")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_a_statement_is_prepared_once_per_connection():
    for value in range(3):
        with prepared_cursor() as cursor:
            cursor.execute("SELECT %s::integer * 7 AS prepared_probe", [value])
            assert cursor.fetchone() == (value * 7,)
    assert _prepared("AS prepared_probe") == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_turned_off_nothing_is_prepared(settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    with prepared_cursor() as cursor:
        cursor.execute("SELECT %s::integer * 7 AS unprepared_probe", [1])
        assert cursor.fetchone() == (7,)
    assert _prepared("AS unprepared_probe") == 0


def test_its_statements_count_as_queries():
    with CaptureQueriesContext(connection) as queries, prepared_cursor() as cursor:
        cursor.execute("SELECT %s + 2 AS counted_probe", [1])
    # As sent: PostgreSQL's placeholder there ($1), the value itself elsewhere.
    assert [q["sql"].replace("$1", "1") for q in queries.captured_queries] == ["SELECT 1 + 2 AS counted_probe"]
