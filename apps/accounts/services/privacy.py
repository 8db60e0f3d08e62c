"""Export and erasure of a person's data (privacy requests): the orchestration over every app's `PrivacyPart`.

Erasure pseudonymises rather than deletes the user row: ledger accounts, jobs, payouts and audit entries keep
pointing at it (their amounts and history are accounting records, kept 10 years), but nothing on it identifies
the person any more. See docs/privacy-requests.md.
"""

import json
import secrets
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.errors import ErasureMoneyInFlight
from apps.accounts.models import (
    ApiKey,
    ClientMembership,
    ClientOrganization,
    DenyListEntry,
    DeviceSession,
    IdentityChallenge,
    OtpChallenge,
    User,
)
from apps.accounts.privacy import PARTS, AuditSubject, parts_highest_first
from apps.accounts.services.denylist import deny_list_values_of
from apps.accounts.services.organizations import api_key_revoke
from apps.accounts.services.sessions import session_revoke_all
from apps.audit.models import AuditLog
from apps.audit.redaction import audit_redact
from apps.audit.services import audit_record

# An erased phone number becomes "+0" and 14 random hex digits: it still passes the "+"-prefix check constraints,
# but no real number starts with country code 0, so it can never match, be sent to or be confused with one.
ERASED_PREFIX = "+0"


def opaque_token() -> str:
    """A random stand-in for an erased phone number (16 characters, the width of the phone columns)."""
    return ERASED_PREFIX + secrets.token_hex(7)


def user_export(*, user: User, actor: Any) -> Iterator[bytes]:
    """Audit the export, then return the ZIP (one JSON file per kind of data) as a stream of chunks.

    The files are gathered lazily, one at a time, while the response streams: memory stays at one file's size.
    """
    audit_record(actor=actor, action="user.exported", target=user, system_actor="staff")
    return _zip_stream(_export_files(user))


def user_erase(*, user: User, actor: Any) -> User:
    """Erase or pseudonymise everything that identifies `user`, in one transaction, audited.

    Refused with `erasure_money_in_flight` (409) while a payout or a ledger hold is open: the money must settle
    first, to the account it belongs to. Each app erases its own rows (highest app first); accounts last.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        reasons = [reason for part in PARTS.values() if part.blockers for reason in part.blockers(user)]
        if reasons:
            raise ErasureMoneyInFlight(details={"reasons": reasons})
        subject = _audit_subject(user)  # before anything is erased: the values are read from the rows
        for part in parts_highest_first():
            if part.erase:
                part.erase(user, actor)
        _erase_identity(user, actor=actor)
        audit_redact(values=subject.values, targets=subject.targets, person_id=user.pk, actor=actor)
        audit_record(actor=actor, action="user.erased", target=user, system_actor="staff")
    return user


def _audit_subject(user: User) -> AuditSubject:
    """Everything of `user` the audit log may hold: accounts' own objects and values, every part's, and the
    deny-list entries of any of those values (staff listing the person's number)."""
    targets: dict[str, list[Any]] = {
        User._meta.label_lower: [user.pk],
        DeviceSession._meta.label_lower: list(DeviceSession.objects.filter(user=user).values_list("pk", flat=True)),
        ClientMembership._meta.label_lower: list(
            ClientMembership.objects.filter(user=user).values_list("pk", flat=True)
        ),
    }
    values = [user.phone, user.display_name, user.did or "", user.evm_address or ""]
    for part in PARTS.values():
        if part.audit_subject:
            subject = part.audit_subject(user)
            for target_type, ids in subject.targets.items():
                targets.setdefault(target_type, []).extend(ids)
            values += subject.values
    values = [value for value in values if value]
    # Listed numbers are kept as keyed hashes (and a device by its installation id).
    listed = values + deny_list_values_of(numbers=values)
    targets[DenyListEntry._meta.label_lower] = list(
        DenyListEntry.objects.filter(value__in=listed).values_list("pk", flat=True)
    )
    return AuditSubject(targets=targets, values=values)


def _erase_identity(user: User, *, actor: Any) -> None:
    session_revoke_all(user=user, actor=actor)
    DeviceSession.objects.filter(user=user).delete()
    IdentityChallenge.objects.filter(user=user).delete()
    OtpChallenge.objects.filter(phone=user.phone).delete()
    ClientMembership.objects.filter(user=user).delete()
    user.phone = opaque_token()
    user.display_name = ""
    user.did = None
    user.evm_address = None
    user.is_active = False
    user.is_staff = False
    user.is_superuser = False
    user.set_unusable_password()
    user.save()
    user.groups.clear()
    user.user_permissions.clear()


def _accounts_export(user: User) -> dict[str, Any]:
    profile = {
        "id": user.pk,
        "phone": user.phone,
        "display_name": user.display_name,
        "did": user.did,
        "evm_address": user.evm_address,
        "preferred_language": user.preferred_language,
        "reputation_score": user.reputation_score,
        "date_joined": user.date_joined,
        "last_login": user.last_login,
    }
    sessions = list(
        DeviceSession.objects.filter(user=user).values(
            "id", "name", "created_at", "last_used_at", "revoked_at", "ip", "user_agent"
        )
    )
    memberships = list(
        ClientMembership.objects.filter(user=user).values("organization_id", "organization__name", "role", "created_at")
    )
    about_or_by = Q(target_type=User._meta.label_lower, target_id=str(user.pk)) | Q(actor=user)
    audit = list(
        AuditLog.objects.filter(about_or_by)
        .values("id", "created_at", "action", "actor_label", "target_type", "target_id", "before", "after")
        .order_by("id")
    )
    return {
        "profile.json": profile,
        "sessions.json": sessions,
        "memberships.json": memberships,
        "audit.json": audit,
    }


def _export_files(user: User) -> Iterator[tuple[str, Any]]:
    yield from _accounts_export(user).items()
    for part in PARTS.values():
        if part.export:
            yield from part.export(user).items()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


class _Chunks:
    """A write-only file for `zipfile` that hands what was written to the response, chunk by chunk."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.position = 0

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


def _zip_stream(files: Iterator[tuple[str, Any]]) -> Iterator[bytes]:
    out = _Chunks()
    with zipfile.ZipFile(out, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(name, json.dumps(data, default=_json_default, ensure_ascii=False, indent=1))
            yield out.take()
    yield out.take()


def export_timestamp() -> str:
    return timezone.now().strftime("%Y%m%d-%H%M%S")


def organization_export(*, organization: ClientOrganization, actor: Any) -> Iterator[bytes]:
    """Staff: one ZIP with the organisation's details and each member's export in a folder of its own, audited
    (one `user.exported` per member and a `client.exported`)."""
    members = list(User.objects.filter(client_memberships__organization=organization).order_by("pk"))
    for member in members:
        audit_record(actor=actor, action="user.exported", target=member, after={"organization": organization.pk})
    audit_record(actor=actor, action="client.exported", target=organization, after={"members": len(members)})

    def files() -> Iterator[tuple[str, Any]]:
        yield "organization.json", _organization_data(organization)
        for member in members:
            for name, data in _export_files(member):
                yield f"member-{member.pk}/{name}", data

    return _zip_stream(files())


def organization_erase(*, organization: ClientOrganization, actor: Any) -> dict[int, str]:
    """Staff: erase every member of the organisation (`user_erase` each), clear its contact details and revoke its
    API keys. Returns the members whose erasure was refused, with the error code; they are tried on their own."""
    refused: dict[int, str] = {}
    for member in User.objects.filter(client_memberships__organization=organization).order_by("pk"):
        try:
            user_erase(user=member, actor=actor)
        except ErasureMoneyInFlight as error:
            refused[member.pk] = error.code
    with transaction.atomic():
        organization = ClientOrganization.objects.select_for_update().get(pk=organization.pk)
        for key in ApiKey.objects.filter(organization=organization, revoked_at__isnull=True):
            api_key_revoke(api_key=key, actor=actor)
        # The keyed hash goes too: an empty number keeps its index otherwise (apps.core.fields.BlindIndexField).
        ClientOrganization.objects.filter(pk=organization.pk).update(
            contact_email="", contact_phone="", contact_phone_hash=""
        )
        audit_record(actor=actor, action="client.erased", target=organization, after={"refused": refused})
    return refused


def _organization_data(organization: ClientOrganization) -> dict[str, Any]:
    fields = ("id", "name", "contact_email", "contact_phone", "created_at", "is_blocked", "verification_codes")
    return {name: getattr(organization, name) for name in fields}
