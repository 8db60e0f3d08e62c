"""Delivery's part of a message's timeline (apps.messaging.timeline): the phones' reports and the client's webhook
deliveries with each attempt. Registered in DeliveryConfig.ready."""

from collections.abc import Iterable

from apps.delivery.models import DeliveryReport
from apps.delivery.webhooks.models import WebhookAttempt, WebhookEvent
from apps.messaging.models import Message
from apps.messaging.timeline import TimelineEntry


def report_entries(message: Message) -> Iterable[TimelineEntry]:
    reports = DeliveryReport.objects.filter(job__message_id=message.pk).order_by("received_at", "id")
    for report in reports:
        detail = f"job {report.job_id}, phone says {report.occurred_at:%H:%M:%S}"
        if report.error_code:
            detail += f", error {report.error_code}"
        if not report.applied:
            detail += ", not applied"
        yield TimelineEntry(report.received_at, "report", f"report: {report.status}", detail)


def webhook_entries(message: Message) -> Iterable[TimelineEntry]:
    for event in WebhookEvent.objects.filter(message_id=message.pk).order_by("created_at", "id"):
        yield TimelineEntry(event.created_at, "webhook", f"event {event.type}", event.public_id)
    attempts = WebhookAttempt.objects.filter(delivery__event__message_id=message.pk).select_related("delivery__event")
    for attempt in attempts.order_by("started_at", "id"):
        answer = str(attempt.status_code) if attempt.status_code else attempt.error
        yield TimelineEntry(
            attempt.started_at,
            "webhook",
            f"{attempt.delivery.event.type} attempt {attempt.number}: {attempt.outcome}",
            f"{attempt.url} → {answer} in {attempt.latency_ms} ms",
        )
