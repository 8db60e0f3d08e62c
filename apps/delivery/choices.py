from django.db import models
from django.utils.translation import gettext_lazy as _


class ReportStatus(models.TextChoices):
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class Unsettled(models.TextChoices):
    """What a `delivered` report leaves to the settle step (`apps.delivery.settling`); empty once settled (and for
    every other report). `delivery`: the report delivered its message — the client's hold is captured and the
    provider's reward booked too; `outcome`: it did not move its message (answered an unknown job, or the message was
    final already) — only the day's stats, reputation and sticky sender."""

    DELIVERY = "delivery", _("Hold capture, reward and outcome")
    OUTCOME = "outcome", _("Outcome only")


class SendError(models.TextChoices):
    """Why a phone could not send, as Android's SmsManager reports it. Retryable ones send the message to another
    provider; final ones fail the message (another phone would fail the same way)."""

    GENERIC_FAILURE = "generic_failure", _("Generic failure")
    NO_SERVICE = "no_service", _("No service")
    RADIO_OFF = "radio_off", _("Radio off")
    NULL_PDU = "null_pdu", _("No PDU")
    LIMIT_EXCEEDED = "limit_exceeded", _("Sending limit exceeded")
    NETWORK_REJECT = "network_reject", _("Rejected by the network")
    INVALID_NUMBER = "invalid_number", _("Invalid recipient number")
    INVALID_FORMAT = "invalid_format", _("Message format refused")
    OTHER = "other", _("Other")
    # The app's answer for a job it acknowledged but never sent (asked about a job whose outcome is unknown, or
    # giving back one it cannot send): another phone may send it.
    NOT_SENT = "not_sent", _("Not sent by this phone")


RETRYABLE_SEND_ERRORS = frozenset(
    {
        SendError.GENERIC_FAILURE,
        SendError.NO_SERVICE,
        SendError.RADIO_OFF,
        SendError.NULL_PDU,
        SendError.LIMIT_EXCEEDED,
        SendError.NETWORK_REJECT,
        SendError.OTHER,
        SendError.NOT_SENT,
    }
)


class ReportFlag(models.TextChoices):
    """What was odd about a report; anti-fraud rules read these."""

    LATE = "late", _("Arrived after the lease ended (the message may have gone twice)")
    UNSIGNED = "unsigned", _("Not signed with the provider's DID key")
    NO_ACK = "no_ack", _("Reported without the job being acknowledged")
    ACK_FOLDED = "ack_folded", _("The report acknowledged the offered job too (a phone that sent at once)")
    FAST_DELIVERY = "fast_delivery", _("Delivered implausibly soon after the offer")
    DELIVERED_BEFORE_SENT = "delivered_before_sent", _("Delivered before it was sent")
    ANSWERED_UNKNOWN = "answered_unknown", _("The phone's answer for a job whose lease had ended without a report")


class FraudRule(models.TextChoices):
    """Why a provider was flagged. Strikes count toward automatic suspension; other flags are for staff to read."""

    FAST_DELIVERY = "fast_delivery", _("Delivered implausibly fast")
    DELIVERED_BEFORE_SENT = "delivered_before_sent", _("Delivered before sent")
    NO_ACK = "no_ack", _("Reported without acknowledging the job")
    UNBOUND_DEVICE = "unbound_device", _("Report from a device not bound to the provider")
    SHARED_DEVICE = "shared_device", _("One phone under several providers")
    SHARED_SIM = "shared_sim", _("One SIM number under several providers")
    SUCCESS_OUTLIER = "success_outlier", _("Success rate far above the carrier's")
    BURST = "burst", _("Burst of deliveries")
    CANARY_MISSED = "canary_missed", _("Audit message reported delivered but never arrived")


class CanaryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for delivery")
    CONFIRMED = "confirmed", _("Arrived at the audit phone")
    MISSED = "missed", _("Reported delivered, never arrived")
    UNDELIVERED = "undelivered", _("Not delivered by any provider")
