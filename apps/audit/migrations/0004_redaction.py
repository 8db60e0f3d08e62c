"""Privacy erasure may redact personal values from audit entries: `redacted_at`, and on PostgreSQL an append-only
trigger that lets exactly that UPDATE through (apps.audit.redaction) and still refuses every other UPDATE and every
DELETE."""

from django.db import migrations, models

# Allowed: an UPDATE in a transaction that set peerpower.audit_redaction (apps.audit.redaction does, for the length
# of its work), that sets redacted_at, clears the IP or keeps it, and changes no other column than before/after.
# Comparing the whole row as JSON minus those columns keeps the rule true for columns added later.
REDACTABLE = "ARRAY['before', 'after', 'ip', 'redacted_at']"
WITH_REDACTION = f"""
CREATE OR REPLACE FUNCTION audit_auditlog_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND current_setting('peerpower.audit_redaction', true) = 'on'
        AND NEW.redacted_at IS NOT NULL
        AND (NEW.ip IS NULL OR NEW.ip = OLD.ip)
        AND (to_jsonb(NEW) - {REDACTABLE}) = (to_jsonb(OLD) - {REDACTABLE})
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_auditlog is append-only (% refused)', TG_OP USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""
APPEND_ONLY = """
CREATE OR REPLACE FUNCTION audit_auditlog_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_auditlog is append-only (% refused)', TG_OP USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""


def _replace_function(sql: str):  # noqa: ANN202 - a RunPython callable
    def run(apps: object, schema_editor: object) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_alter_auditlog_options")]

    operations = [
        migrations.AddField(
            model_name="auditlog",
            name="redacted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(_replace_function(WITH_REDACTION), _replace_function(APPEND_ONLY)),
    ]
