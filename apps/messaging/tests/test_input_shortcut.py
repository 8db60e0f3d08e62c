"""A plain message item is validated without DRF's field loop (`_plain_input`): it must answer exactly as the
serializer does — the same validated data for every item it takes, and nothing for an item the serializer refuses."""

import pytest
from rest_framework.exceptions import ValidationError

from apps.messaging.api.serializers import (
    BulkInputSerializer,
    MessageInputSerializer,
    _plain_input,
    bulk_input_messages,
    message_input_data,
)

PLAIN = {"to": "012345678", "body": "Your code is 123456."}
ITEMS = [
    PLAIN,
    {"to": "+85512345678", "body": "សួស្តី! ការកម្មង់លេខ 1042 របស់អ្នករួចរាល់ហើយ។"},
    {"to": "  012 345 678 ", "body": "  spaces kept in a body  "},
    {"to": "012345678", "body": ""},  # let through: the service answers body_empty
    {"to": "012345678", "body": "   "},
    {"to": "012345678", "body": "x" * 2000},
    {"to": "012345678", "body": "x" * 2001},
    {"to": "0" * 32, "body": "hi"},
    {"to": "0" * 33, "body": "hi"},
    {"to": " " + "0" * 32 + " ", "body": "hi"},
    {"to": "", "body": "hi"},
    {"to": "   ", "body": "hi"},
    {"to": "hello", "body": "hi"},  # a string: the service answers phone_invalid
    {"to": 12345678, "body": "hi"},
    {"to": None, "body": "hi"},
    {"to": "012345678", "body": None},
    {"to": "012345678", "body": 5},
    {"body": "hi"},
    {"to": "012345678"},
    {"to": "0123\x0045678", "body": "hi"},
    {"to": "012345678", "body": "nul \x00 inside"},
    {"to": "012345678", "body": "lone \ud83d surrogate"},
    {"to": "012345678", "body": "a pair 😀 is fine"},
    {**PLAIN, "priority": "high"},
    {**PLAIN, "priority": "low"},
    {**PLAIN, "priority": "normal"},
    {**PLAIN, "priority": "urgent"},
    {**PLAIN, "priority": ""},
    {**PLAIN, "priority": None},
    {**PLAIN, "priority": 1},
    {**PLAIN, "reference": "order-1042"},
    {**PLAIN, "reference": "  order-1042  "},
    {**PLAIN, "reference": ""},
    {**PLAIN, "reference": "   "},
    {**PLAIN, "reference": "r" * 100},
    {**PLAIN, "reference": "r" * 101},
    {**PLAIN, "reference": " " + "r" * 100 + " "},
    {**PLAIN, "reference": None},
    {**PLAIN, "reference": 7},
    {**PLAIN, "reference": "a\x00b"},
    {**PLAIN, "callback_url": "https://example.com/hook"},
    {**PLAIN, "validity_seconds": 300},
    {**PLAIN, "sensitive": True},
    {**PLAIN, "scheduled_at": None},
    {**PLAIN, "unknown": 1},
    [PLAIN],
    "012345678",
    None,
]


def _serializer_answer(item):
    serializer = MessageInputSerializer(data=item)
    return ("valid", dict(serializer.validated_data)) if serializer.is_valid() else ("refused", serializer.errors)


@pytest.mark.parametrize("item", ITEMS, ids=range(len(ITEMS)))
def test_plain_items_validate_as_the_serializer_does(item):
    plain = _plain_input(item)
    answer = _serializer_answer(item)
    if plain is not None:
        assert answer == ("valid", plain)
        assert list(plain) == list(answer[1])  # the same fields, in the same order
        assert [type(value) for value in plain.values()] == [type(value) for value in answer[1].values()]


def test_the_shortcut_takes_the_common_items():
    # Not a behaviour a client can see, but the reason the shortcut exists: the bulk items clients send take it.
    assert _plain_input(PLAIN) is not None
    assert _plain_input({**PLAIN, "priority": "high", "reference": "otp-7741"}) is not None
    assert _plain_input({**PLAIN, "callback_url": "https://example.com/hook"}) is None


@pytest.mark.parametrize("item", [item for item in ITEMS if isinstance(item, dict)])
def test_message_input_data_answers_as_before(item):
    answer = _serializer_answer(item)
    if answer[0] == "valid":
        assert message_input_data(item) == answer[1]


@pytest.mark.parametrize(
    "data",
    [
        {"messages": ITEMS},
        {"messages": [PLAIN], "other": 1},
        {"messages": [{}]},
        {"messages": [PLAIN, {"to": None, "nested": {"a": [1]}}]},
        {"messages": [PLAIN] * 1000},
        {"messages": [PLAIN] * 1001},
        {"messages": []},
        {"messages": [PLAIN, "not an object"]},
        {"messages": [PLAIN, {1: "a key that is not a string"}]},
        {"messages": PLAIN},
        {"messages": "x"},
        {"messages": None},
        {},
        [PLAIN],
    ],
)
def test_a_bulk_request_is_read_as_the_serializer_reads_it(data):
    serializer = BulkInputSerializer(data=data)
    if serializer.is_valid():
        assert bulk_input_messages(data) == serializer.validated_data["messages"]
    else:
        with pytest.raises(ValidationError) as refused:
            bulk_input_messages(data)
        assert refused.value.detail == serializer.errors
