"""Drop the message table's own index on `organization_id`: the two composite indexes that begin with it serve every
look-up by organisation, and one index less is written on every message.

Django's AlterField would drop and re-add the foreign key, which re-validates every row under a lock; only the
index goes, without blocking writes on PostgreSQL (CONCURRENTLY, outside a transaction). Reversible: the reverse
creates the index again.
"""

import django.db.models.deletion
from django.db import migrations, models

from apps.core.migration_ops import drop_indexes


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0012_deny_list_numbers_hashed"),
        ("messaging", "0013_verbose_names_translatable"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="message",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="messages",
                        to="accounts.clientorganization",
                        verbose_name="organization",
                    ),
                ),
            ],
            database_operations=[
                drop_indexes(("messaging_message_organization_id_360faf91", "messaging_message", "organization_id"))
            ],
        ),
    ]
