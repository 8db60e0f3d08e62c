"""Deny-lists that hold: account phone numbers, SIM numbers and device installation ids staff refuse.

Sign-in (accounts), SIM registration and device registration (providers) call `deny_list_refuse` before they accept
a value, so banning a provider and removing their SIM no longer frees the number to be registered again. Entries are
added and removed by staff, with a reason; both are audited and a removed entry keeps its row.

Phone and SIM numbers are kept only as their keyed hash (`hash:<blind index of the E.164 number>`): the list is
checked by equality only, so it needs nothing else, and a copy of the database names no refused number. Device
installation ids are kept as they are (they identify an app install, not a person's number).
"""

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.choices import DenyKind
from apps.accounts.errors import DeviceDenied, PhoneDenied, SimDenied
from apps.accounts.models import DenyListEntry
from apps.accounts.phone import normalize_phone
from apps.audit.pseudonyms import HASHED  # numbers are listed as the same marker the audit log holds them as
from apps.audit.services import audit_record
from apps.core.crypto import blind_index
from apps.core.errors import DomainError

NUMBER_KINDS = (DenyKind.PHONE, DenyKind.SIM)

REFUSALS: dict[str, type[DomainError]] = {
    DenyKind.PHONE: PhoneDenied,
    DenyKind.SIM: SimDenied,
    DenyKind.DEVICE: DeviceDenied,
}


def deny_list_normalize(*, kind: str, value: str) -> str:
    """What the list stores: a number (whatever form staff typed it in) as the keyed hash of its E.164 form; an
    installation id as given, without surrounding spaces. A value already hashed stays as it is."""
    value = value.strip()
    if value.startswith(HASHED):
        return value
    if kind in NUMBER_KINDS:
        return HASHED + blind_index(normalize_phone(value, require_mobile=False, allowed_regions=[]).e164)
    return value


def deny_list_refuse(*, kind: str, values: list[str]) -> None:
    """Raise the kind's 403 error (`phone_denied`, `sim_denied`, `device_denied`) if any of `values` is listed
    (a device is named by its installation id or, from apps that send none, its FCM token). Values must already be
    normalised (E.164 for numbers). One indexed lookup."""
    values = [value for value in values if value]
    if kind in NUMBER_KINDS:
        values = [HASHED + blind_index(value) for value in values]
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
    """Before a banned account's erasure removes its number: keep the number on the list (as its keyed hash, like
    every listed number), so that it cannot sign up again (`phone_denied`)."""
    return deny_list_add(kind=DenyKind.PHONE, value=phone, reason="banned account erased", actor=actor)


def deny_list_values_of(*, numbers: list[str]) -> list[str]:
    """The stored values that list any of `numbers` (E.164): for finding a person's entries (privacy erasure)."""
    return [HASHED + blind_index(number) for number in numbers if number and not number.startswith(HASHED)]
