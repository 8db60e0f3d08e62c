"""The hottest tables carry no index a query does not need: each job, message and report write updates every index
of its row (their status columns are indexed, so few updates are HOT)."""

import pytest
from django.db import connection

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's catalogue"),
]

HOT_TABLES = ("messaging_job", "messaging_message", "delivery_deliveryreport")


def _indexes(table: str) -> list[tuple[str, list[str], bool, str | None, str]]:
    """(name, key columns, unique, predicate, access operator classes) of each index on `table`."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.relname,
                   ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
                         JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum ORDER BY k.n),
                   x.indisunique, pg_get_expr(x.indpred, x.indrelid), pg_get_indexdef(x.indexrelid)
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
            WHERE t.relname = %s
            """,
            [table],
        )
        return [
            (name, list(columns), unique, predicate, definition)
            for name, columns, unique, predicate, definition in cursor.fetchall()
        ]


@pytest.mark.parametrize("table", HOT_TABLES)
def test_no_plain_index_is_a_prefix_of_another(table):
    indexes = _indexes(table)
    redundant = [
        (name, other)
        for name, columns, unique, predicate, _ in indexes
        if not unique and predicate is None
        for other, other_columns, _, other_predicate, _ in indexes
        if other != name
        and other_predicate is None
        and other_columns[: len(columns)] == columns
        and len(other_columns) > len(columns)
    ]
    assert redundant == []


@pytest.mark.parametrize("table", HOT_TABLES)
def test_no_pattern_index_beside_an_exact_one(table):
    assert [name for name, *_, definition in _indexes(table) if "pattern_ops" in definition] == []
