"""Labels for the Khmer back office: every model and field named through gettext (no database change)."""

from django.db import migrations

from apps.core.migration_operations import SetLabels


class Migration(migrations.Migration):
    dependencies = [("backoffice", "0001_message_rollup")]

    operations = [
        SetLabels(
            models={
                "messagerollup": {
                    "fields": {
                        "carrier": "carrier",
                        "charged": "charged",
                        "event": "event",
                        "hour": "hour",
                        "latency_bucket": "latency bucket",
                        "latency_ms": "latency ms",
                        "messages": "messages",
                        "organization_id": "organization id",
                        "priority": "priority",
                        "segments": "segments",
                    },
                    "options": {"verbose_name": "message rollup", "verbose_name_plural": "message rollups"},
                }
            }
        )
    ]
