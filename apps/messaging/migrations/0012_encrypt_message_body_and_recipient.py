"""Message bodies, recipients, idempotent answers and the opt-out and block lists encrypted at rest; numbers found by
a keyed hash; when retention erased a message.

It cannot be undone: no reverse decrypts the rows, which the previous code would read as plain text. To go back past
it, restore a backup (docs/backups.md)."""

from django.conf import settings
from django.db import migrations, models

import apps.core.fields
from apps.core.encrypted_rows import encrypt_existing_rows


class Migration(migrations.Migration):
    # Existing rows are encrypted in batches, each its own transaction, so a large table is not locked for the
    # whole conversion and a run that stopped is resumed where it was (rows already encrypted are skipped).
    atomic = False

    dependencies = [
        ("messaging", "0011_message_content_permission"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="blockedrecipient",
            name="messaging_blocked_recipient_unique_phone",
        ),
        migrations.RemoveConstraint(
            model_name="blockedrecipient",
            name="messaging_blocked_recipient_phone_e164",
        ),
        migrations.RemoveConstraint(
            model_name="message",
            name="message_to_is_e164",
        ),
        migrations.RemoveConstraint(
            model_name="optout",
            name="messaging_opt_out_unique_phone",
        ),
        migrations.RemoveConstraint(
            model_name="optout",
            name="messaging_opt_out_unique_phone_per_client",
        ),
        migrations.RemoveConstraint(
            model_name="optout",
            name="messaging_opt_out_phone_e164",
        ),
        migrations.RemoveIndex(
            model_name="message",
            name="message_recipient_idx",
        ),
        migrations.AddField(
            model_name="blockedrecipient",
            name="phone_hash",
            field=apps.core.fields.BlindIndexField(source="phone", verbose_name="number's keyed hash"),
        ),
        migrations.AddField(
            model_name="message",
            name="redacted_at",
            field=models.DateTimeField(blank=True, help_text="When the body and recipient were erased.", null=True),
        ),
        migrations.AddField(
            model_name="message",
            name="to_hash",
            field=apps.core.fields.BlindIndexField(source="to", verbose_name="recipient's keyed hash"),
        ),
        migrations.AddField(
            model_name="optout",
            name="phone_hash",
            field=apps.core.fields.BlindIndexField(source="phone", verbose_name="number's keyed hash"),
        ),
        migrations.AlterField(
            model_name="blockedrecipient",
            name="phone",
            field=apps.core.fields.EncryptedCharField(help_text="E.164, e.g. +85512345678", max_length=16),
        ),
        migrations.AlterField(
            model_name="idempotencykey",
            name="response_body",
            field=apps.core.fields.EncryptedJSONField(),
        ),
        migrations.AlterField(
            model_name="message",
            name="body",
            field=apps.core.fields.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name="message",
            name="to",
            field=apps.core.fields.EncryptedCharField(
                blank=True, help_text="E.164", max_length=16, verbose_name="recipient"
            ),
        ),
        migrations.AlterField(
            model_name="optout",
            name="phone",
            field=apps.core.fields.EncryptedCharField(help_text="E.164, e.g. +85512345678", max_length=16),
        ),
        migrations.RunPython(encrypt_existing_rows("messaging", "Message")),
        migrations.RunPython(encrypt_existing_rows("messaging", "IdempotencyKey")),
        migrations.RunPython(encrypt_existing_rows("messaging", "OptOut")),
        migrations.RunPython(encrypt_existing_rows("messaging", "BlockedRecipient")),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["to_hash"], name="message_recipient_hash_idx"),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("finished_at__isnull", False), ("redacted_at__isnull", True)),
                fields=["finished_at"],
                name="message_unredacted_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="blockedrecipient",
            constraint=models.UniqueConstraint(fields=("phone_hash",), name="messaging_blocked_recipient_unique_phone"),
        ),
        migrations.AddConstraint(
            model_name="blockedrecipient",
            constraint=models.CheckConstraint(
                condition=models.Q(("phone_hash", ""), _negated=True), name="messaging_blocked_phone_hash_set"
            ),
        ),
        migrations.AddConstraint(
            model_name="message",
            constraint=models.CheckConstraint(
                condition=models.Q(("to_hash", ""), _negated=True), name="message_to_hash_set"
            ),
        ),
        migrations.AddConstraint(
            model_name="optout",
            constraint=models.UniqueConstraint(
                condition=models.Q(("organization__isnull", False)),
                fields=("phone_hash", "organization"),
                name="messaging_opt_out_unique_phone_per_client",
            ),
        ),
        migrations.AddConstraint(
            model_name="optout",
            constraint=models.UniqueConstraint(
                condition=models.Q(("organization__isnull", True)),
                fields=("phone_hash",),
                name="messaging_opt_out_unique_phone",
            ),
        ),
        migrations.AddConstraint(
            model_name="optout",
            constraint=models.CheckConstraint(
                condition=models.Q(("phone_hash", ""), _negated=True), name="messaging_opt_out_phone_hash_set"
            ),
        ),
    ]
