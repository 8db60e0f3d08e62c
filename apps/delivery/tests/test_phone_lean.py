"""The phone's hottest requests (`POST /api/jobs/reports`, `POST /api/jobs/ack`: a busy phone's batches, about two of
the ~2.7 HTTP requests a message costs end to end) skip DRF's request machinery (apps.core.lean) and answer every
request exactly as the DRF view does, with the session's check, the rate limit and the heartbeat mark still made
before any work — a revoked session refused on its next request, a phone over its rate answered 429."""

import json
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from apps.accounts.services import session_revoke
from apps.core.api import error_body, exception_handler
from apps.delivery.api.serializers import AckBatchInput, BatchInput, BatchReportInput
from apps.delivery.api.views import JobAckBatchView, JobReportBatchView
from apps.delivery.models import DeliveryReport
from apps.delivery.tests.test_folded_protocol import iso
from apps.delivery.tests.test_phone_request import _clock_stands_still  # noqa: F401 - autouse: one window, one `now`
from apps.delivery.tests.test_phone_shapes import ACKS as ACK_BATCHES
from apps.delivery.tests.test_phone_shapes import BATCHES
from apps.delivery.tests.test_phone_shapes import REPORTS as REPORT_ITEMS
from apps.delivery.tests.test_report_batches import acknowledged, organization, roomy  # noqa: F401 - fixtures
from apps.incentives.tests.conftest import prices  # noqa: F401 - a fixture
from apps.messaging.choices import JobStatus
from apps.messaging.models import Job
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.messaging.tests.test_send_cost import redis_commands
from apps.providers.choices import Availability
from apps.providers.models import Provider

pytestmark = pytest.mark.django_db

REPORTS, ACKS = "/api/jobs/reports", "/api/jobs/ack"
VIEWS = {REPORTS: JobReportBatchView, ACKS: JobAckBatchView}
NOBODYS = 999_999  # a job of no one: refused per item, with no effect


@pytest.fixture
def phone(provider, api_client_for):
    client = api_client_for(provider.user)
    # The session is now held by this process: the next requests take it unread (the deferred check).
    assert client.post(ACKS, {"jobs": [NOBODYS]}, format="json").status_code == 200
    return client


def call(view, phone, body, *, path=REPORTS, method="post", content_type="application/json", **headers):
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {phone.session_tokens.access}")
    request = RequestFactory().generic(method.upper(), path, raw, content_type=content_type, **headers)
    response = view(request)
    if hasattr(response, "render"):
        response.render()
    return response


def answer(response) -> tuple[int, dict, bytes]:
    return response.status_code, dict(response.items()), response.content


def lean(response) -> bool:
    """DRF's answers are its `Response` (negotiated, rendered late); the lean way's are plain HttpResponses."""
    return not hasattr(response, "accepted_renderer")


def both_ways(phone, body, *, path=REPORTS, **kwargs):
    """The request served (the lean way in front of DRF), its effects then rolled back, and the same request through
    the plain DRF view of the same class on the same rows."""
    view_class = VIEWS[path]
    with transaction.atomic():
        mine = call(view_class.as_view(), phone, body, path=path, **kwargs)
        transaction.set_rollback(True)
    theirs = call(APIView.as_view.__func__(view_class), phone, body, path=path, **kwargs)
    return mine, theirs


def offer(client, provider, index: int = 0) -> Job:
    data = MessageInput(to=f"012 345 {index:03d}", body="Hi")
    message = message_submit(organization=client, api_key=None, data=data)
    assert dispatch(message) == "assigned"
    job = Job.objects.get(message=message)
    assert (job.provider_id, job.status) == (provider.pk, JobStatus.OFFERED)
    return job


def report(job: Job, status: str, **extra) -> dict:
    return {"job_id": job.pk, "status": status, "occurred_at": iso(), **extra}


def test_both_endpoints_are_served_the_lean_way():
    for view_class in VIEWS.values():
        served = view_class.as_view()
        assert served.__qualname__.startswith("LeanPostView.") and served.cls is view_class


def test_reports_are_answered_byte_for_byte_as_drf_answers_them(organization, provider, phone, roomy):  # noqa: F811
    jobs = acknowledged(organization, phone, 3)
    waiting = offer(organization, provider, index=9)  # listed in the answer's `offered`
    body = {
        "reports": [
            report(jobs[0], "sent"),
            report(jobs[1], "delivered"),  # alone: implies sent
            report(jobs[2], "failed", error_code="no_service"),
            report(jobs[0], "delivered", occurred_at="yesterday"),  # refused by validation, at its index
            {"job_id": NOBODYS, "status": "sent", "occurred_at": iso()},  # refused by the service
        ]
    }
    mine, theirs = both_ways(phone, body)
    assert lean(mine) and not lean(theirs)
    assert answer(mine) == answer(theirs)
    results = json.loads(mine.content)
    assert [row["ok"] for row in results["results"]] == [True, True, True, False, False]
    assert [row["id"] for row in results["offered"]] == [waiting.pk]
    assert mine["Allow"] == "POST, OPTIONS" and mine["Content-Type"] == "application/json"
    # The served request's effects were rolled back; DRF's are kept: each way did the work once.
    assert DeliveryReport.objects.filter(job__in=jobs).count() == 3


def test_acknowledgements_are_answered_byte_for_byte_as_drf_answers_them(
    organization,  # noqa: F811 - the imported fixture
    provider,
    phone,
    roomy,  # noqa: F811 - the imported fixture
):
    jobs = [offer(organization, provider, index) for index in range(2)]
    Job.objects.filter(pk=jobs[1].pk).update(deadline=timezone.now() - timedelta(seconds=1))  # ended unacknowledged
    mine, theirs = both_ways(phone, {"jobs": [jobs[0].pk, jobs[1].pk, NOBODYS]}, path=ACKS)
    assert lean(mine) and not lean(theirs)
    assert answer(mine) == answer(theirs)
    rows = json.loads(mine.content)["results"]
    assert [(row["ok"], row.get("error", {}).get("code")) for row in rows] == [
        (True, None),
        (False, "lease_expired"),
        (False, "job_not_found"),
    ]
    assert rows[0]["job"]["trace_token"]
    assert Job.objects.get(pk=jobs[0].pk).status == JobStatus.ACCEPTED


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (REPORTS, {"reports": []}),  # too few
        (REPORTS, {"reports": "sent"}),
        (REPORTS, ["not", "an", "object"]),
        (REPORTS, '{"reports": ['),  # malformed JSON
        (REPORTS, "[" * 40 + "]" * 40),  # json_too_deep
        (REPORTS, '{"reports": NaN}'),  # not strict JSON
        (ACKS, {"jobs": [0]}),
        (ACKS, {"jobs": list(range(1, 502))}),  # too many
        (ACKS, {}),
    ],
)
def test_refusals_are_answered_byte_for_byte_as_drf_answers_them(phone, path, body):
    mine, theirs = both_ways(phone, body, path=path)
    assert lean(mine) and not lean(theirs)
    assert answer(mine) == answer(theirs)
    assert mine.status_code == 400


@pytest.mark.parametrize(
    ("method", "headers", "content_type", "body", "status"),
    [
        ("post", {"HTTP_AUTHORIZATION": ""}, "application/json", None, 401),  # no credential: DRF's header too
        ("post", {"HTTP_AUTHORIZATION": "Bearer not-a-token"}, "application/json", None, 401),
        ("post", {}, "application/x-www-form-urlencoded", "reports=1", 415),  # another media type
        ("post", {"HTTP_ACCEPT": "text/html"}, "application/json", None, 406),  # another format asked for
        ("post", {}, "application/json; charset=latin-1", None, 200),  # decoded by DRF's parser
        ("post", {"QUERY_STRING": "format=json"}, "application/json", None, 200),
        ("post", {}, "application/json", b"", 400),  # no body
        ("get", {}, "application/json", None, 405),  # another method
        ("put", {}, "application/json", None, 405),
    ],
)
def test_other_requests_go_to_drf_and_get_its_answer(phone, method, headers, content_type, body, status):
    payload = body if body is not None else {"reports": [{"job_id": NOBODYS, "status": "sent", "occurred_at": iso()}]}
    mine, theirs = both_ways(phone, payload, method=method, content_type=content_type, **headers)
    assert not lean(mine) and not lean(theirs)
    assert answer(mine) == answer(theirs)
    assert mine.status_code == status


@pytest.mark.skipif(not isinstance(caches["default"], RedisCache), reason="round trips to Redis (REDIS_URL)")
@pytest.mark.parametrize("path", [REPORTS, ACKS])
def test_a_warm_lean_request_makes_one_round_trip_to_the_cache(phone, monkeypatch, path):
    sent = redis_commands(monkeypatch)
    body = {"reports": [report(Job(pk=NOBODYS), "sent")]} if path == REPORTS else {"jobs": [NOBODYS]}
    response = call(VIEWS[path].as_view(), phone, body, path=path)
    assert lean(response) and response.status_code == 200
    # The session's check, the rate limit's counter and the heartbeat mark in one script.
    assert [command[0].split(b"\r\n")[2] for command in sent] == [b"EVALSHA"], sent


@pytest.fixture
def two_a_minute_each(settings):
    settings.API_RATE_LIMITS = {**settings.API_RATE_LIMITS, "reports": "2/m", "ack": "2/m"}


@pytest.mark.parametrize("path", [REPORTS, ACKS])
def test_a_phone_over_its_rate_is_answered_429_as_drf_answers_it(phone, two_a_minute_each, path):
    body = {"reports": [report(Job(pk=NOBODYS), "sent")]} if path == REPORTS else {"jobs": [NOBODYS]}
    served = VIEWS[path].as_view()
    first = call(served, phone, body, path=path)
    assert lean(first) and first.status_code == 200  # the warm-up's acknowledgement counted in "ack" too
    while (limited := call(served, phone, body, path=path)).status_code == 200:
        pass
    theirs = call(APIView.as_view.__func__(VIEWS[path]), phone, body, path=path)
    assert lean(limited) and (limited.status_code, json.loads(limited.content)["code"]) == (429, "rate_limited")
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert answer(limited) == answer(theirs)


def test_a_revoked_session_is_refused_on_its_next_lean_request_and_counts_nothing(
    provider, phone, api_client_for, two_a_minute_each
):
    session_revoke(session=phone.session_tokens.session, actor=provider.user)  # elsewhere: this process holds it
    body = {"reports": [report(Job(pk=NOBODYS), "sent")]}
    refused = call(JobReportBatchView.as_view(), phone, body)
    assert (refused.status_code, json.loads(refused.content)["code"]) == (401, "session_revoked")
    assert refused["WWW-Authenticate"]
    assert answer(refused) == answer(call(APIView.as_view.__func__(JobReportBatchView), phone, body))
    # Counted per user: two more requests fit the window only if the refused ones counted none.
    signed_in_again = api_client_for(provider.user)
    assert signed_in_again.post(REPORTS, body, format="json").status_code == 200
    assert signed_in_again.post(REPORTS, body, format="json").status_code == 200
    assert signed_in_again.post(REPORTS, body, format="json").status_code == 429


def test_a_changed_user_is_reloaded_and_counted_once(provider, phone, two_a_minute_each):
    provider.user.save()  # bumps the user's version: the held session is stale, not revoked
    body = {"reports": [report(Job(pk=NOBODYS), "sent")]}
    served = JobReportBatchView.as_view()
    reloaded = call(served, phone, body)
    assert not lean(reloaded) and reloaded.status_code == 200  # the stale check sent it to DRF, which reloaded it
    again = call(served, phone, body)
    assert lean(again) and again.status_code == 200
    limited = call(served, phone, body)
    assert (limited.status_code, json.loads(limited.content)["code"]) == (429, "rate_limited")


def test_a_lean_request_counts_as_a_heartbeat_even_when_refused_for_its_rate(provider, phone, settings):
    settings.API_RATE_LIMITS = {**settings.API_RATE_LIMITS, "reports": "1/m"}
    body = {"reports": [report(Job(pk=NOBODYS), "sent")]}
    assert call(JobReportBatchView.as_view(), phone, body).status_code == 200
    long_ago = timezone.now() - timedelta(minutes=2)
    Provider.objects.filter(pk=provider.pk).update(last_heartbeat_at=long_ago, availability=Availability.ONLINE)
    caches["default"].delete(f"provider-seen:{provider.user_id}")  # the earlier requests' window of the mark ended
    limited = call(JobReportBatchView.as_view(), phone, body)
    assert lean(limited) and limited.status_code == 429
    assert Provider.objects.get(pk=provider.pk).last_heartbeat_at > long_ago


def test_every_report_the_serializer_refuses_is_answered_with_its_errors(phone):
    """Each item of a batch is refused, at its index, with exactly the errors a `BatchReportInput` built for it names
    (codes, messages, fields in order); every item it takes reaches the service (a job of no one: job_not_found)."""
    items = [{**item, "job_id": NOBODYS} if item.get("job_id") == 7 else item for item in REPORT_ITEMS]
    served = call(JobReportBatchView.as_view(), phone, {"reports": items})
    assert lean(served) and served.status_code == 200
    rows = json.loads(served.content)["results"]
    assert [row["index"] for row in rows] == list(range(len(items)))
    for item, row in zip(items, rows, strict=True):
        serializer = BatchReportInput(data=item)
        if serializer.is_valid():
            assert (row["ok"], row["error"]["code"]) == (False, "job_not_found"), (item, row)
        else:
            fields = ValidationError(serializer.errors).get_full_details()
            expected = error_body("validation_error", "Invalid input.", {"fields": fields})
            assert json.dumps(row) == json.dumps({"index": row["index"], "ok": False, "error": expected}), item


@pytest.mark.parametrize(("path", "body"), [*((ACKS, body) for body in ACK_BATCHES), *((REPORTS, b) for b in BATCHES)])
def test_a_refused_batch_is_answered_as_its_serializer_refuses_it(phone, path, body):
    serializer = (AckBatchInput if path == ACKS else BatchInput)(data=body)
    if serializer.is_valid():
        return  # taken: its items are answered one by one (above)
    served = call(VIEWS[path].as_view(), phone, json.dumps(body), path=path)  # a string too, as JSON
    assert lean(served) and served.status_code == 400
    expected = exception_handler(ValidationError(serializer.errors), {})
    assert served.content == JSONRenderer().render(expected.data)
