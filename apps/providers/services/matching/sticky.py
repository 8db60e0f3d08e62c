"""Sticky senders: the provider who last delivered to a recipient for a client is tried first next time (the
recipient sees the same sender number)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from apps.providers.models import StickySender


@dataclass(frozen=True, slots=True)
class StickyDelivery:
    """Who delivered to `recipient` (the keyed hash) for `client_ref`."""

    client_ref: str
    recipient: str
    provider_id: int
    sim_id: int


def sticky_sender_remember(
    *, client_ref: str, recipient: str, provider_id: int, sim_id: int, now: datetime | None = None
) -> None:
    """Remember who delivered to `recipient` for `client_ref` (messaging calls this on a confirmed delivery).
    `sticky_senders_remember` for one delivery."""
    delivery = StickyDelivery(client_ref=client_ref, recipient=recipient, provider_id=provider_id, sim_id=sim_id)
    sticky_senders_remember(deliveries=[delivery], now=now)


def sticky_senders_remember(*, deliveries: Sequence[StickyDelivery], now: datetime | None = None) -> None:
    """Remember who delivered each of `deliveries`, in one upsert (a batch of delivery reports). Of two deliveries
    to the same recipient for the same client the later one in the list wins, as one upsert after another would.

    An upsert, so it is safe to repeat. Not audited: a routing hint derived from a recorded delivery.
    """
    now = now or timezone.now()
    # One row per key: PostgreSQL refuses an upsert that would change the same row twice.
    latest = {(delivery.client_ref, delivery.recipient): delivery for delivery in deliveries}
    if not latest:
        return
    StickySender.objects.bulk_create(
        [
            StickySender(
                client_ref=delivery.client_ref,
                recipient=delivery.recipient,
                provider_id=delivery.provider_id,
                sim_id=delivery.sim_id,
                updated_at=now,
            )
            for delivery in latest.values()
        ],
        update_conflicts=True,
        unique_fields=["client_ref", "recipient"],
        update_fields=["provider", "sim", "updated_at"],
    )


def sticky_senders_prune(*, now: datetime | None = None) -> int:
    """Forget sticky senders older than PROVIDER_STICKY_SENDER_DAYS (matching ignores them anyway)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.PROVIDER_STICKY_SENDER_DAYS)
    deleted, _ = StickySender.objects.filter(updated_at__lt=cutoff).delete()
    return deleted
