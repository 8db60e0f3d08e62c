"""Webhook tasks: thin, take ids, safe to run twice (the services claim work with conditional updates)."""

import time

from celery import shared_task

from apps.core.locks import distributed_lock
from apps.delivery.webhooks.services import (
    webhook_deliveries_sweep,
    webhook_delivery_send,
    webhook_events_prune,
    webhook_target_send_due,
)
from apps.delivery.webhooks.services.events import PRUNE_BATCH

# The prune stops after this long and carries on at its next run, well inside the task time limits.
PRUNE_SECONDS = 120


@shared_task(name="delivery.webhook_send")
def webhook_send(delivery_id: int) -> str:
    """One attempt of one delivery, if it is due; the service schedules the next one."""
    return webhook_delivery_send(delivery_id=delivery_id)


@shared_task(name="delivery.webhook_send_target")
def webhook_send_target(endpoint_id: int | None, url: str = "") -> dict[str, int]:
    """The due deliveries of one endpoint (or, `endpoint_id` None, one callback URL), one attempt each."""
    return webhook_target_send_due(endpoint_id=endpoint_id, url=url)


@shared_task(name="delivery.webhook_sweep")
def webhook_sweep() -> int:
    with distributed_lock("delivery.webhook_sweep", ttl=120) as acquired:
        return webhook_deliveries_sweep() if acquired else 0


@shared_task(name="delivery.webhook_prune")
def webhook_prune() -> int:
    deleted = 0
    with distributed_lock("delivery.webhook_prune", ttl=PRUNE_SECONDS + 60) as acquired:
        started = time.monotonic()
        while acquired and time.monotonic() - started < PRUNE_SECONDS:
            batch = webhook_events_prune()
            deleted += batch
            if batch < PRUNE_BATCH:
                break
    return deleted
