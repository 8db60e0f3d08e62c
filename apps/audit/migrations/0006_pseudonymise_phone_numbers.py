"""Entries written before phone numbers were hashed in the audit log: each number in their `before`/`after` becomes
`hash:<its keyed hash>` (apps.audit.pseudonyms), as new entries are written. No schema change.

The log is append-only; this goes through the one UPDATE the PostgreSQL trigger lets through (migration 0004), the
privacy redaction's: inside a transaction that set `peerpower.audit_redaction`, changing only `before`/`after` and
setting `redacted_at` (which therefore also marks the entries this rewrote; an erasure's earlier time is kept). IPs, actors, actions, targets and times
stay as written. Batches of 500 rows, each its own short transaction, so a large log is never locked whole and a
stopped run resumes (a rewritten entry no longer changes). One `audit.pseudonymised` entry records how many changed.

Not reversible: a keyed hash cannot be turned back into its number (unapplying leaves the entries as they are).
"""

from django.db import migrations, transaction
from django.utils import timezone

from apps.audit.pseudonyms import pseudonymise

BATCH = 500
REDACTION_SETTING = "peerpower.audit_redaction"


def _set_redaction(connection: object, value: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [REDACTION_SETTING, value])


def pseudonymise_entries(apps: object, schema_editor: object) -> None:
    AuditLog = apps.get_model("audit", "AuditLog")
    connection = schema_editor.connection
    changed, after = 0, 0
    while True:
        with transaction.atomic(using=connection.alias):
            rows = list(
                AuditLog.objects.using(connection.alias)
                .filter(pk__gt=after)
                .order_by("pk")
                .values_list("pk", "before", "after", "redacted_at")[:BATCH]
            )
            if not rows:
                break
            after = rows[-1][0]
            _set_redaction(connection, "on")
            now = timezone.now()
            for pk, old_before, old_after, redacted_at in rows:
                new_before, new_after = pseudonymise(old_before), pseudonymise(old_after)
                if (new_before, new_after) != (old_before, old_after):
                    # The base manager is Django's plain one: the model's append-only refusal (AuditLogQuerySet) is
                    # not in the way; the database trigger is, and lets exactly this through.
                    AuditLog._base_manager.using(connection.alias).filter(pk=pk).update(
                        before=new_before,
                        after=new_after,
                        redacted_at=redacted_at or now,  # an erasure's time stays
                    )
                    changed += 1
            _set_redaction(connection, "off")
    if changed:
        AuditLog.objects.using(connection.alias).create(
            actor_label="migration:audit.0006",
            action="audit.pseudonymised",
            after={"entries": changed},
        )


class Migration(migrations.Migration):
    # Each batch is its own transaction (see above).
    atomic = False

    dependencies = [("audit", "0005_verbose_names_translatable")]

    operations = [migrations.RunPython(pseudonymise_entries, migrations.RunPython.noop, elidable=False)]
