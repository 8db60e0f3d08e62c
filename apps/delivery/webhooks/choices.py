from django.db import models
from django.utils.translation import gettext_lazy as _


class WebhookEventType(models.TextChoices):
    """What a client can subscribe to: a message reaching one of the statuses it cares about, or a top-up ending."""

    MESSAGE_SENT = "message.sent", _("Message sent")
    MESSAGE_DELIVERED = "message.delivered", _("Message delivered")
    MESSAGE_FAILED = "message.failed", _("Message failed")
    MESSAGE_EXPIRED = "message.expired", _("Message expired")
    MESSAGE_REJECTED = "message.rejected", _("Message rejected")
    # The phone took the message and never said whether it sent it: final, not sent again, not charged.
    MESSAGE_UNKNOWN = "message.unknown", _("Message outcome unknown")
    PAYMENT_SUCCEEDED = "payment.succeeded", _("Top-up paid")
    PAYMENT_FAILED = "payment.failed", _("Top-up failed or expired")
    BALANCE_LOW = "balance.low", _("Spendable PPT fell under the threshold")
    # A recipient answered one of the client's messages (forwarded by the phone whose SIM sent it).
    INBOUND_RECEIVED = "inbound.received", _("Reply received")
    # Staff decided the organisation's application to leave the sandbox (docs/sandbox.md).
    CLIENT_APPLICATION_DECIDED = "client.application.decided", _("Sandbox application decided")


class DeliveryTarget(models.TextChoices):
    """Where a delivery goes: one of the client's registered endpoints, or the message's own callback URL."""

    ENDPOINT = "endpoint", _("Webhook endpoint")
    CALLBACK_URL = "callback_url", _("Message callback URL")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed (gave up)")
    CANCELLED = "cancelled", _("Cancelled")


class AttemptOutcome(models.TextChoices):
    """How one HTTP request went. Only `succeeded` (a 2xx answer) ends a delivery; everything else is retried."""

    SUCCEEDED = "succeeded", _("Succeeded (2xx)")
    HTTP_ERROR = "http_error", _("Answered, not 2xx")
    TIMEOUT = "timeout", _("Timed out")
    CONNECTION_ERROR = "connection_error", _("Connection failed")
    ADDRESS_REFUSED = "address_refused", _("Address refused (private or not allowed)")
