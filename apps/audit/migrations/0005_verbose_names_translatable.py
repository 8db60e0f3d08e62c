"""Labels for the Khmer back office: every model and field named through gettext (no database change)."""

from django.db import migrations

from apps.core.migration_operations import SetLabels


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_redaction"), ("accounts", "__first__")]

    operations = [
        SetLabels(
            models={
                "auditlog": {
                    "fields": {
                        "redacted_at": "redacted at",
                        "action": "action",
                        "actor": "actor",
                        "actor_label": "actor label",
                        "after": "after",
                        "before": "before",
                        "created_at": "created at",
                        "ip": "ip",
                        "request_id": "request id",
                        "target_id": "target id",
                        "target_type": "target type",
                        "task_id": "task id",
                    }
                }
            }
        )
    ]
