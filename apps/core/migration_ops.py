"""Migration operations shared by apps: rules the database itself keeps, whatever client writes to it, and indexes
dropped without locking the table."""

from typing import Any

from django.db import migrations


def refuse_update_and_delete(*, table: str, name: str, message: str) -> migrations.RunPython:
    """On PostgreSQL, a trigger (and its function, both called `name`) that refuses every UPDATE and DELETE of
    `table`'s rows with `message` (a RAISE format string: `%` takes the operation, TG_OP). Other databases are left
    as they are: the model refuses the change there. Reversible."""
    create = f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{message}', TG_OP USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER {name} BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {name}();
"""
    drop = f"DROP TRIGGER IF EXISTS {name} ON {table}; DROP FUNCTION IF EXISTS {name}();"

    def forwards(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(create, params=None)

    def backwards(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(drop, params=None)

    return migrations.RunPython(forwards, backwards)


def drop_indexes(*indexes: tuple[str, str, str], postgresql_only: bool = False) -> migrations.RunPython:
    """Drop indexes a model no longer declares, by name, without Django's AlterField (for a foreign key's index it
    drops and re-adds the constraint, which re-validates every row under a lock): `DROP INDEX CONCURRENTLY` on
    PostgreSQL, so writes go on meanwhile (the migration must be `atomic = False`), a plain DROP elsewhere. Each index
    is `(name, table, key)`, the key as CREATE INDEX's parentheses take it; the reverse builds them again.
    `postgresql_only`: the indexes exist on PostgreSQL alone (the pattern indexes it builds beside a unique text)."""

    def run(schema_editor: Any, statement: str) -> None:
        postgresql = schema_editor.connection.vendor == "postgresql"
        if postgresql or not postgresql_only:
            schema_editor.execute(statement.format(concurrently=" CONCURRENTLY" if postgresql else ""), params=None)

    def forwards(apps: object, schema_editor: Any) -> None:
        for name, _table, _key in indexes:
            run(schema_editor, f"DROP INDEX{{concurrently}} IF EXISTS {name}")

    def backwards(apps: object, schema_editor: Any) -> None:
        for name, table, key in indexes:
            run(schema_editor, f"CREATE INDEX{{concurrently}} IF NOT EXISTS {name} ON {table} ({key})")

    return migrations.RunPython(forwards, backwards)
