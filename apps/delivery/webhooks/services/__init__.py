"""Webhook services: endpoints and secrets, events, sending."""

from apps.delivery.webhooks.services.endpoints import (
    webhook_callback_secret_ensure,
    webhook_callback_secret_rotate,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_enable,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
)
from apps.delivery.webhooks.services.events import (
    EVENT_TYPE_BY_STATUS,
    webhook_delivery_resend,
    webhook_event_emit,
    webhook_event_resend,
    webhook_events_emit,
    webhook_events_on_application_decided,
    webhook_events_on_balance_low,
    webhook_events_on_status_changed,
    webhook_events_on_statuses_changed,
    webhook_events_prune,
)
from apps.delivery.webhooks.services.sending import (
    retry_delay_seconds,
    webhook_deliveries_sweep,
    webhook_delivery_send,
    webhook_target_send_due,
)

__all__ = [
    "EVENT_TYPE_BY_STATUS",
    "retry_delay_seconds",
    "webhook_callback_secret_ensure",
    "webhook_callback_secret_rotate",
    "webhook_deliveries_sweep",
    "webhook_delivery_resend",
    "webhook_delivery_send",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_endpoint_enable",
    "webhook_endpoint_rotate_secret",
    "webhook_endpoint_update",
    "webhook_event_emit",
    "webhook_event_resend",
    "webhook_events_emit",
    "webhook_events_on_application_decided",
    "webhook_events_on_balance_low",
    "webhook_events_on_status_changed",
    "webhook_events_on_statuses_changed",
    "webhook_events_prune",
    "webhook_target_send_due",
]
