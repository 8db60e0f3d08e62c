"""Domain errors of messaging. Each has a stable `code` the client API returns; the send API only raises them."""

from django.utils.translation import gettext_lazy as _

from apps.core.errors import Unprocessable, ValidationFailed


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
