"""A scan of every column of every table, in raw SQL, for given strings: in plain text, and inside every value
encrypted with apps.core.crypto (decrypted with the column's own context). What the retention tests use to show
that personal data is really gone, not merely hidden from the ORM."""

from django.db import connection

from apps.core import crypto


def _tables_and_columns() -> list[tuple[str, list[str]]]:
    with connection.cursor() as cursor:
        found = []
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)} WHERE 1 = 0")  # noqa: S608
            columns = [column[0] for column in cursor.description]
            found.append((table, columns))
    return found


def find_in_database(*needles: str, decrypt: bool = True, skip_tables: tuple[str, ...] = ()) -> list[str]:
    """`table.column` for each column holding any of `needles`, in plain text or (with `decrypt`) encrypted."""
    quote = connection.ops.quote_name
    hits = []
    with connection.cursor() as cursor:
        for table, columns in _tables_and_columns():
            if table in skip_tables:
                continue
            for column in columns:
                cursor.execute(f"SELECT CAST({quote(column)} AS TEXT) FROM {quote(table)}")  # noqa: S608 - names from the catalogue
                for (value,) in cursor.fetchall():
                    if value is None:
                        continue
                    if decrypt and crypto.is_encrypted(value):
                        value = crypto.decrypt(value, context=f"{table}.{column}")
                    if any(needle in value for needle in needles):
                        hits.append(f"{table}.{column}")
                        break
    return hits
