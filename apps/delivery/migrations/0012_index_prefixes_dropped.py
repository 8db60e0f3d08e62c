"""A report's own indexes on its job and its provider: `report_once_per_job_status` leads with the job and
`report_provider_received_idx` with the provider, and each report wrote all three. Dropped concurrently, the foreign
keys left as they are (`apps.core.migration_ops.drop_indexes`)."""

import django.db.models.deletion
from django.db import migrations, models

from apps.core.migration_ops import drop_indexes


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("delivery", "0011_report_unsettled"),
        ("messaging", "0017_idempotency_key_message_id"),
        ("providers", "0008_verbose_names_translatable"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="deliveryreport",
                    name="job",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="reports",
                        to="messaging.job",
                        verbose_name="job",
                    ),
                ),
                migrations.AlterField(
                    model_name="deliveryreport",
                    name="provider",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="reports",
                        to="providers.provider",
                        verbose_name="provider",
                    ),
                ),
            ],
            database_operations=[
                drop_indexes(
                    ("delivery_deliveryreport_job_id_7100828d", "delivery_deliveryreport", "job_id"),
                    ("delivery_deliveryreport_provider_id_2595e17f", "delivery_deliveryreport", "provider_id"),
                )
            ],
        ),
    ]
