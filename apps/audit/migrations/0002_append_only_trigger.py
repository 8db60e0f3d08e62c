"""On PostgreSQL, refuse UPDATE and DELETE of audit entries in the database itself, whatever the client."""

from django.db import migrations

from apps.core.migration_ops import refuse_update_and_delete


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [
        refuse_update_and_delete(
            table="audit_auditlog",
            name="audit_auditlog_append_only",
            message="audit_auditlog is append-only (% refused)",
        )
    ]
