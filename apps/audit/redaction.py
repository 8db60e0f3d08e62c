"""Redacting a person's values from the audit log when their data is erased (docs/privacy.md, "The audit log").

The log is append-only; a privacy erasure is the one thing allowed to rewrite an entry, and only narrowly: in the
entries about the person's objects or made by them, each personal value in `before`/`after` (a phone number, a
name, an account number) is replaced by `erased:<its keyed hash>` (apps.core.crypto.blind_index, as the deny-list
keeps a banned number); a number, already written as `hash:<its keyed hash>` (apps.audit.pseudonyms), becomes
`erased:` with the same hash. The IP of the person's own requests (and of the system's actions in them) is cleared.
Who acted, the action, the target and the time stay. Each entry so rewritten gets `redacted_at`, and the redaction
itself is audited (`audit.redacted`) in the same transaction.

On PostgreSQL the append-only trigger lets an UPDATE through only when the transaction has set
`peerpower.audit_redaction` (which only `audit_redact` does, for the length of its own work) and only when nothing
but those columns changed; DELETE stays refused. See apps/audit/migrations/0004_redaction.py.
"""

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit.models import AuditLog
from apps.audit.pseudonyms import HASHED
from apps.audit.services import audit_record
from apps.core.crypto import blind_index

REDACTION_SETTING = "peerpower.audit_redaction"
ERASED = "erased:"
# Shorter values (a two-letter name) are replaced only where they are a whole string: as a part of longer text
# they would mangle words that have nothing to do with the person.
MIN_PART_LENGTH = 6


def spellings(value: str) -> list[str]:
    """The forms a value may have been written in: a Cambodian number also without its "+" and in national form."""
    found = [value]
    if value.startswith("+855") and value[1:].isdigit():
        found += [value[1:], "0" + value[4:]]
    return found


def audit_redact(
    *,
    values: Iterable[str],
    targets: Mapping[str, Iterable[Any]],
    person_id: int | None,
    actor: Any,
    system_actor: str = "privacy",
) -> int:
    """Replace `values` in the entries about `targets` ({target_type label: [ids]}) or made by user `person_id`,
    clear the IPs of those not made by staff, and audit it as `audit.redacted` on `accounts.user:<person_id>`.
    Returns how many entries changed. Runs in (or as) the erasure's transaction."""
    replacements = _replacements(values)
    where = Q(actor_id=person_id) if person_id is not None else Q(pk__in=[])
    for target_type, ids in targets.items():
        ids = [str(pk) for pk in ids]
        if ids:
            where |= Q(target_type=target_type, target_id__in=ids)
    now = timezone.now()
    changed = 0
    with transaction.atomic(), _redaction_allowed():
        entries = AuditLog.objects.filter(where).only("pk", "actor_id", "before", "after", "ip").order_by("pk")
        for entry in entries.iterator(chunk_size=500):
            before, after = _scrub(entry.before, replacements), _scrub(entry.after, replacements)
            # The IP of a request by the person, or by the system on their behalf (a payout sent from their
            # request); a staff member's IP is the staff member's.
            ip = None if entry.actor_id is None or entry.actor_id == person_id else entry.ip
            if (before, after, ip) != (entry.before, entry.after, entry.ip):
                AuditLog.objects.filter(pk=entry.pk).redact(before=before, after=after, ip=ip, redacted_at=now)
                changed += 1
        audit_record(
            actor=actor,
            action="audit.redacted",
            target_type="accounts.user",
            target_id=person_id or "",
            after={"entries": changed},
            system_actor=system_actor,
        )
    return changed


def _replacements(values: Iterable[str]) -> list[tuple[str, str]]:
    pairs = {}
    for value in values:
        if value and not value.startswith(ERASED):
            marker = ERASED + blind_index(value)
            for spelling in spellings(value):
                pairs[spelling] = marker
            # A number is already in the log as its keyed hash (apps.audit.pseudonyms): the same hash, marked erased.
            pairs[HASHED + blind_index(value)] = marker
    # Longest first: "+85512345678" is replaced before "85512345678" could cut it in two.
    return sorted(pairs.items(), key=lambda pair: len(pair[0]), reverse=True)


def _scrub(data: Any, replacements: list[tuple[str, str]]) -> Any:
    if isinstance(data, dict):
        return {key: _scrub(value, replacements) for key, value in data.items()}
    if isinstance(data, list):
        return [_scrub(value, replacements) for value in data]
    if not isinstance(data, str):
        return data
    for value, marker in replacements:
        if data == value:
            return marker
        if len(value) >= MIN_PART_LENGTH and value in data:
            data = data.replace(value, marker)
    return data


@contextmanager
def _redaction_allowed() -> Iterator[None]:
    """Tell the PostgreSQL trigger this transaction may redact, and withdraw it as soon as the redaction is done,
    so the rest of the erasure's transaction is as append-only as any other."""
    if connection.vendor != "postgresql":
        yield
        return
    # Local to the transaction (a rollback, of it or of the savepoint it was set in, withdraws it too).
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'on', true)", [REDACTION_SETTING])
    yield
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'off', true)", [REDACTION_SETTING])
