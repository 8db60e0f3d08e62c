"""Client organisations' contact phone numbers encrypted at rest, found by their keyed hash (admin search).

Existing rows are encrypted in batches (see apps.core.encrypted_rows); unapplying the migration writes them back in
plain text first. Numbers saved before were already normalised to E.164 by the services (the admin form does so
from now on too).
"""

from django.db import migrations

import apps.core.fields
from apps.core.encrypted_rows import decrypt_existing_rows, encrypt_existing_rows


class Migration(migrations.Migration):
    # Each batch is its own transaction: a stopped run resumes where it was (rows already encrypted are skipped).
    atomic = False

    dependencies = [("accounts", "0010_verbose_names_translatable")]

    operations = [
        migrations.AddField(
            model_name="clientorganization",
            name="contact_phone_hash",
            field=apps.core.fields.BlindIndexField(
                db_index=True, source="contact_phone", verbose_name="contact phone's keyed hash"
            ),
        ),
        migrations.AlterField(
            model_name="clientorganization",
            name="contact_phone",
            field=apps.core.fields.EncryptedLookupCharField(blank=True, max_length=16, verbose_name="contact phone"),
        ),
        migrations.RunPython(
            encrypt_existing_rows("accounts", "ClientOrganization"),
            decrypt_existing_rows("accounts", "ClientOrganization"),
            elidable=False,
        ),
    ]
