"""POST /api/messages/send serves ordinary requests without DRF's request machinery (apps.core.lean), and answers
every request exactly as the DRF view does: the same status, headers and body, error or not."""

import json

import pytest
from django.test import RequestFactory
from rest_framework.views import APIView

from apps.core.lean import LeanPostView
from apps.messaging.api.views import MessageSendView
from apps.messaging.models import Message

pytestmark = pytest.mark.django_db

PATH = "/api/messages/send"
# Headers that belong to one response only.
PER_RESPONSE = {"X-Request-ID"}


@pytest.fixture
def views():
    """The endpoint as served (the lean way in front of DRF) and the plain DRF view of the same class."""
    return MessageSendView.as_view(), APIView.as_view.__func__(MessageSendView)


def post(view, api_key, body, *, content_type="application/json", **headers):
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {api_key.secret}")
    request = RequestFactory().post(PATH, raw, content_type=content_type, **headers)
    response = view(request)
    if hasattr(response, "render"):
        response.render()
    return response


def answer(response) -> tuple[int, dict, bytes]:
    headers = {name: value for name, value in response.items() if name not in PER_RESPONSE}
    return response.status_code, headers, response.content


def lean(response) -> bool:
    """DRF's answers are its `Response` (negotiated, rendered late); the lean way's are plain HttpResponses."""
    return not hasattr(response, "accepted_renderer")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"to": "hello", "body": ""}, 400),  # every wrong field named
        ({"to": "012 345 678", "body": "hi", "priority": "urgent"}, 400),  # the serializer's own error
        ({"to": "012 345 678"}, 400),  # a required field missing
        (["not", "an", "object"], 400),
        ('{"to": "012 345 678", "body": ', 400),  # malformed JSON
        ("[" * 40 + "]" * 40, 400),  # json_too_deep
        ('{"to": "012 345 678", "body": NaN}', 400),  # not strict JSON
        ({"to": "023 756 789", "body": "hi"}, 400),  # phone_not_mobile, from the service
    ],
)
def test_refusals_are_answered_byte_for_byte_as_drf_answers_them(views, api_key, body, status):
    served, drf = views
    mine, theirs = post(served, api_key, body), post(drf, api_key, body)
    assert lean(mine) and not lean(theirs)
    assert answer(mine) == answer(theirs)
    assert mine.status_code == status
    assert not Message.objects.exists()


def test_a_refusal_with_retry_after_keeps_its_header(views, api_key, settings, monkeypatch):
    from types import SimpleNamespace

    from django.utils import timezone

    from apps.messaging import vetting

    settings.MESSAGE_QUOTA_PER_DAY = 0
    # One clock for the daily quota's window in both requests: Retry-After counts the seconds left until midnight,
    # and two requests on either side of a second's edge would be a second apart.
    now = timezone.localtime()
    monkeypatch.setattr(vetting, "timezone", SimpleNamespace(localtime=lambda: now))
    served, drf = views
    mine = post(served, api_key, {"to": "012 345 678", "body": "hi"})
    theirs = post(drf, api_key, {"to": "012 345 678", "body": "hi"})
    assert lean(mine)
    assert mine.status_code == 429 and int(mine["Retry-After"]) > 0
    assert answer(mine) == answer(theirs)


def test_an_accepted_message_is_answered_as_drf_answers_it(views, api_key):
    served, drf = views
    mine = post(served, api_key, {"to": "012 345 678", "body": "Your code is 4821", "reference": "a"})
    theirs = post(drf, api_key, {"to": "012 345 679", "body": "Your code is 4821", "reference": "a"})
    assert lean(mine)
    assert (mine.status_code, dict(mine.items()).keys()) == (theirs.status_code, dict(theirs.items()).keys())
    assert mine["Content-Type"] == theirs["Content-Type"] == "application/json"
    assert mine["Allow"] == theirs["Allow"]
    ours, others = json.loads(mine.content), json.loads(theirs.content)
    assert ours.keys() == others.keys()
    assert ours["status"] == "queued" and ours["to"] == "+85512345678"
    assert Message.objects.filter(pk=ours["id"], reference="a").exists()
    # The same renderer: compact separators, Khmer and other text unescaped.
    assert b", " not in mine.content and b'":"' in mine.content


def test_an_idempotent_retry_is_replayed_and_a_reused_key_refused(views, api_key):
    served, drf = views
    key = {"HTTP_IDEMPOTENCY_KEY": "order-1"}
    first = post(served, api_key, {"to": "012 345 678", "body": "hi"}, **key)
    again = post(served, api_key, {"to": "012 345 678", "body": "hi"}, **key)
    assert lean(first) and lean(again)
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert Message.objects.count() == 1
    # Through DRF, the same key and body replay the same answer: both ways fingerprint the request alike.
    assert post(drf, api_key, {"to": "012 345 678", "body": "hi"}, **key).content == first.content
    reused = post(served, api_key, {"to": "012 345 678", "body": "other"}, **key)
    assert reused.status_code == 409 and json.loads(reused.content)["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    ("headers", "content_type", "body"),
    [
        ({"HTTP_AUTHORIZATION": ""}, "application/json", None),  # no credential: DRF's 401 and its header
        ({"HTTP_AUTHORIZATION": "Bearer pp_live_nonsense"}, "application/json", None),  # refused key
        ({}, "application/x-www-form-urlencoded", "to=012+345+678&body=hi"),  # another media type
        ({"HTTP_ACCEPT": "text/html"}, "application/json", None),  # another format asked for
        ({}, "application/json; charset=latin-1", None),
        ({"QUERY_STRING": "format=json"}, "application/json", None),
    ],
)
def test_other_requests_go_to_drf(views, api_key, headers, content_type, body):
    served, drf = views
    payload = body if body is not None else {"to": "012 345 678", "body": "hi"}
    mine = post(served, api_key, payload, content_type=content_type, **headers)
    theirs = post(drf, api_key, payload, content_type=content_type, **headers)
    assert not lean(mine) and not lean(theirs)
    assert mine.status_code == theirs.status_code


def test_with_the_browsable_renderer_too_json_requests_are_served_the_lean_way(api_key):
    from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer

    class Browsable(MessageSendView):
        renderer_classes = [JSONRenderer, BrowsableAPIRenderer]

    served, drf = Browsable.as_view(), APIView.as_view.__func__(Browsable)
    mine, theirs = post(served, api_key, {"to": "hello", "body": ""}), post(drf, api_key, {"to": "hello", "body": ""})
    assert lean(mine) and answer(mine) == answer(theirs)
    assert mine["Vary"] == "Accept"
    # A browser asking for HTML gets DRF's page.
    page = post(served, api_key, {"to": "hello", "body": ""}, HTTP_ACCEPT="text/html")
    assert not lean(page) and page["Content-Type"].startswith("text/html")


def test_only_views_the_lean_way_can_serve_exactly_get_it():
    class Throttled(LeanPostView):
        authentication_classes = MessageSendView.authentication_classes
        rate_limit_scope = "client_management"  # a scope with a rate: DRF's throttle must count it

    class TwoAuthenticators(LeanPostView):
        authentication_classes = [*MessageSendView.authentication_classes, *MessageSendView.authentication_classes]

    served = MessageSendView.as_view()
    assert served.__qualname__.startswith("LeanPostView.") and served.cls is MessageSendView
    for view_class in (Throttled, TwoAuthenticators):
        assert not view_class.as_view().__qualname__.startswith("LeanPostView.")
