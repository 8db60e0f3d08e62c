"""Payout account numbers and holder names encrypted at rest; one active account per number by its keyed hash.

It cannot be undone: no reverse decrypts the rows, which the previous code would read as plain text. To go back past
it, restore a backup (docs/backups.md)."""

from django.db import migrations, models

import apps.core.fields
from apps.core.encrypted_rows import encrypt_existing_rows


class Migration(migrations.Migration):
    # Existing rows are encrypted in batches, each its own transaction, so a large table is not locked for the
    # whole conversion and a run that stopped is resumed where it was (rows already encrypted are skipped).
    atomic = False

    dependencies = [
        ("incentives", "0005_strike_clearing"),
        ("providers", "0002_provider_score"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="payoutaccount",
            name="incentives_payoutaccount_unique",
        ),
        migrations.AddField(
            model_name="payoutaccount",
            name="account_number_hash",
            field=apps.core.fields.BlindIndexField(source="account_number"),
        ),
        migrations.AlterField(
            model_name="payoutaccount",
            name="account_number",
            field=apps.core.fields.EncryptedCharField(max_length=32),
        ),
        migrations.AlterField(
            model_name="payoutaccount",
            name="holder_name",
            field=apps.core.fields.EncryptedCharField(max_length=100),
        ),
        migrations.RunPython(encrypt_existing_rows("incentives", "PayoutAccount")),
        migrations.AddConstraint(
            model_name="payoutaccount",
            constraint=models.UniqueConstraint(
                condition=models.Q(("active", True)),
                fields=("provider", "account_number_hash"),
                name="incentives_payoutaccount_unique",
            ),
        ),
    ]
