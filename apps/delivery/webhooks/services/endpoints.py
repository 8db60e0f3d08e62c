"""Endpoints and signing secrets: what clients manage through the API and staff through the admin.

Actors: a client system acts through its API key (an `ApiClient`), staff as a `User`, the system as None. Every
change is audited in its transaction, and clears the cached list of the client's endpoints.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.authentication import ApiClient
from apps.accounts.models import ClientOrganization
from apps.accounts.services import organization_lock
from apps.audit.services import audit_record
from apps.core.addresses import webhook_url_check
from apps.core.errors import ValidationFailed
from apps.delivery.webhooks.choices import DeliveryStatus, WebhookEventType
from apps.delivery.webhooks.errors import WebhookEndpointLimit
from apps.delivery.webhooks.models import SigningSecret, WebhookCallbackSecret, WebhookDelivery, WebhookEndpoint
from apps.delivery.webhooks.selectors import webhook_targets_forget
from apps.delivery.webhooks.signing import secret_generate

SYSTEM_ACTOR = "webhooks"


def audit(*, actor: Any, action: str, target: Any, before: dict | None = None, after: dict | None = None) -> None:
    """Audit an action by staff (a user), a client system (through its API key) or the system (None)."""
    if isinstance(actor, ApiClient):
        audit_record(
            action=action, target=target, before=before, after=after, system_actor=f"api_key:{actor.api_key.pk}"
        )
    else:
        audit_record(actor=actor, action=action, target=target, before=before, after=after, system_actor=SYSTEM_ACTOR)


def _event_types(event_types: Iterable[str] | None) -> list[str]:
    """Subscribed types in their canonical order; None means all of them."""
    if event_types is None:
        return list(WebhookEventType.values)
    chosen = set(event_types)
    unknown = chosen - set(WebhookEventType.values)
    if unknown or not chosen:
        raise ValidationFailed(
            code="webhook_event_types_invalid",
            details={"unknown": sorted(unknown), "allowed": list(WebhookEventType.values)},
        )
    return [value for value in WebhookEventType.values if value in chosen]


def _endpoint_state(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "description": endpoint.description,
        "active": endpoint.active,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _rotate(*, holder: SigningSecret, now: datetime, actor: Any, action: str, time_field: str) -> None:
    """Give a locked secret holder a new secret (the old one signs on during the grace period), save and audit."""
    grace = settings.WEBHOOK_SECRET_ROTATION_GRACE_SECONDS
    holder.previous_secret = holder.secret if grace > 0 else ""
    holder.previous_secret_expires_at = now + timedelta(seconds=grace) if grace > 0 else None
    holder.secret = secret_generate()
    setattr(holder, time_field, now)
    holder.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", time_field])
    audit(
        actor=actor,
        action=action,
        target=holder,
        after={"previous_secret_expires_at": _iso(holder.previous_secret_expires_at)},
    )


def webhook_endpoint_create(
    *,
    organization: ClientOrganization,
    actor: Any,
    url: str,
    event_types: Iterable[str] | None = None,
    description: str = "",
    active: bool = True,
) -> WebhookEndpoint:
    """Register an endpoint with a new secret. The URL is checked (and resolved) first: 400 with a
    `webhook_url_*` code if webhooks may not go there."""
    types = _event_types(event_types)
    webhook_url_check(url)  # DNS: before the transaction, not inside it
    with transaction.atomic():
        # Serialise a client's concurrent creations, so the limit holds.
        organization_lock(organization_id=organization.pk)
        if WebhookEndpoint.objects.filter(organization=organization).count() >= settings.WEBHOOK_MAX_ENDPOINTS:
            raise WebhookEndpointLimit(details={"max": settings.WEBHOOK_MAX_ENDPOINTS})
        endpoint = WebhookEndpoint.objects.create(
            organization=organization,
            url=url,
            event_types=types,
            description=description,
            active=active,
            secret=secret_generate(),
        )
        audit(actor=actor, action="webhook_endpoint.created", target=endpoint, after=_endpoint_state(endpoint))
        webhook_targets_forget(organization_id=organization.pk)
    return endpoint


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: Any,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given (None leaves a field as it is). Switching an endpoint off stops its pending deliveries
    when they next come up; a disabled endpoint is re-enabled only by staff (`webhook_endpoint_enable`)."""
    types = _event_types(event_types) if event_types is not None else None
    if url is not None and url != endpoint.url:
        webhook_url_check(url)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        before = _endpoint_state(endpoint)
        for name, value in (("url", url), ("event_types", types), ("description", description), ("active", active)):
            if value is not None:
                setattr(endpoint, name, value)
        after = _endpoint_state(endpoint)
        if after != before:
            endpoint.save(update_fields=["url", "event_types", "description", "active", "updated_at"])
            changed = [name for name in after if after[name] != before[name]]
            audit(
                actor=actor,
                action="webhook_endpoint.updated",
                target=endpoint,
                before={name: before[name] for name in changed},
                after={name: after[name] for name in changed},
            )
            webhook_targets_forget(organization_id=endpoint.organization_id)
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: Any) -> None:
    """Delete an endpoint. Its events stay (as records of what was sent); its pending deliveries are cancelled."""
    with transaction.atomic():
        deliveries_cancel(endpoint_id=endpoint.pk, reason="endpoint_deleted")
        audit(actor=actor, action="webhook_endpoint.deleted", target=endpoint, before=_endpoint_state(endpoint))
        organization_id = endpoint.organization_id
        endpoint.delete()
        webhook_targets_forget(organization_id=organization_id)


def webhook_endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, actor: Any, now: datetime | None = None
) -> WebhookEndpoint:
    """A new secret; the old one keeps signing beside it for WEBHOOK_SECRET_ROTATION_GRACE_SECONDS."""
    now = now or timezone.now()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        _rotate(
            holder=endpoint, now=now, actor=actor, action="webhook_endpoint.secret_rotated", time_field="updated_at"
        )
    return endpoint


def webhook_endpoint_enable(*, endpoint: WebhookEndpoint, actor: Any) -> bool:
    """Staff: re-enable an endpoint the system disabled, with a fresh failure count. Deliveries cancelled while it
    was disabled are not resent by this; resend them (or their events) if the client needs them."""
    with transaction.atomic():
        enabled = (
            WebhookEndpoint.objects.filter(pk=endpoint.pk, disabled_at__isnull=False).update(
                disabled_at=None,
                disabled_reason="",
                consecutive_failures=0,
                failing_since=None,
                updated_at=timezone.now(),
            )
            == 1
        )
        if enabled:
            audit(
                actor=actor,
                action="webhook_endpoint.enabled",
                target=endpoint,
                before={"disabled_at": _iso(endpoint.disabled_at), "disabled_reason": endpoint.disabled_reason},
            )
            webhook_targets_forget(organization_id=endpoint.organization_id)
    endpoint.refresh_from_db()
    return enabled


def deliveries_cancel(*, endpoint_id: int, reason: str) -> int:
    """Cancel an endpoint's pending deliveries (the caller holds the transaction). One in flight is cancelled too;
    if its request succeeds, it is recorded as succeeded (it was received)."""
    return WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.CANCELLED, status_reason=reason, next_attempt_at=None
    )


def webhook_callback_secret_ensure(*, organization: ClientOrganization) -> WebhookCallbackSecret:
    """The client's callback-URL signing secret, created the first time it is needed."""
    existing = WebhookCallbackSecret.objects.filter(organization=organization).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            created = WebhookCallbackSecret.objects.create(organization=organization, secret=secret_generate())
            audit(actor=None, action="webhook_callback_secret.created", target=created)
        return created
    except IntegrityError:  # created concurrently by another request or worker
        return WebhookCallbackSecret.objects.get(organization=organization)


def webhook_callback_secret_rotate(
    *, organization: ClientOrganization, actor: Any, now: datetime | None = None
) -> WebhookCallbackSecret:
    now = now or timezone.now()
    webhook_callback_secret_ensure(organization=organization)
    with transaction.atomic():
        holder = WebhookCallbackSecret.objects.select_for_update().get(organization=organization)
        _rotate(holder=holder, now=now, actor=actor, action="webhook_callback_secret.rotated", time_field="rotated_at")
    return holder
