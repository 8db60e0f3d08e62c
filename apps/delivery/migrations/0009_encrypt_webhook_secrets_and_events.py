"""Webhook signing secrets and event bodies encrypted at rest.

It cannot be undone: no reverse decrypts the rows, which the previous code would read as plain text. To go back past
it, restore a backup (docs/backups.md)."""

from django.db import migrations

import apps.core.fields
from apps.core.encrypted_rows import encrypt_existing_rows


class Migration(migrations.Migration):
    # Existing rows are encrypted in batches, each its own transaction, so a large table is not locked for the
    # whole conversion and a run that stopped is resumed where it was (rows already encrypted are skipped).
    atomic = False

    dependencies = [
        ("delivery", "0008_webhook_event_client_application_decided"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookcallbacksecret",
            name="previous_secret",
            field=apps.core.fields.EncryptedCharField(blank=True, editable=False, max_length=100),
        ),
        migrations.AlterField(
            model_name="webhookcallbacksecret",
            name="secret",
            field=apps.core.fields.EncryptedCharField(editable=False, max_length=100),
        ),
        migrations.AlterField(
            model_name="webhookendpoint",
            name="previous_secret",
            field=apps.core.fields.EncryptedCharField(blank=True, editable=False, max_length=100),
        ),
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret",
            field=apps.core.fields.EncryptedCharField(editable=False, max_length=100),
        ),
        migrations.AlterField(
            model_name="webhookevent",
            name="body",
            field=apps.core.fields.EncryptedTextField(editable=False),
        ),
        migrations.RunPython(encrypt_existing_rows("delivery", "WebhookEndpoint")),
        migrations.RunPython(encrypt_existing_rows("delivery", "WebhookCallbackSecret")),
        migrations.RunPython(encrypt_existing_rows("delivery", "WebhookEvent")),
    ]
