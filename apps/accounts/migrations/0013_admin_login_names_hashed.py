"""The admin login's names in django-axes' tables kept only as their keyed hash (apps.accounts.admin_site): a staff
member's login name is their phone number, which is nowhere at rest in plain text. Each name in the failed attempts
(`AccessAttempt`, `AccessFailureLog`) and the earlier successful logins (`AccessLog`, no longer written) is replaced
by the blind index of its E.164 form (of the text itself when it is not a number), as `admin_login_username` now
stores it — so lock-outs still count together with new failures. Two attempts that become one name from the same
address and browser (a number typed two ways before names were normalised) are one attempt: their failures are
added up (django-axes keeps one row per name, address and browser). In batches of 500, each its own transaction.

Not reversible: a keyed hash cannot be turned back into its number (unapplying leaves the names hashed).
"""

import re

from django.db import migrations, transaction

from apps.core.crypto import BLIND_INDEX_CHARS, blind_index

BATCH = 500
TABLES = ("AccessAttempt", "AccessFailureLog", "AccessLog")
HASHED = re.compile(rf"[0-9a-f]{{{BLIND_INDEX_CHARS}}}")


def _hashed(name: str) -> str:
    from apps.accounts.phone import normalize_phone
    from apps.core.errors import DomainError

    try:
        return blind_index(normalize_phone(name, require_mobile=False, allowed_regions=[]).e164)
    except DomainError:
        return blind_index(name.strip())


def _rename(rows: object, row: object, name: str) -> None:
    twin = None
    if hasattr(row, "failures_since_start"):  # AccessAttempt: one row per name, address and browser
        twin = rows.filter(username=name, ip_address=row.ip_address, user_agent=row.user_agent).first()
    if twin is None:
        row.username = name
        row.save(update_fields=["username"])
        return
    twin.failures_since_start += row.failures_since_start
    twin.save(update_fields=["failures_since_start"])
    row.delete()


def hash_login_names(apps: object, schema_editor: object) -> None:
    alias = schema_editor.connection.alias
    for model_name in TABLES:
        rows = apps.get_model("axes", model_name).objects.using(alias)
        last = 0
        while True:
            with transaction.atomic(using=alias):
                batch = list(rows.select_for_update().filter(pk__gt=last).exclude(username=None).order_by("pk")[:BATCH])
                if not batch:
                    break
                for row in batch:
                    if row.username and not HASHED.fullmatch(row.username):
                        _rename(rows, row, _hashed(row.username))
                last = batch[-1].pk


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("accounts", "0012_deny_list_numbers_hashed"), ("axes", "0010_accessattemptexpiration")]

    operations = [migrations.RunPython(hash_login_names, migrations.RunPython.noop, elidable=False)]
