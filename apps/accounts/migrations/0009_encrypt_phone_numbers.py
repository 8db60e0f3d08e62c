"""Users' and sign-in codes' phone numbers encrypted at rest, found by their keyed hash.

Existing rows are encrypted in batches (see apps.core.encrypted_rows); unapplying the migration writes them back in
plain text first. The uniqueness of a user's number moves to its keyed hash, made unique once every row has one.
"""

from django.db import migrations, models

import apps.core.fields
from apps.core.encrypted_rows import decrypt_existing_rows, encrypt_existing_rows


class Migration(migrations.Migration):
    # Each batch is its own transaction: a large table is not locked for the whole conversion, and a stopped run
    # resumes where it was (rows already encrypted are skipped).
    atomic = False

    dependencies = [("accounts", "0008_client_message_body_retention")]

    operations = [
        # The "+" prefix checks cannot see through encryption: normalisation (apps.accounts.phone) guarantees E.164.
        migrations.RemoveConstraint(model_name="otpchallenge", name="otp_phone_is_e164"),
        migrations.RemoveConstraint(model_name="user", name="user_phone_is_e164"),
        migrations.RemoveIndex(model_name="otpchallenge", name="otp_phone_purpose_idx"),
        migrations.AddField(
            model_name="otpchallenge",
            name="phone_hash",
            field=apps.core.fields.BlindIndexField(source="phone"),
        ),
        migrations.AddField(
            model_name="user",
            name="phone_hash",
            field=apps.core.fields.BlindIndexField(source="phone", verbose_name="phone number's keyed hash"),
        ),
        migrations.AlterField(
            model_name="otpchallenge",
            name="phone",
            field=apps.core.fields.EncryptedLookupCharField(max_length=16),
        ),
        migrations.AlterField(
            model_name="user",
            name="phone",
            field=apps.core.fields.EncryptedLookupCharField(
                help_text="E.164, e.g. +85512345678", max_length=16, unique=True, verbose_name="phone number"
            ),
        ),
        migrations.RunPython(
            encrypt_existing_rows("accounts", "User"), decrypt_existing_rows("accounts", "User"), elidable=False
        ),
        migrations.RunPython(
            encrypt_existing_rows("accounts", "OtpChallenge"),
            decrypt_existing_rows("accounts", "OtpChallenge"),
            elidable=False,
        ),
        migrations.AlterField(
            model_name="user",
            name="phone_hash",
            field=apps.core.fields.BlindIndexField(
                source="phone", unique=True, verbose_name="phone number's keyed hash"
            ),
        ),
        migrations.AddIndex(
            model_name="otpchallenge",
            index=models.Index(fields=["phone_hash", "purpose", "-created_at"], name="otp_phone_hash_purpose_idx"),
        ),
    ]
