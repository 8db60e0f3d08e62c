"""The bulk path's shortcuts answer as the plain path does: a message row built without `Model.__init__`, and a body
sent to many recipients checked once per request (segments, content filter, route)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from apps.messaging.choices import MessageStatus, Priority
from apps.messaging.inserting import message_unsaved
from apps.messaging.models import Message
from apps.messaging.representation import MessageOutputSerializer, messages_output
from apps.providers.choices import Carrier

pytestmark = pytest.mark.django_db

STATE = ("adding", "db", "fields_cache")


def _same_instance(built: Message, reference: Message) -> None:
    assert type(built) is Message
    plain = {name: value for name, value in built.__dict__.items() if name != "_state"}
    expected = {name: value for name, value in reference.__dict__.items() if name != "_state"}
    assert plain == expected
    assert {name: getattr(built._state, name) for name in STATE} == {
        name: getattr(reference._state, name) for name in STATE
    }


def test_a_message_built_directly_equals_one_built_by_the_model(organization, api_key):
    now = timezone.now()
    values = {
        "organization": organization,
        "api_key": api_key,
        "to": "+85512345678",
        "carrier": "cellcard",
        "body": "hello",
        "encoding": "gsm7",
        "segments": 1,
        "priority": "high",
        "reference": "r-1",
        "callback_url": "",
        "status": "held",
        "status_reason": "content_review",
        "filter_score": 3,
        "filter_reasons": [{"code": "term_gambling", "weight": 3, "matches": ["casino"]}],
        "verification_code": None,
        "created_at": now,
        "scheduled_at": None,
        "expires_at": now,
        "next_attempt_at": None,
        "finished_at": None,
        "route": "vetted",
    }
    _same_instance(message_unsaved(**values), Message(**values))


def test_relations_copied_from_a_like_message_are_set_as_the_descriptors_set_them(organization, api_key):
    values = {
        "organization": organization,
        "api_key": api_key,
        "to": "+85512345678",
        "body": "x",
        "segments": 1,
        "created_at": timezone.now(),
    }
    first = message_unsaved(**values)
    second = message_unsaved(like=first, **values)
    _same_instance(second, Message(**values))
    assert second._state.fields_cache == {"organization": organization, "api_key": api_key}
    assert second.organization is organization and second.api_key is api_key
    # A message without a key, after one with: the key's relation goes through its descriptor (to None).
    keyless = {**values, "api_key": None}
    _same_instance(message_unsaved(like=first, **keyless), Message(**keyless))
    # Another organisation object (even for the same row), or one whose id changed: through the descriptors.
    other = type(organization).objects.get(pk=organization.pk)
    copy = message_unsaved(like=first, **{**values, "organization": other})
    _same_instance(copy, Message(**{**values, "organization": other}))
    assert copy.organization is other
    moved = type(organization).objects.get(pk=organization.pk)
    second_like = message_unsaved(**{**values, "organization": moved})
    moved.pk = organization.pk + 1000
    _same_instance(
        message_unsaved(like=second_like, **{**values, "organization": moved}),
        Message(**{**values, "organization": moved}),
    )


def test_defaults_and_relations_as_the_model_fills_them_in(organization):
    # Left out: every default (a callable one called per message), no api key, the organisation by its id.
    built = message_unsaved(organization_id=organization.pk, to="+85512345678", body="x", encoding="gsm7", segments=1)
    reference = Message(organization_id=organization.pk, to="+85512345678", body="x", encoding="gsm7", segments=1)
    created = (built.created_at, reference.created_at)
    built.created_at = reference.created_at = None  # timezone.now(), called for each
    _same_instance(built, reference)
    assert created[0] is not None and created[1] is not None
    assert built.filter_reasons == [] and built.filter_reasons is not message_unsaved(segments=1).filter_reasons
    unrelated = message_unsaved(api_key=None, organization=organization, segments=1)
    assert (unrelated.api_key_id, unrelated.api_key, unrelated.organization) == (None, None, organization)
    assert unrelated._state.db == Message(api_key=None, organization=organization, segments=1)._state.db


def test_an_unknown_field_is_refused_as_the_model_refuses_it():
    with pytest.raises(TypeError):
        Message(colour="red")
    with pytest.raises(TypeError):
        message_unsaved(colour="red")


BODIES = [
    "Congratulations! You won the lottery jackpot. Claim at http://bit.ly/x1 casino bonus",  # rejected
    "Win big at our casino tonight",  # held for review
    "លេខកូដផ្ទៀងផ្ទាត់របស់អ្នកគឺ 482913។ សូមកុំចែករំលែកលេខកូដនេះ។",  # a code: vetted route, UCS-2
    "Your order #1042 is ready for pick-up. " * 5,  # two GSM-7 segments
    "Hello from Acme",
]
DECIDED = ("status", "status_reason", "filter_score", "filter_reasons", "route", "encoding", "segments", "body")


def test_a_body_sent_to_many_recipients_is_decided_as_when_sent_alone(client_api):
    alone = {}
    for position, body in enumerate(BODIES):
        response = client_api.post(
            "/api/messages/send", {"to": f"011 9{position:02d} 345", "body": body}, format="json"
        )
        assert response.status_code in (202, 422), response.json()
        message_id = (
            response.json()["id"] if response.status_code == 202 else response.json()["details"]["message"]["id"]
        )
        message = Message.objects.get(pk=message_id)
        alone[body] = tuple(getattr(message, name) for name in DECIDED)
    items = [{"to": f"010 2{n:02d} 345", "body": BODIES[n % len(BODIES)]} for n in range(5 * len(BODIES))]
    results = client_api.post("/api/messages/bulk", {"messages": items}, format="json").json()["results"]
    assert [row["ok"] for row in results] == [n % len(BODIES) != 0 for n in range(len(items))]  # rejected: refused
    ids = [row["message"]["id"] if row["ok"] else row["error"]["details"]["message"]["id"] for row in results]
    stored = Message.objects.in_bulk(ids)
    for item, message_id in zip(items, ids, strict=True):
        assert tuple(getattr(stored[message_id], name) for name in DECIDED) == alone[item["body"]]
    reasons = [stored[message_id].filter_reasons for message_id in ids[1 :: len(BODIES)]]
    assert reasons[0] and reasons[0] == reasons[1]


@pytest.mark.parametrize("zone", ["Asia/Phnom_Penh", "UTC", "America/St_Johns"])
def test_the_bulk_answers_representation_is_the_serializers(client_api, zone):
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    items = [{"to": "012 345 678", "body": "one"}, {"to": "010 123 456", "body": "two", "scheduled_at": later}]
    with timezone.override(zone):
        results = client_api.post("/api/messages/bulk", {"messages": items}, format="json").json()["results"]
        messages = [Message.objects.get(pk=row["message"]["id"]) for row in results]
        assert [row["message"] for row in results] == [MessageOutputSerializer(m).data for m in messages]
    now = timezone.now()
    Message.objects.filter(pk=messages[0].pk).update(status="delivered", sent_at=now, delivered_at=now)
    messages[0].refresh_from_db()
    naive = Message.objects.get(pk=messages[1].pk)
    naive.sent_at = now.replace(tzinfo=None)  # never stored so, but DRF has an answer for it: the same one
    with timezone.override(zone):
        expected = [MessageOutputSerializer(message).data for message in [*messages, naive]]
        assert messages_output([*messages, naive]) == expected


def test_the_bulk_representation_of_any_value_is_the_serializers(client_api):
    # Values of every kind a column can hold: plain strings and ints (taken as they are), choices members and
    # strings of a subclass (represented), values of another type (an id as a string), None, and a column mixing them.
    items = [{"to": f"012 345 67{n}", "body": f"code {n}"} for n in range(4)]
    results = client_api.post("/api/messages/bulk", {"messages": items}, format="json").json()["results"]
    messages = [Message.objects.get(pk=row["message"]["id"]) for row in results]
    messages[0].status, messages[1].status = MessageStatus.HELD, "queued"
    messages[0].carrier, messages[2].carrier = Carrier.SMART, "no-such-carrier"
    messages[1].id, messages[2].segments = str(messages[1].id), True
    messages[3].reference, messages[2].reference = None, Priority.HIGH
    messages[3].status_reason = 42
    expected = [MessageOutputSerializer(message).data for message in messages]
    outputs = messages_output(messages)
    assert outputs == expected
    assert [[type(value) for value in output.values()] for output in outputs] == [
        [type(value) for value in output.values()] for output in expected
    ]
    assert [list(output) for output in outputs] == [list(output) for output in expected]  # the same order of keys
    assert messages_output([]) == []


def test_the_bulk_answer_is_byte_for_byte_the_serializers(client_api):
    # Refused by the input check, by the service, by the content filter (a row of its own, stored), and accepted:
    # the answer is the bytes DRF renders from each stored row's serializer data, rows in the items' order.
    items = [
        {"to": "012 345 678", "body": "Your code is 482913"},
        {"to": "12", "body": "hello"},
        {"to": "010 234 567", "body": BODIES[0]},
        {"to": "011 222 333", "body": ""},
        {"to": "016 222 333", "body": "hi", "priority": "urgent"},
        {"to": "017 222 333", "body": "Win big at our casino tonight", "reference": "r-7"},
        {"to": "092 222 333", "body": "លេខកូដ 482913", "priority": "high"},
    ]
    response = client_api.post("/api/messages/bulk", {"messages": items}, format="json")
    assert response.status_code == 200
    answer = response.json()
    assert [row["ok"] for row in answer["results"]] == [True, False, False, False, False, True, True]
    assert answer["results"][2]["error"]["code"] == "content_rejected"
    for row in answer["results"]:
        if row["ok"]:
            row["message"] = MessageOutputSerializer(Message.objects.get(pk=row["message"]["id"])).data
        elif row["error"]["code"] == "content_rejected":
            details = row["error"]["details"]
            details["message"] = MessageOutputSerializer(Message.objects.get(pk=details["message"]["id"])).data
    assert response.content == JSONRenderer().render(answer)
