"""SIM numbers encrypted at rest, found by their keyed hash (one active SIM per number, by the hash).

Existing rows are encrypted in batches (see apps.core.encrypted_rows); unapplying the migration writes them back in
plain text first. Matching is unaffected: it goes by `carrier`, its own column.
"""

from django.db import migrations, models

import apps.core.fields
from apps.core.encrypted_rows import decrypt_existing_rows, encrypt_existing_rows


class Migration(migrations.Migration):
    atomic = False  # batches, each its own transaction (see accounts 0009)

    dependencies = [("providers", "0005_sticky_sender_recipient_hash")]

    operations = [
        migrations.RemoveConstraint(model_name="sim", name="sim_active_msisdn_unique"),
        migrations.RemoveConstraint(model_name="sim", name="sim_msisdn_is_e164"),
        migrations.RemoveIndex(model_name="sim", name="sim_msisdn_idx"),
        migrations.AddField(
            model_name="sim",
            name="msisdn_hash",
            field=apps.core.fields.BlindIndexField(source="msisdn", verbose_name="MSISDN's keyed hash"),
        ),
        migrations.AlterField(
            model_name="sim",
            name="msisdn",
            field=apps.core.fields.EncryptedLookupCharField(
                help_text="E.164, e.g. +85512345678", max_length=16, verbose_name="MSISDN"
            ),
        ),
        migrations.RunPython(
            encrypt_existing_rows("providers", "Sim"), decrypt_existing_rows("providers", "Sim"), elidable=False
        ),
        migrations.AddIndex(
            model_name="sim",
            index=models.Index(fields=["msisdn_hash"], name="sim_msisdn_hash_idx"),
        ),
        migrations.AddConstraint(
            model_name="sim",
            constraint=models.UniqueConstraint(
                condition=models.Q(("active", True)), fields=("msisdn_hash",), name="sim_active_msisdn_unique"
            ),
        ),
    ]
