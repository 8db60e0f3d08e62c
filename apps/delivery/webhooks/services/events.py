"""Events: emitted when a message reaches a status clients hear about (or another app reports a top-up); resent by
staff; pruned when old."""

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from apps.accounts.events import ClientApplicationDecided
from apps.delivery.metrics import WEBHOOK_EVENTS
from apps.delivery.webhooks.choices import DeliveryStatus, DeliveryTarget, WebhookEventType
from apps.delivery.webhooks.errors import WebhookEndpointNotEnabled
from apps.delivery.webhooks.models import WebhookDelivery, WebhookEvent
from apps.delivery.webhooks.selectors import webhook_targets_of
from apps.delivery.webhooks.services.endpoints import audit
from apps.delivery.webhooks.services.sending import deliveries_enqueue, deliveries_signal
from apps.messaging.choices import MessageStatus
from apps.messaging.events import BalanceLow, MessagesStatusChanged, MessageStatusChanged
from apps.messaging.models import Message
from apps.messaging.representation import message_output
from apps.tokens.choices import LEDGER_SCALES, LedgerCode
from apps.tokens.selectors import amount_decimal

EVENT_TYPE_BY_STATUS: dict[str, str] = {
    MessageStatus.SENT: WebhookEventType.MESSAGE_SENT,
    MessageStatus.DELIVERED: WebhookEventType.MESSAGE_DELIVERED,
    MessageStatus.FAILED: WebhookEventType.MESSAGE_FAILED,
    MessageStatus.EXPIRED: WebhookEventType.MESSAGE_EXPIRED,
    MessageStatus.REJECTED: WebhookEventType.MESSAGE_REJECTED,
    MessageStatus.UNKNOWN: WebhookEventType.MESSAGE_UNKNOWN,
}
PRUNE_BATCH = 1000
PPT_SCALE = LEDGER_SCALES[LedgerCode.PPT]


def _event_body(*, public_id: str, event_type: str, created_at: datetime, data: dict[str, Any]) -> str:
    """The JSON every attempt posts: the event's id, type and time, and its subject as the client API shows it."""
    payload = {
        "id": public_id,
        "type": event_type,
        "created_at": serializers.DateTimeField().to_representation(created_at),
        "data": data,
    }
    return json.dumps(payload, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def webhook_events_emit(*, message: Message, status: str) -> WebhookEvent | None:
    """Tell the message's client that it reached `status`: store the event and one delivery per enabled endpoint
    subscribed to its type, plus one to the message's callback URL, and signal the sender after commit.

    Called for `MessageStatusChanged` (`webhook_events_on_status_changed`), inside the transaction of the message's
    move, right after the status changed, with the message as it now is; nothing is sent until that transaction
    commits, and nothing is stored if it rolls back. Statuses without an event type, and clients nobody listens
    for, cost one cache read. Returns the event, or None when there was nobody to tell.
    """
    return webhook_events_emit_many(messages=[message], status=status)[0]


def webhook_events_emit_many(*, messages: list[Message], status: str) -> list[WebhookEvent | None]:
    """`webhook_events_emit` for several messages that reached `status` together (a bulk move: a phone's batch of
    reports), one result per message: their events in one INSERT and all their deliveries in one more."""
    event_type = EVENT_TYPE_BY_STATUS.get(status)
    if event_type is None:
        return [None] * len(messages)
    return _events_store(
        [
            _Subject(
                organization_id=message.organization_id,
                data=lambda message=message: {"message": message_output(message)},
                message_id=message.pk,
                callback_url=message.callback_url,
            )
            for message in messages
        ],
        event_type=event_type,
    )


def webhook_event_emit(*, organization_id: int, event_type: str, data: dict[str, Any]) -> WebhookEvent | None:
    """Tell a client organisation about something other than a message (a top-up's `payment.succeeded` /
    `payment.failed`): stored and sent like message events, to its endpoints subscribed to `event_type`. Call it
    inside the transaction of the change it reports; None when nobody listens."""
    return _events_store([_Subject(organization_id=organization_id, data=lambda: data)], event_type=event_type)[0]


@dataclass(frozen=True)
class _Subject:
    """What one event is about: its client, its data (built only when someone listens: building a message's
    representation for a client without endpoints would cost the hot path for nothing), its message and the
    message's callback URL."""

    organization_id: int
    data: Callable[[], dict[str, Any]]
    message_id: int | None = None
    callback_url: str = ""


def _events_store(subjects: list[_Subject], *, event_type: str) -> list[WebhookEvent | None]:
    """Store the events of `event_type` and their deliveries: one INSERT for the events and one for the deliveries,
    however many; None for a subject nobody listens for."""
    targets_of: dict[int, list[Any]] = {}
    for subject in subjects:
        if subject.organization_id not in targets_of:
            targets_of[subject.organization_id] = [
                t for t in webhook_targets_of(organization_id=subject.organization_id) if event_type in t.event_types
            ]
    heard = [subject for subject in subjects if targets_of[subject.organization_id] or subject.callback_url]
    if not heard:
        return [None] * len(subjects)
    now = timezone.now()
    retry_until = now + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS)
    events: dict[int, WebhookEvent] = {}
    for subject in heard:
        public_id = f"evt_{secrets.token_hex(12)}"
        events[id(subject)] = WebhookEvent(
            public_id=public_id,
            organization_id=subject.organization_id,
            message_id=subject.message_id,
            type=event_type,
            created_at=now,
            body=_event_body(public_id=public_id, event_type=event_type, created_at=now, data=subject.data()),
        )
    # Joins the caller's transaction if there is one (no savepoint on the hot path); commits both inserts otherwise.
    with transaction.atomic(savepoint=False):
        WebhookEvent.objects.bulk_create(list(events.values()))
        deliveries = []
        for subject in heard:
            event = events[id(subject)]
            deliveries += [
                WebhookDelivery(
                    event=event,
                    target=DeliveryTarget.ENDPOINT,
                    endpoint_id=target.id,
                    url=target.url,
                    next_attempt_at=now,
                    retry_until=retry_until,
                    created_at=now,
                )
                for target in targets_of[subject.organization_id]
            ]
            if subject.callback_url:
                deliveries.append(
                    WebhookDelivery(
                        event=event,
                        target=DeliveryTarget.CALLBACK_URL,
                        url=subject.callback_url,
                        next_attempt_at=now,
                        retry_until=retry_until,
                        created_at=now,
                    )
                )
        WebhookDelivery.objects.bulk_create(deliveries)
    count = len(events)
    transaction.on_commit(lambda: WEBHOOK_EVENTS.labels(type=event_type).inc(count))
    deliveries_signal(deliveries)
    return [events.get(id(subject)) for subject in subjects]


def webhook_events_on_status_changed(event: MessageStatusChanged) -> None:
    """The subscriber to messaging's `MessageStatusChanged` (registered in `DeliveryConfig.ready`)."""
    webhook_events_emit(message=event.message, status=event.status)


def webhook_events_on_statuses_changed(event: MessagesStatusChanged) -> None:
    """The subscriber to messaging's `MessagesStatusChanged` (a bulk move): each message's event, stored together."""
    webhook_events_emit_many(messages=event.messages, status=event.status)


def webhook_events_on_balance_low(event: BalanceLow) -> None:
    """The subscriber to messaging's `BalanceLow` (registered in `DeliveryConfig.ready`): a `balance.low` event."""
    webhook_event_emit(
        organization_id=event.organization_id,
        event_type=WebhookEventType.BALANCE_LOW,
        data={
            "balance": {
                "spendable": {"amount": event.spendable, "decimal": amount_decimal(event.spendable, PPT_SCALE)},
                "threshold": {"amount": event.threshold, "decimal": amount_decimal(event.threshold, PPT_SCALE)},
            }
        },
    )


def webhook_events_on_application_decided(event: ClientApplicationDecided) -> None:
    """The subscriber to accounts' `ClientApplicationDecided`: a `client.application.decided` event."""
    webhook_event_emit(
        organization_id=event.organization_id,
        event_type=WebhookEventType.CLIENT_APPLICATION_DECIDED,
        data={"application": {"status": event.status, "staff_note": event.note}},
    )


def webhook_delivery_resend(*, delivery: WebhookDelivery, actor: Any, now: datetime | None = None) -> WebhookDelivery:
    """Staff: send a delivery again, whatever became of it, with a fresh retry window. Refused (409) when its
    endpoint is switched off, disabled or deleted: re-enable the endpoint first."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        endpoint = delivery.endpoint
        if delivery.target == DeliveryTarget.ENDPOINT and (endpoint is None or not endpoint.is_enabled):
            raise WebhookEndpointNotEnabled(details={"delivery": delivery.pk, "endpoint": delivery.endpoint_id})
        before = {"status": delivery.status, "attempts": delivery.attempt_count}
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.PENDING,
            status_reason="resent",
            next_attempt_at=now,
            retry_until=now + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS),
        )
        audit(
            actor=actor, action="webhook_delivery.resent", target=delivery, before=before, after={"status": "pending"}
        )
        deliveries_enqueue([delivery.pk])
    delivery.refresh_from_db()
    return delivery


def webhook_event_resend(*, event: WebhookEvent, actor: Any, now: datetime | None = None) -> int:
    """Staff: resend an event to each of its targets that can still take it. Returns how many were resent."""
    resent = 0
    for delivery in event.deliveries.all():
        try:
            webhook_delivery_resend(delivery=delivery, actor=actor, now=now)
        except WebhookEndpointNotEnabled:
            continue
        resent += 1
    return resent


def webhook_events_prune(*, now: datetime | None = None) -> int:
    """Delete events older than WEBHOOK_EVENT_RETENTION_DAYS (with their deliveries and attempts), except those
    still owed to someone. One batch per call; returns how many events were deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.WEBHOOK_EVENT_RETENTION_DAYS)
    with transaction.atomic():
        ids = list(
            WebhookEvent.objects.filter(created_at__lt=cutoff)
            .exclude(deliveries__status=DeliveryStatus.PENDING)
            .order_by("created_at")
            .values_list("pk", flat=True)[:PRUNE_BATCH]
        )
        WebhookEvent.objects.filter(pk__in=ids).delete()
    return len(ids)
