"""Airtime payouts' mobile numbers encrypted at rest, found (by staff) through their keyed hash.

Existing rows are encrypted in batches (see apps.core.encrypted_rows); unapplying the migration writes them back in
plain text first.
"""

from django.db import migrations

import apps.core.fields
from apps.core.encrypted_rows import decrypt_existing_rows, encrypt_existing_rows


class Migration(migrations.Migration):
    atomic = False  # batches, each its own transaction (see accounts 0009)

    dependencies = [("incentives", "0006_encrypt_payout_accounts")]

    operations = [
        migrations.AddField(
            model_name="payout",
            name="msisdn_hash",
            field=apps.core.fields.BlindIndexField(db_index=True, source="msisdn", verbose_name="number's keyed hash"),
        ),
        migrations.AlterField(
            model_name="payout",
            name="msisdn",
            field=apps.core.fields.EncryptedLookupCharField(blank=True, max_length=16),
        ),
        migrations.RunPython(
            encrypt_existing_rows("incentives", "Payout"), decrypt_existing_rows("incentives", "Payout"), elidable=False
        ),
    ]
