from django.db import models


class ReportStatus(models.TextChoices):
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class SendError(models.TextChoices):
    """Why a phone could not send, as Android's SmsManager reports it. Retryable ones send the message to another
    provider; final ones fail the message (another phone would fail the same way)."""

    GENERIC_FAILURE = "generic_failure", "Generic failure"
    NO_SERVICE = "no_service", "No service"
    RADIO_OFF = "radio_off", "Radio off"
    NULL_PDU = "null_pdu", "No PDU"
    LIMIT_EXCEEDED = "limit_exceeded", "Sending limit exceeded"
    NETWORK_REJECT = "network_reject", "Rejected by the network"
    INVALID_NUMBER = "invalid_number", "Invalid recipient number"
    INVALID_FORMAT = "invalid_format", "Message format refused"
    OTHER = "other", "Other"
    # The app's answer for a job it acknowledged but never sent (asked about a job whose outcome is unknown, or
    # giving back one it cannot send): another phone may send it.
    NOT_SENT = "not_sent", "Not sent by this phone"


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

    LATE = "late", "Arrived after the lease ended (the message may have gone twice)"
    UNSIGNED = "unsigned", "Not signed with the provider's DID key"
    NO_ACK = "no_ack", "Reported without the job being acknowledged"
    ACK_FOLDED = "ack_folded", "The report acknowledged the offered job too (a phone that sent at once)"
    FAST_DELIVERY = "fast_delivery", "Delivered implausibly soon after the offer"
    DELIVERED_BEFORE_SENT = "delivered_before_sent", "Delivered before it was sent"
    ANSWERED_UNKNOWN = "answered_unknown", "The phone's answer for a job whose lease had ended without a report"


class FraudRule(models.TextChoices):
    """Why a provider was flagged. Strikes count toward automatic suspension; other flags are for staff to read."""

    FAST_DELIVERY = "fast_delivery", "Delivered implausibly fast"
    DELIVERED_BEFORE_SENT = "delivered_before_sent", "Delivered before sent"
    NO_ACK = "no_ack", "Reported without acknowledging the job"
    UNBOUND_DEVICE = "unbound_device", "Report from a device not bound to the provider"
    SHARED_DEVICE = "shared_device", "One phone under several providers"
    SHARED_SIM = "shared_sim", "One SIM number under several providers"
    SUCCESS_OUTLIER = "success_outlier", "Success rate far above the carrier's"
    BURST = "burst", "Burst of deliveries"
    CANARY_MISSED = "canary_missed", "Audit message reported delivered but never arrived"


class CanaryStatus(models.TextChoices):
    PENDING = "pending", "Waiting for delivery"
    CONFIRMED = "confirmed", "Arrived at the audit phone"
    MISSED = "missed", "Reported delivered, never arrived"
    UNDELIVERED = "undelivered", "Not delivered by any provider"
