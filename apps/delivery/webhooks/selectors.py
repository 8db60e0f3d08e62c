"""Webhook reads for the API, the admin and the event hot path."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet

from apps.accounts.models import ClientOrganization
from apps.core.errors import NotFound
from apps.delivery.webhooks.models import WebhookEndpoint

logger = logging.getLogger("peerpower.webhooks")


@dataclass(frozen=True)
class EndpointTarget:
    """What the event hot path needs of an enabled endpoint."""

    id: int
    url: str
    event_types: frozenset[str]


def webhook_endpoints_of(*, organization: ClientOrganization) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organization=organization).order_by("-created_at", "-id")


def webhook_endpoint_of(*, organization: ClientOrganization, endpoint_id: int) -> WebhookEndpoint:
    """One of the client's own endpoints; another client's looks like it does not exist."""
    endpoint = webhook_endpoints_of(organization=organization).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound()
    return endpoint


def _targets_key(organization_id: int) -> str:
    return f"webhooks:targets:{organization_id}"


def webhook_targets_of(*, organization_id: int) -> list[EndpointTarget]:
    """The client's enabled endpoints: from the shared cache, else one indexed query (then cached).

    Every status change of every message asks, so a client without endpoints costs one cache read. The cache is
    cleared when endpoints change and expires after WEBHOOK_ENDPOINT_CACHE_SECONDS in any case; an endpoint
    switched off in that window is caught when its delivery is sent.
    """
    key = _targets_key(organization_id)
    try:
        rows = cache.get(key)
    except Exception:  # a cache outage must not stop messages from changing status
        logger.warning("webhook endpoint cache unreadable; reading the database", exc_info=True)
        rows = None
    if rows is None:
        rows = [
            (pk, url, tuple(event_types))
            for pk, url, event_types in WebhookEndpoint.objects.filter(
                organization_id=organization_id, active=True, disabled_at__isnull=True
            ).values_list("pk", "url", "event_types")
        ]
        try:
            cache.set(key, rows, timeout=settings.WEBHOOK_ENDPOINT_CACHE_SECONDS)
        except Exception:  # as above
            logger.warning("webhook endpoint cache unwritable", exc_info=True)
    return [EndpointTarget(id=pk, url=url, event_types=frozenset(types)) for pk, url, types in rows]


def webhook_targets_forget(*, organization_id: int) -> None:
    """Drop the cached endpoints of a client, now and again once the change commits (a reader between the two could
    have cached the old list)."""

    def forget() -> None:
        try:
            cache.delete(_targets_key(organization_id))
        except Exception:  # the entry expires by itself
            logger.warning("webhook endpoint cache entry not cleared", exc_info=True)

    forget()
    transaction.on_commit(forget)
