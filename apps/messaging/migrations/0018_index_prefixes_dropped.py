"""Indexes no query needs, which every job and message write kept up to date: the job's own index on its provider
(`job_provider_status_idx` leads with it), and the `varchar_pattern_ops` indexes PostgreSQL builds beside the unique
`trace_token` and `verification_code` for LIKE 'prefix%' look-ups (both are only ever matched exactly, through their
unique indexes). Dropped concurrently, the foreign key left as it is (`apps.core.migration_ops.drop_indexes`). An
AlterField of either text field would build its pattern index again: drop it again there."""

import django.db.models.deletion
from django.db import migrations, models

from apps.core.migration_ops import drop_indexes


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("messaging", "0017_idempotency_key_message_id"),
        ("providers", "0008_verbose_names_translatable"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="job",
                    name="provider",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="jobs",
                        to="providers.provider",
                        verbose_name="provider",
                    ),
                ),
            ],
            database_operations=[drop_indexes(("messaging_job_provider_id_e43766a7", "messaging_job", "provider_id"))],
        ),
        drop_indexes(
            ("messaging_job_trace_token_ee7e56ca_like", "messaging_job", "trace_token varchar_pattern_ops"),
            (
                "messaging_message_verification_code_b58048cc_like",
                "messaging_message",
                "verification_code varchar_pattern_ops",
            ),
            postgresql_only=True,
        ),
    ]
