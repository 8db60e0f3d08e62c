"""Migration operations shared by apps: rules the database itself keeps, whatever client writes to it."""

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
