"""Sticky senders remember the recipient's keyed hash instead of the number (docs/privacy.md).

It cannot be undone: a keyed hash does not give the number back. To go back past it, restore a backup
(docs/backups.md)."""

from django.db import migrations, models

from apps.core.crypto import blind_index

BATCH = 1000


def hash_recipients(apps: object, schema_editor: object) -> None:
    sticky_sender = apps.get_model("providers", "StickySender")
    while True:
        rows = list(sticky_sender.objects.filter(recipient__startswith="+").only("pk", "recipient")[:BATCH])
        if not rows:
            return
        for row in rows:
            row.recipient = blind_index(row.recipient)
        sticky_sender.objects.bulk_update(rows, ["recipient"])


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0004_device_installation_id"),
    ]

    operations = [
        migrations.AlterField(
            model_name="stickysender",
            name="recipient",
            field=models.CharField(max_length=32),
        ),
        migrations.RunPython(hash_recipients, elidable=True),
    ]
