"""A hot account's pending totals are no longer stored: they are the sums of its pending transfers, read when asked.

Forwards: the hot accounts' pending columns, and the queued changes' pending columns, are set to 0 (what they
counted is in the pending transfers, which stay), then a CHECK keeps hot accounts' pending columns at 0. Code of
the previous release still running meanwhile is harmless: its holds queue pending changes the roll-up drops (their
transfers count), and its roll-up, adding them to a hot account, is refused by the CHECK.

Backwards: the CHECK is dropped and each hot account's pending columns are recomputed from its pending transfers,
with the transfers table share-locked on PostgreSQL (no transfer booked or resolved in between) and the queued
changes' pending columns set to 0, so the previous release's "columns plus queued changes" is exact again.
"""

from django.db import migrations, models
from django.db.models import Q, Sum


def not_stored(apps, schema_editor) -> None:
    Account = apps.get_model("tokens", "Account")
    HotBalanceDelta = apps.get_model("tokens", "HotBalanceDelta")
    Account.objects.filter(is_hot=True).update(debits_pending=0, credits_pending=0)
    HotBalanceDelta.objects.exclude(debits_pending=0, credits_pending=0).update(debits_pending=0, credits_pending=0)


def stored_again(apps, schema_editor) -> None:
    Account = apps.get_model("tokens", "Account")
    HotBalanceDelta = apps.get_model("tokens", "HotBalanceDelta")
    Transfer = apps.get_model("tokens", "Transfer")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("LOCK TABLE tokens_transfer IN SHARE MODE", params=None)
    HotBalanceDelta.objects.exclude(debits_pending=0, credits_pending=0).update(debits_pending=0, credits_pending=0)
    pending = Transfer.objects.filter(status="pending")
    for account_id in Account.objects.filter(is_hot=True).values_list("pk", flat=True):
        sums = pending.filter(Q(debit_account_id=account_id) | Q(credit_account_id=account_id)).aggregate(
            out=Sum("amount", filter=Q(debit_account_id=account_id)),
            into=Sum("amount", filter=Q(credit_account_id=account_id)),
        )
        Account.objects.filter(pk=account_id).update(debits_pending=sums["out"] or 0, credits_pending=sums["into"] or 0)


class Migration(migrations.Migration):
    dependencies = [("tokens", "0006_verbose_names_translatable")]

    operations = [
        migrations.RunPython(not_stored, stored_again),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("is_hot", False), models.Q(("credits_pending", 0), ("debits_pending", 0)), _connector="OR"
                ),
                name="tokens_account_hot_pending_not_stored",
            ),
        ),
    ]
