"""Retention of delivery's records (docs/privacy.md): delivery reports are deleted DELIVERY_REPORT_RETENTION_DAYS
after they arrived, in bounded batches; webhook events are pruned by their own task (WEBHOOK_EVENT_RETENTION_DAYS),
and lose the recipient's number as soon as retention erases it from the message."""

import json
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.delivery.models import DeliveryReport
from apps.delivery.webhooks.models import WebhookEvent
from apps.messaging.retention import MessagesRedacted


def delivery_reports_prune_batch(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Delete up to `batch_size` reports received before the retention window. Returns how many."""
    now = now or timezone.now()
    batch_size = batch_size or settings.RETENTION_BATCH_SIZE
    cutoff = now - timedelta(days=settings.DELIVERY_REPORT_RETENTION_DAYS)
    # By id: ids grow with time, so the oldest reports are the first rows of the primary key's index.
    ids = list(
        DeliveryReport.objects.filter(received_at__lt=cutoff).order_by("pk").values_list("pk", flat=True)[:batch_size]
    )
    if ids:
        with transaction.atomic():
            DeliveryReport.objects.filter(pk__in=ids).delete()
    return len(ids)


def webhook_events_on_messages_redacted(event: MessagesRedacted) -> None:
    """Erase the recipient from the stored payloads of the redacted messages' events (in retention's transaction).
    A delivery still pending sends the payload as it now is, with `"to": null`."""
    for webhook_event in WebhookEvent.objects.filter(message_id__in=event.message_ids).only("pk", "body"):
        payload = json.loads(webhook_event.body)
        message = (payload.get("data") or {}).get("message")
        if isinstance(message, dict) and message.get("to"):
            message["to"] = None
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
            WebhookEvent.objects.filter(pk=webhook_event.pk).update(body=body)
