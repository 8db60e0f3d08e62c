"""Client organisations (the businesses that send SMS through the API) and their API keys.

Other apps reach organisation rows only through here: the system client (`organization_system_get_or_create`) and
the per-organisation lock (`organization_lock`).
"""

import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.auth_cache import api_keys_invalidate
from apps.accounts.choices import ClientRole
from apps.accounts.errors import ApiKeyAlreadyRevoked
from apps.accounts.models import ApiKey, ClientMembership, ClientOrganization, User
from apps.accounts.phone import normalize_phone
from apps.accounts.services.vetting import api_key_limits_check, api_key_rates_check
from apps.audit.services import audit_record


def client_create(
    *,
    user: User,
    name: str,
    contact_email: str = "",
    contact_phone: str = "",
    verification_codes: bool = False,
    low_balance_threshold: int | None = None,
) -> ClientOrganization:
    """Create a client organisation owned by `user`; it starts in the sandbox (CLIENT_VETTING_REQUIRED)."""
    if contact_phone:
        contact_phone = normalize_phone(contact_phone, require_mobile=False, allowed_regions=[]).e164
    with transaction.atomic():
        organization = ClientOrganization.objects.create(
            name=name,
            contact_email=contact_email,
            contact_phone=contact_phone,
            verification_codes=verification_codes,
            low_balance_threshold=low_balance_threshold,
            # In the sandbox until staff approve its application (docs/sandbox.md).
            approved_at=None if settings.CLIENT_VETTING_REQUIRED else timezone.now(),
        )
        ClientMembership.objects.create(organization=organization, user=user, role=ClientRole.OWNER)
        audit_record(actor=user, action="client.created", target=organization, after={"name": name})
    return organization


CLIENT_EDITABLE = ("name", "contact_email", "contact_phone", "verification_codes", "low_balance_threshold")


def client_update(*, organization: ClientOrganization, actor: User, **changes: object) -> ClientOrganization:
    """The owner changes the organisation's name, contacts, whether SMS carry a verification code, or the spendable
    PPT under which it gets a `balance.low` webhook event."""
    changes = {name: value for name, value in changes.items() if name in CLIENT_EDITABLE}
    if changes.get("contact_phone"):
        changes["contact_phone"] = normalize_phone(
            str(changes["contact_phone"]), require_mobile=False, allowed_regions=[]
        ).e164
    with transaction.atomic():
        before = {name: getattr(organization, name) for name in changes}
        for name, value in changes.items():
            setattr(organization, name, value)
        if changes:
            # The number's keyed hash is saved with it (a BlindIndexField is set on save of its own column only).
            extra = ["contact_phone_hash"] if "contact_phone" in changes else []
            if "contact_phone" in changes and not changes["contact_phone"]:
                organization.contact_phone_hash = ""  # a cleared number is no longer found by its old hash
            organization.save(update_fields=[*changes, *extra])
            audit_record(actor=actor, action="client.updated", target=organization, before=before, after=changes)
    return organization


def hash_api_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(
    *,
    organization: ClientOrganization,
    actor: User,
    name: str,
    rate_per_second: int | None = None,
    rate_per_day: int | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is never stored and cannot be shown again. Its limits may
    not be above the organisation's plan, nor its active keys more than the plan allows (`api_key_limits_check`)."""
    secret = settings.API_KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        organization_lock(organization_id=organization.pk)
        api_key_limits_check(organization=organization, rate_per_second=rate_per_second, rate_per_day=rate_per_day)
        key = ApiKey.objects.create(
            organization=organization,
            name=name,
            prefix=secret[: len(settings.API_KEY_PREFIX) + 6],
            secret_hash=hash_api_key(secret),
            created_by=actor,
            rate_per_second=rate_per_second,
            rate_per_day=rate_per_day,
        )
        audit_record(actor=actor, action="api_key.created", target=key, after={"name": name, "prefix": key.prefix})
    return key, secret


# What a client may change on its own key (`api_key_update`); a limit left None is the plan's.
API_KEY_CHANGEABLE = ("name", "rate_per_second", "rate_per_day")


def api_key_update(*, api_key: ApiKey, actor: User, **changes: Any) -> ApiKey:
    """Rename a key or set its limits anywhere at or under the organisation's plan (None: the plan's). Only staff
    set the plan, so a client can lower its own key's limits and raise them back up to the plan, never above it
    (400 `api_key_limit_above_plan`); a revoked key cannot change (409 `api_key_already_revoked`)."""
    changes = {name: value for name, value in changes.items() if name in API_KEY_CHANGEABLE}
    with transaction.atomic():
        organization_lock(organization_id=api_key.organization_id)
        key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        if key.revoked_at is not None:
            raise ApiKeyAlreadyRevoked()
        rates = {name: changes.get(name, getattr(key, name)) for name in ("rate_per_second", "rate_per_day")}
        api_key_rates_check(organization=key.organization, **rates)
        before = {name: getattr(key, name) for name in changes}
        changed = {name: value for name, value in changes.items() if before[name] != value}
        if changed:
            for name, value in changed.items():
                setattr(key, name, value)
            key.save(update_fields=list(changed))
            audit_record(
                actor=actor,
                action="api_key.updated",
                target=key,
                before={name: before[name] for name in changed},
                after=changed,
            )  # saving the key makes every process reload it (apps.accounts.auth_cache)
    return key


def api_key_revoke(*, api_key: ApiKey, actor: User) -> ApiKey:
    with transaction.atomic():
        if ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()) == 1:
            audit_record(actor=actor, action="api_key.revoked", target=api_key, after={"prefix": api_key.prefix})
            api_keys_invalidate(secret_hashes=[api_key.secret_hash])
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


API_KEY_TOUCH_SECONDS = 60


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use at most once a minute per key, so authentication does not write on every request."""
    if cache.add(f"api-key:touched:{api_key.pk}", 1, timeout=API_KEY_TOUCH_SECONDS):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())


SYSTEM_CLIENT_NAME = "PeerPower"


def organization_system_get_or_create() -> ClientOrganization:
    """PeerPower's own client organisation (OTP codes and canaries are its messages), created on first use.

    Safe under concurrent first uses: the database allows one system organisation, and the loser reads the winner's.
    Not audited: it is created by the system for itself, once.
    """
    existing = ClientOrganization.objects.filter(is_system=True).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return ClientOrganization.objects.create(
                name=SYSTEM_CLIENT_NAME, is_system=True, approved_at=timezone.now()
            )
    except IntegrityError:  # created by a concurrent first use
        return ClientOrganization.objects.get(is_system=True)


def organization_lock(*, organization_id: int) -> None:
    """Take the organisation's row lock until the caller's transaction ends, to serialise that organisation's
    concurrent changes elsewhere (webhook endpoint creation checks a per-organisation limit under it).

    Must run inside the caller's transaction (`transaction.atomic`): outside one the lock would end at once.
    """
    ClientOrganization.objects.select_for_update().filter(pk=organization_id).first()
