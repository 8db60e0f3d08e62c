"""Sticky senders: the provider who last delivered to a recipient for a client is tried first next time (the
recipient sees the same sender number)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from apps.providers.models import StickySender


def sticky_sender_remember(
    *, client_ref: str, recipient: str, provider_id: int, sim_id: int, now: datetime | None = None
) -> None:
    """Remember who delivered to `recipient` for `client_ref` (messaging calls this on a confirmed delivery).

    An upsert, so it is safe to repeat. Not audited: a routing hint derived from a recorded delivery.
    """
    StickySender.objects.bulk_create(
        [
            StickySender(
                client_ref=client_ref,
                recipient=recipient,
                provider_id=provider_id,
                sim_id=sim_id,
                updated_at=now or timezone.now(),
            )
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
