"""Client message API shapes."""

import re
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.fields import empty

from apps.accounts.api.fields import PhoneNumberField
from apps.accounts.phone import PHONE_MAX_LENGTH, normalize_phone
from apps.core.errors import FieldErrors
from apps.core.serializer_fields import StrictBooleanField, StrictCharField, StrictURLField
from apps.messaging.choices import MessageStatus, Priority
from apps.messaging.representation import MessageOutputSerializer
from apps.messaging.validation import validate_body

BODY_MAX_LENGTH = 2000
REFERENCE_MAX_LENGTH = 100


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": BODY_MAX_LENGTH,
        "pattern": r"\S",
        "description": "The SMS text, with at least one visible character. It can still be refused: "
        "`body_control_characters`, `body_invalid_unicode`, `body_too_many_segments` (over MESSAGE_MAX_SEGMENTS).",
    }
)
class MessageBodyField(StrictCharField):
    """An empty body is let through to the service, which answers `body_empty` (as for a body of spaces), without
    being declared blank-able: the schema says a body has a visible character."""

    def run_validation(self, data: Any = empty) -> Any:
        if data == "":
            return data
        return super().run_validation(data)


class MessageInputSerializer(serializers.Serializer):
    to = PhoneNumberField()
    body = MessageBodyField(max_length=BODY_MAX_LENGTH, trim_whitespace=False)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    reference = StrictCharField(max_length=REFERENCE_MAX_LENGTH, required=False, allow_blank=True, default="")
    callback_url = StrictURLField(max_length=500, required=False, allow_blank=True, default="")
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    validity_seconds = serializers.IntegerField(
        min_value=60, max_value=settings.MESSAGE_VALIDITY_MAX_SECONDS, required=False, allow_null=True, default=None
    )
    sensitive = StrictBooleanField(
        required=False,
        default=False,
        help_text="A one-time code or banking message: sent only by PeerPower's trusted phones, kept sealed, at a "
        "higher price (MESSAGE_SENSITIVE_PRICE_BP of the ordinary one).",
    )


def message_input_data(data: Any) -> dict:
    """`MessageInputSerializer(data=data)`'s validated data, from one serializer built once: building a serializer's
    fields for every message cost several times the validation itself (~0.14 ms against ~0.02 ms, per single send
    and per bulk item). Validation keeps no state on the serializer, so one instance serves every request.

    Refused, it raises `InvalidFields` naming every wrong field: the serializer's errors, and the recipient's and
    the body's own checks (which the service runs on a valid request) for those the serializer let through."""
    plain = _plain_input(data)
    if plain is not None:
        return plain
    try:
        return _MESSAGE_INPUT.run_validation(data)
    except ValidationError:
        # Refused: a serializer of its own names the errors, exactly as is_valid() always has.
        serializer = MessageInputSerializer(data=data)
        serializer.is_valid()
        errors = FieldErrors(ValidationError(serializer.errors).get_full_details())
    # Only a refused request gets here, so checking the number and the text once more costs nothing on success.
    if isinstance(data, dict):
        if isinstance(data.get("to"), str) and "to" not in errors.fields:
            with errors.field("to"):
                normalize_phone(data["to"])
        if isinstance(data.get("body"), str) and "body" not in errors.fields:
            with errors.field("body"):
                validate_body(data["body"])
    raise errors.exception()


_MESSAGE_INPUT = MessageInputSerializer()
# The fields a plain item may carry (`_plain_input`), and the defaults of the others as the serializer fills them in.
_PLAIN_FIELDS = frozenset({"to", "body", "priority", "reference"})
_DEFAULTS = {name: field.default for name, field in _MESSAGE_INPUT.fields.items() if name not in ("to", "body")}
# What DRF's CharField refuses in any text: NUL, and lone surrogates (which no database can store).
_REFUSED_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


def _plain_input(data: Any) -> dict | None:
    """The serializer's validated data for the common item — a JSON object with string `to` and `body`, and at most a
    `priority` named exactly as a choice and a string `reference` — checked directly; None for anything else, which
    the serializer judges. Per message, DRF's generic field loop cost about as much as every other check of a bulk
    item together (~15 µs). A test holds this equal to the serializer on valid, borderline and refused items."""
    if type(data) is not dict or not _PLAIN_FIELDS.issuperset(data):
        return None
    to, body = data.get("to"), data.get("body")
    if type(to) is not str or type(body) is not str:
        return None
    to = to.strip()  # the field trims, then checks the length of what is left
    if not to or len(to) > PHONE_MAX_LENGTH or len(body) > BODY_MAX_LENGTH:
        return None
    if _REFUSED_CHARACTERS.search(to) or _REFUSED_CHARACTERS.search(body):
        return None
    plain = {"to": to, "body": body, **_DEFAULTS}
    if "priority" in data:
        priority = data["priority"]
        if type(priority) is not str or priority not in _PRIORITIES:
            return None
        plain["priority"] = _PRIORITIES[priority]
    if "reference" in data:
        reference = data["reference"]
        if type(reference) is not str:
            return None
        reference = reference.strip()
        if len(reference) > REFERENCE_MAX_LENGTH or _REFUSED_CHARACTERS.search(reference):
            return None
        plain["reference"] = reference
    return {name: plain[name] for name in _MESSAGE_INPUT.fields}  # in the serializer's order


_PRIORITIES = _MESSAGE_INPUT.fields["priority"].choice_strings_to_values


class BulkInputSerializer(serializers.Serializer):
    # Items are validated one by one by the service, so one bad item does not refuse the others.
    messages = serializers.ListField(
        child=serializers.DictField(), min_length=1, max_length=settings.MESSAGE_BULK_MAX, allow_empty=False
    )


def bulk_input_messages(data: Any) -> list:
    """`BulkInputSerializer(data=data)`'s validated `messages` (ValidationError when refused). A parsed JSON body
    whose `messages` is a list of 1 to MESSAGE_BULK_MAX objects is taken as it is: the serializer would give back
    each item as an equal dict (its DictField keeps every value as it is, keys as strings, which JSON's are), after
    a generic call per value that cost about a µs and a half per item. Anything else goes through the serializer. A
    test holds the two equal."""
    if type(data) is dict:
        messages = data.get("messages")
        if (
            type(messages) is list
            and 1 <= len(messages) <= settings.MESSAGE_BULK_MAX
            and all(type(item) is dict and all(type(key) is str for key in item) for item in messages)
        ):
            return messages
    serializer = BulkInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["messages"]


class BulkItemOutputSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    ok = StrictBooleanField()
    message = MessageOutputSerializer(required=False)
    error = serializers.DictField(required=False, help_text="{code, message, details} as for a single request.")


class BulkOutputSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    refused = serializers.IntegerField()
    results = BulkItemOutputSerializer(many=True)


class MessageFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=MessageStatus.choices, required=False)
    reference = StrictCharField(max_length=REFERENCE_MAX_LENGTH, required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
