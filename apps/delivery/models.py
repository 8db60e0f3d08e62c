"""The delivery app's models. Each part of the app keeps its models in its own package; they are imported here,
where Django looks for them."""

from apps.delivery.webhooks.models import (
    WebhookAttempt,
    WebhookCallbackSecret,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = ["WebhookAttempt", "WebhookCallbackSecret", "WebhookDelivery", "WebhookEndpoint", "WebhookEvent"]
