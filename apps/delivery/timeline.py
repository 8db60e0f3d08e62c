"""Delivery's part of a message's timeline (apps.messaging.timeline): the phones' reports and the client's webhook
deliveries with each attempt. Registered in DeliveryConfig.ready."""

from collections.abc import Iterable

from django.utils.translation import gettext as _

from apps.delivery.models import DeliveryReport
from apps.delivery.webhooks.models import WebhookAttempt, WebhookEvent
from apps.messaging.models import Message
from apps.messaging.timeline import TimelineEntry


def report_entries(message: Message) -> Iterable[TimelineEntry]:
    reports = DeliveryReport.objects.filter(job__message_id=message.pk).order_by("received_at", "id")
    for report in reports:
        detail = _("job %(job)s, phone says %(time)s") % {
            "job": report.job_id,
            "time": f"{report.occurred_at:%H:%M:%S}",
        }
        if report.error_code:
            detail += ", " + _("error %(code)s") % {"code": report.error_code}
        if not report.applied:
            detail += ", " + _("not applied")
        what = _("report: %(status)s") % {"status": report.get_status_display()}
        yield TimelineEntry(report.received_at, "report", what, detail)


def webhook_entries(message: Message) -> Iterable[TimelineEntry]:
    for event in WebhookEvent.objects.filter(message_id=message.pk).order_by("created_at", "id"):
        yield TimelineEntry(event.created_at, "webhook", _("event %(type)s") % {"type": event.type}, event.public_id)
    attempts = WebhookAttempt.objects.filter(delivery__event__message_id=message.pk).select_related("delivery__event")
    for attempt in attempts.order_by("started_at", "id"):
        answer = str(attempt.status_code) if attempt.status_code else attempt.error
        yield TimelineEntry(
            attempt.started_at,
            "webhook",
            _("%(type)s attempt %(number)s: %(outcome)s")
            % {"type": attempt.delivery.event.type, "number": attempt.number, "outcome": attempt.get_outcome_display()},
            _("%(url)s → %(answer)s in %(ms)s ms") % {"url": attempt.url, "answer": answer, "ms": attempt.latency_ms},
        )
