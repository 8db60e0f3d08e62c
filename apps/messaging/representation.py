"""A message as clients see it: the one outward representation, shared by the client API's answers and the webhook
payload (`apps.delivery.webhooks`), so the two never drift apart. Delivery uses it from here, not from `api/`."""

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from apps.messaging.models import Message


class MessageOutputSerializer(serializers.ModelSerializer):
    price = serializers.SerializerMethodField(
        help_text="What the message costs, in 10⁻⁶ PPT: the per-segment price held (the dearest route it could take), "
        "its segments, the total held at accept, what delivery captured (null until delivered; the rest of the hold "
        "is released, all of it when the message does not reach `delivered`), and the quote on each route."
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "status",
            "status_reason",
            "to",
            "carrier",
            "encoding",
            "segments",
            "priority",
            "reference",
            "created_at",
            "scheduled_at",
            "expires_at",
            "sent_at",
            "delivered_at",
            "price",
        ]

    def get_price(self, message: Message) -> dict[str, Any]:
        return {
            "per_segment": message.price_held // message.segments,
            "segments": message.segments,
            "held": message.price_held,
            "charged": message.price_charged,
            "on_net": message.price_on_net,
            "cross_carrier": message.price_cross_carrier,
        }


def message_output(message: Message) -> dict:
    """`MessageOutputSerializer(message).data`, from one serializer built once: a ModelSerializer works out its
    fields from the model every time it is instantiated, which cost more than the rest of the answer on the send
    path. Each value is read straight off the row and given to its own field's `to_representation`: DRF's generic
    loop (`get_attribute`, its checks) cost as much again on a bulk answer of 1,000 messages. A test holds the two
    equal (`test_read_api`)."""
    return _output(message, _output_fields())


def messages_output(messages: Iterable[Message]) -> list[dict]:
    """`[message_output(message) for message in messages]`, with the current time zone looked up once for all of
    them: DRF's DateTimeField looks it up for every value (`timezone.get_current_timezone`, through asgiref's
    context-local), which cost more than the rest of a bulk answer's message. A test holds the two equal."""
    zone = timezone.get_current_timezone()

    def local_time(value: datetime) -> str:
        # DateTimeField.to_representation for an aware datetime, ISO 8601 (what every time field here gives).
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    fields = [
        (name, attribute, local_time if attribute in _times() else represent)
        for name, attribute, represent in _output_fields()
    ]
    outputs = []
    for message in messages:
        for name in _times():
            value = getattr(message, name)
            if value is not None and timezone.is_naive(value):
                outputs.append(message_output(message))  # DRF's own handling of a naive time
                break
        else:
            outputs.append(_output(message, fields))
    return outputs


def _output(message: Message, fields: list[tuple[str, str | None, Callable[[Any], Any]]]) -> dict:
    output = {}
    for name, attribute, represent in fields:
        if attribute is None:  # a method field: it reads the message itself
            output[name] = represent(message)
            continue
        value = getattr(message, attribute)
        output[name] = None if value is None else represent(value)
    return output


_MESSAGE_OUTPUT = MessageOutputSerializer()
_OUTPUT_FIELDS: list[tuple[str, str | None, Callable[[Any], Any]]] | None = None
_TIMES: frozenset[str] | None = None


def _times() -> frozenset[str]:
    """The attributes `messages_output` represents itself: DRF DateTimeFields in ISO 8601 in the current time zone
    (no `format` or `timezone` of their own)."""
    global _TIMES
    if _TIMES is None:
        _TIMES = frozenset(
            field.source
            for field in _MESSAGE_OUTPUT.fields.values()
            if type(field) is serializers.DateTimeField
            and not hasattr(field, "timezone")
            and str(getattr(field, "format", api_settings.DATETIME_FORMAT)).lower() == ISO_8601
        )
    return _TIMES


def _output_fields() -> list[tuple[str, str | None, Callable[[Any], Any]]]:
    """(name, attribute or None for a method field, how to represent it), in the serializer's order; built once."""
    global _OUTPUT_FIELDS
    if _OUTPUT_FIELDS is None:
        fields: list[tuple[str, str | None, Callable[[Any], Any]]] = []
        for name, field in _MESSAGE_OUTPUT.fields.items():
            if isinstance(field, serializers.SerializerMethodField):
                fields.append((name, None, getattr(_MESSAGE_OUTPUT, field.method_name)))
            elif "." in field.source:
                raise ValueError(f"message_output reads plain attributes only, not {field.source}")
            else:
                fields.append((name, field.source, field.to_representation))
        _OUTPUT_FIELDS = fields  # whole or not at all: threads may build it together
    return _OUTPUT_FIELDS
