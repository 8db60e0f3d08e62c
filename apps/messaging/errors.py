"""Domain errors of messaging. Each has a stable `code` the client API returns; the send API only raises them."""

from django.utils.translation import gettext_lazy as _

from apps.core.errors import (
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unprocessable,
    ValidationFailed,
)


class BodyEmpty(ValidationFailed):
    code = "body_empty"
    default_message = _("The message body is empty.")


class BodyControlCharacters(ValidationFailed):
    code = "body_control_characters"
    default_message = _("The message body contains control characters; only line breaks are allowed.")


class BodyInvalidUnicode(ValidationFailed):
    code = "body_invalid_unicode"
    default_message = _("The message body is not valid Unicode text.")


class BodyTooManySegments(ValidationFailed):
    code = "body_too_many_segments"
    default_message = _("The message body is too long: it needs more SMS segments than allowed.")


class RecipientOptedOut(Unprocessable):
    code = "recipient_opted_out"
    default_message = _("The recipient has opted out of messages from the PeerPower network.")


class RecipientBlocked(Unprocessable):
    code = "recipient_blocked"
    default_message = _("Messages to this recipient are blocked.")


class IllegalTransition(Conflict):
    code = "illegal_transition"
    default_message = _("The message cannot move to that status from where it is.")


class IllegalJobTransition(IllegalTransition):
    """A job (lease) move its state machine does not allow (`apps.messaging.job_state`)."""

    code = "illegal_job_transition"
    default_message = _("The job cannot move to that status from where it is.")


class MessageNotCancellable(Conflict):
    code = "message_not_cancellable"
    default_message = _("The message can no longer be cancelled: it has been sent or has finished.")


class MessageRedacted(Conflict):
    code = "message_redacted"
    default_message = _("The message's text was erased under the retention policy: it cannot be sent again.")


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    default_message = _("This Idempotency-Key was already used with a different request.")


class IdempotencyKeyInvalid(ValidationFailed):
    code = "idempotency_key_invalid"
    default_message = _("The Idempotency-Key header must be 1 to 255 printable characters.")


class ContentRejected(Unprocessable):
    code = "content_rejected"
    default_message = _("The message was refused by the content filter.")


class ClientBlocked(PermissionDenied):
    code = "client_blocked"
    default_message = _("This client account is blocked from sending messages.")


class ScheduleInvalid(ValidationFailed):
    code = "schedule_invalid"
    default_message = _("scheduled_at must be in the future and before the message's validity ends.")


class DailyQuotaExceeded(RateLimited):
    code = "daily_quota_exceeded"
    default_message = _("This API key has reached its daily message limit.")


class JobNotFound(NotFound):
    code = "job_not_found"
    default_message = _("No such job for this provider.")


class LeaseExpired(Conflict):
    code = "lease_expired"
    default_message = _("This job's lease has ended; it may have gone to another provider.")


class VerificationCodeUnknown(NotFound):
    code = "verification_code_unknown"
    default_message = _("No message sent through PeerPower carries this code. Treat the SMS with suspicion.")


class JobNotResolvable(Conflict):
    code = "job_not_resolvable"
    default_message = _("Only a job the phone acknowledged and has not reported on can be resolved by staff.")


class InsufficientBalance(DomainError):
    """The client's PPT (plus its credit limit) does not cover the message's hold. `details.shortfall` is what is
    missing, in 10⁻⁶ PPT (`details.shortfall_ppt` as a decimal string): top up at least that much."""

    status_code = 402
    code = "insufficient_balance"
    default_message = _("Your PPT balance is too low to send this message; top up and try again.")


class Overloaded(RateLimited):
    """Admission control (apps.messaging.services.admission): the network's backlog is beyond what its phones and
    reports can absorb now. Nothing was stored; retry after `retry_after` seconds."""

    code = "overloaded"
    default_message = _("The network is busy: it cannot take more messages right now. Try again after Retry-After.")


class SandboxRecipientNotVerified(PermissionDenied):
    code = "sandbox_recipient_not_verified"
    default_message = _(
        "Your organisation is in the sandbox: it can send only to its members' own numbers until it is approved."
    )


class SandboxDailyCapReached(RateLimited):
    code = "sandbox_daily_cap_reached"
    default_message = _("Your organisation is in the sandbox and has sent its messages for today.")


class OrganizationQuotaExceeded(RateLimited):
    code = "organization_daily_quota_exceeded"
    default_message = _("Your organisation has reached its plan's daily message limit.")
