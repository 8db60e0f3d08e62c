"""A message as clients see it: the one outward representation, shared by the client API's answers and the webhook
payload (`apps.delivery.webhooks`), so the two never drift apart. Delivery uses it from here, not from `api/`."""

from collections.abc import Callable, Iterable
from datetime import datetime
from operator import attrgetter
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
    equal (`test_read_api`). Its times are written in the current time zone looked up once (`_local_time`), as
    `messages_output` writes them: DRF's DateTimeField looks it up again for each."""
    return _output(message, _output_fields(), local_time=_local_time(timezone.get_current_timezone()), times=_times())


def messages_output(messages: Iterable[Message]) -> list[dict]:
    """`[message_output(message) for message in messages]` for a bulk answer's thousand messages, built field by
    field (a column of values at a time) with the generic per-value calls left out where their answer is known (a
    test holds the two equal):

    - the current time zone looked up once for all of them: DRF's DateTimeField looks it up for every value
      (`timezone.get_current_timezone`, through asgiref's context-local), which cost more than the rest of a message;
    - a plain `str` in a CharField or a ChoiceField of string choices, a plain `int` in an IntegerField, and None are
      their own representation: a column of only those is taken as it is; any other value (a choices member,
      `MessageStatus.QUEUED`) is represented once per answer, not once per message."""
    messages = list(messages)
    local_time = _local_time(timezone.get_current_timezone())
    times = _times()
    names, columns = [], []
    for name, attribute, represent in _output_fields():
        names.append(name)
        if attribute is None:  # a method field: it reads the message itself
            columns.append(list(map(represent, messages)))
            continue
        values = list(map(attrgetter(attribute), messages))
        if attribute in times:
            time = _aware_or(local_time, represent)
            columns.append([None if value is None else time(value) for value in values])
            continue
        kept = _kept_type(_MESSAGE_OUTPUT.fields[name])
        if not {kept, type(None)}.issuperset(map(type, values)):
            values = _represented(values, kept, represent)
        columns.append(values)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


class _Never:
    """No value is of this type: the field has no value that is its own representation."""


def _kept_type(field: serializers.Field) -> type:
    """The type whose values `field` represents as themselves (equal), or `_Never`."""
    kind = type(field)
    if kind is serializers.CharField:
        return str  # str(value)
    if kind is serializers.IntegerField or (
        kind is serializers.BigIntegerField
        and not getattr(field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING)
    ):
        return int  # int(value)
    if kind is serializers.ChoiceField and all(type(key) is str for key in field.choice_strings_to_values):
        if all(type(choice) is str and choice == key for key, choice in field.choice_strings_to_values.items()):
            return str  # choice_strings_to_values.get(value, value): the value itself, or one equal to it
    return _Never


def _represented(values: list[Any], kept: type, represent: Callable[[Any], Any]) -> list[Any]:
    """Each value's representation: None and a value of the `kept` type as they are, any other value represented
    once per distinct value and type (equal values of two types may be represented differently)."""
    keys = list(zip(map(type, values), values, strict=True))
    try:
        distinct = set(keys)
    except TypeError:  # an unhashable value: each represented on its own
        return [value if value is None or type(value) is kept else represent(value) for value in values]
    represented = {key: key[1] if key[1] is None or key[0] is kept else represent(key[1]) for key in distinct}
    return list(map(represented.__getitem__, keys))


def _local_time(zone: Any) -> Callable[[datetime], str]:
    """DateTimeField.to_representation of an aware datetime in `zone`, ISO 8601 (what every time field here gives)."""

    def local_time(value: datetime) -> str:
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return local_time


def _aware_or(local_time: Callable[[datetime], str], represent: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`local_time` for an aware datetime; DRF's own `represent` for anything else (a naive time has its answer)."""

    def time(value: Any) -> Any:
        if type(value) is datetime and value.utcoffset() is not None:
            return local_time(value)
        return represent(value)

    return time


def _output(
    message: Message,
    fields: list[tuple[str, str | None, Callable[[Any], Any]]],
    *,
    local_time: Callable[[datetime], str],
    times: frozenset[str],
) -> dict:
    output = {}
    for name, attribute, represent in fields:
        if attribute is None:  # a method field: it reads the message itself
            output[name] = represent(message)
            continue
        value = getattr(message, attribute)
        if value is None:
            output[name] = None
        elif attribute in times and type(value) is datetime and value.utcoffset() is not None:
            output[name] = local_time(value)
        else:
            output[name] = represent(value)
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
