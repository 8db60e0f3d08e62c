from django.db import models


class WebhookEventType(models.TextChoices):
    """What a client can subscribe to: a message reaching one of the statuses it cares about, or a top-up ending."""

    MESSAGE_SENT = "message.sent", "Message sent"
    MESSAGE_DELIVERED = "message.delivered", "Message delivered"
    MESSAGE_FAILED = "message.failed", "Message failed"
    MESSAGE_EXPIRED = "message.expired", "Message expired"
    MESSAGE_REJECTED = "message.rejected", "Message rejected"
    # The phone took the message and never said whether it sent it: final, not sent again, not charged.
    MESSAGE_UNKNOWN = "message.unknown", "Message outcome unknown"
    PAYMENT_SUCCEEDED = "payment.succeeded", "Top-up paid"
    PAYMENT_FAILED = "payment.failed", "Top-up failed or expired"
    BALANCE_LOW = "balance.low", "Spendable PPT fell under the threshold"
    # A recipient answered one of the client's messages (forwarded by the phone whose SIM sent it).
    INBOUND_RECEIVED = "inbound.received", "Reply received"
    # Staff decided the organisation's application to leave the sandbox (docs/sandbox.md).
    CLIENT_APPLICATION_DECIDED = "client.application.decided", "Sandbox application decided"


class DeliveryTarget(models.TextChoices):
    """Where a delivery goes: one of the client's registered endpoints, or the message's own callback URL."""

    ENDPOINT = "endpoint", "Webhook endpoint"
    CALLBACK_URL = "callback_url", "Message callback URL"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed (gave up)"
    CANCELLED = "cancelled", "Cancelled"


class AttemptOutcome(models.TextChoices):
    """How one HTTP request went. Only `succeeded` (a 2xx answer) ends a delivery; everything else is retried."""

    SUCCEEDED = "succeeded", "Succeeded (2xx)"
    HTTP_ERROR = "http_error", "Answered, not 2xx"
    TIMEOUT = "timeout", "Timed out"
    CONNECTION_ERROR = "connection_error", "Connection failed"
    ADDRESS_REFUSED = "address_refused", "Address refused (private or not allowed)"
