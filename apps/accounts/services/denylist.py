"""Deny-lists that hold: account phone numbers, SIM numbers and device installation ids staff refuse.

Sign-in (accounts), SIM registration and device registration (providers) call `deny_list_refuse` before they accept
a value, so banning a provider and removing their SIM no longer frees the number to be registered again. Entries are
added and removed by staff, with a reason; both are audited and a removed entry keeps its row.
"""

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.choices import DenyKind
from apps.accounts.errors import DeviceDenied, PhoneDenied, SimDenied
from apps.accounts.models import DenyListEntry
from apps.accounts.phone import normalize_phone
from apps.audit.services import audit_record
from apps.core.crypto import blind_index
from apps.core.errors import DomainError

# An erased banned account's number stays listed as its keyed hash only (the number itself is erased with the rest).
HASHED = "hash:"

REFUSALS: dict[str, type[DomainError]] = {
    DenyKind.PHONE: PhoneDenied,
    DenyKind.SIM: SimDenied,
    DenyKind.DEVICE: DeviceDenied,
}


def deny_list_normalize(*, kind: str, value: str) -> str:
    """Numbers in E.164 (whatever the staff typed); installation ids as given, without surrounding spaces."""
    value = value.strip()
    if value.startswith(HASHED):
        return value
    if kind in (DenyKind.PHONE, DenyKind.SIM):
        return normalize_phone(value, require_mobile=False, allowed_regions=[]).e164
    return value


def deny_list_refuse(*, kind: str, values: list[str]) -> None:
    """Raise the kind's 403 error (`phone_denied`, `sim_denied`, `device_denied`) if any of `values` is listed
    (a device is named by its installation id or, from apps that send none, its FCM token). Values must already be
    normalised (E.164 for numbers). One indexed lookup."""
    values = [value for value in values if value]
    if kind == DenyKind.PHONE:
        values += [HASHED + blind_index(value) for value in values]
    if values and DenyListEntry.objects.filter(kind=kind, value__in=values, removed_at__isnull=True).exists():
        raise REFUSALS[kind]()


def deny_list_add(*, kind: str, value: str, reason: str, actor: Any) -> DenyListEntry:
    """List `value` (idempotent: an already listed value returns its entry unchanged)."""
    value = deny_list_normalize(kind=kind, value=value)
    existing = DenyListEntry.objects.filter(kind=kind, value=value, removed_at__isnull=True).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            entry = DenyListEntry.objects.create(kind=kind, value=value, reason=reason, created_by=actor)
            audit_record(
                actor=actor,
                action="deny_list.added",
                target=entry,
                after={"kind": kind, "value": value, "reason": reason},
            )
    except IntegrityError:  # listed concurrently
        return DenyListEntry.objects.get(kind=kind, value=value, removed_at__isnull=True)
    return entry


def deny_list_remove(*, entry: DenyListEntry, actor: Any, reason: str) -> DenyListEntry:
    """Take a value off the list; the row stays with who removed it, when and why."""
    with transaction.atomic():
        now = timezone.now()
        changed = DenyListEntry.objects.filter(pk=entry.pk, removed_at__isnull=True).update(
            removed_at=now, removed_by=actor, removal_reason=reason
        )
        if changed == 1:
            audit_record(
                actor=actor,
                action="deny_list.removed",
                target=entry,
                before={"kind": entry.kind, "value": entry.value},
                after={"reason": reason},
            )
    entry.refresh_from_db()
    return entry


def deny_list_erased_number(*, phone: str, actor: Any) -> DenyListEntry:
    """Before a banned account's erasure removes its number: keep the number on the list, as its keyed hash only, so
    that it cannot sign up again (`phone_denied`), and take a plain entry of it off the list (the removed row keeps
    its history, with the number replaced by the same keyed hash)."""
    entry = deny_list_add(
        kind=DenyKind.PHONE, value=HASHED + blind_index(phone), reason="banned account erased", actor=actor
    )
    for plain in DenyListEntry.objects.filter(kind=DenyKind.PHONE, value=phone, removed_at__isnull=True):
        deny_list_remove(entry=plain, actor=actor, reason="kept as a keyed hash after the account's erasure")
        DenyListEntry.objects.filter(pk=plain.pk).update(value=HASHED + blind_index(phone))
    return entry
