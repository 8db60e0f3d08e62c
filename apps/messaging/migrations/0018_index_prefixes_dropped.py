"""Indexes no query needs, which every job and message write kept up to date: the job's provider key (the
`job_provider_status_idx` leads with it), and the `varchar_pattern_ops` indexes PostgreSQL builds beside the unique
`trace_token` and `verification_code` for LIKE 'prefix%' look-ups (both are only ever matched exactly, through their
unique indexes). An AlterField of either field would build its pattern index again: drop it again there."""

from collections.abc import Iterator

import django.db.models.deletion
from django.db import migrations, models

PATTERN_INDEXED = (("job", "trace_token"), ("message", "verification_code"))


def _pattern_indexes(apps, schema_editor) -> Iterator[tuple[type, models.Field, str]]:
    for model_name, field_name in PATTERN_INDEXED:
        model = apps.get_model("messaging", model_name)
        field = model._meta.get_field(field_name)
        yield model, field, schema_editor._create_index_name(model._meta.db_table, [field.column], suffix="_like")


def drop_pattern_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for model, _field, name in _pattern_indexes(apps, schema_editor):
        schema_editor.execute(schema_editor._delete_index_sql(model, name))


def build_pattern_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for model, field, _name in _pattern_indexes(apps, schema_editor):
        schema_editor.execute(schema_editor._create_like_index_sql(model, field))


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0017_idempotency_key_message_id"),
        ("providers", "0008_verbose_names_translatable"),
    ]

    operations = [
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
        migrations.RunPython(drop_pattern_indexes, build_pattern_indexes, elidable=True),
    ]
