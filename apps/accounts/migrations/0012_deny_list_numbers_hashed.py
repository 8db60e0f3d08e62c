"""Deny-list phone and SIM numbers kept only as their keyed hash (`hash:<blind index of E.164>`), like the numbers
of erased banned accounts already were (apps.accounts.services.denylist). No schema change but the help text.

Each plain entry's value is replaced by its hash. Should an active entry of the same number already be listed as a
hash (at most one active entry per kind and value), the plain one is marked removed first, with the reason, so the
number stays listed exactly once. In batches of 500, each its own transaction.

Not reversible: a keyed hash cannot be turned back into its number (unapplying leaves the values hashed).
"""

from django.db import migrations, models, transaction
from django.utils import timezone

from apps.core.crypto import blind_index

HASHED = "hash:"
NUMBER_KINDS = ("phone", "sim")
BATCH = 500


def hash_listed_numbers(apps: object, schema_editor: object) -> None:
    DenyListEntry = apps.get_model("accounts", "DenyListEntry")
    entries = DenyListEntry.objects.using(schema_editor.connection.alias)
    while True:
        with transaction.atomic(using=schema_editor.connection.alias):
            batch = list(
                entries.select_for_update()
                .filter(kind__in=NUMBER_KINDS)
                .exclude(value__startswith=HASHED)
                .order_by("pk")[:BATCH]
            )
            if not batch:
                return
            for entry in batch:
                # Stored values are E.164 (the services normalised them); the hash is of exactly that.
                hashed = HASHED + blind_index(entry.value)
                active_twin = entries.filter(kind=entry.kind, value=hashed, removed_at__isnull=True)
                if entry.removed_at is None and active_twin.exists():
                    entry.removed_at = timezone.now()
                    entry.removal_reason = "listed twice: kept as the keyed hash entry"
                entry.value = hashed
                entry.save(update_fields=["value", "removed_at", "removal_reason"])


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("accounts", "0011_encrypt_organization_contact_phone")]

    operations = [
        migrations.AlterField(
            model_name="denylistentry",
            name="value",
            field=models.CharField(
                help_text="A number in any form (kept only as its keyed hash), or a device's installation id.",
                max_length=200,
                verbose_name="value",
            ),
        ),
        migrations.RunPython(hash_listed_numbers, migrations.RunPython.noop, elidable=False),
    ]
