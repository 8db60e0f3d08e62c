"""Labels for the Khmer back office: every model and field named through gettext (no database change)."""

from django.db import migrations

from apps.core.migration_operations import SetLabels


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [
        SetLabels(
            models={
                "lock": {
                    "fields": {"expires_at": "expires at", "name": "name", "token": "token"},
                    "options": {"verbose_name": "lock", "verbose_name_plural": "locks"},
                }
            }
        )
    ]
