"""POST /api/messages/send and /bulk: validation codes, content filter outcomes, idempotency, limits."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.models import ApiKey
from apps.messaging.models import IdempotencyKey, Message
from apps.messaging.services import blocked_recipient_add, opt_out_add
from apps.messaging.services.admission import admission_refresh

pytestmark = pytest.mark.django_db

KHMER_OTP = "លេខកូដផ្ទៀងផ្ទាត់របស់អ្នកគឺ 482913។ សូមកុំចែករំលែកលេខកូដនេះ។"


def send(client, headers=None, **payload):
    payload.setdefault("to", "012 345 678")
    payload.setdefault("body", "Your Acme code is 482913")
    return client.post("/api/messages/send", payload, format="json", **(headers or {}))


def test_accepts_and_answers_202_with_encoding_and_segments(client_api, organization):
    response = send(client_api, body=KHMER_OTP, reference="order-17", priority="high")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued"
    assert (body["to"], body["carrier"]) == ("+85512345678", "cellcard")
    assert (body["encoding"], body["segments"]) == ("ucs2", 1)
    assert (body["priority"], body["reference"]) == ("high", "order-17")
    message = Message.objects.get(pk=body["id"])
    assert message.organization == organization and message.body == KHMER_OTP
    # Validity defaults to one hour.
    assert abs((message.expires_at - message.created_at).total_seconds() - 3600) < 2


def test_gsm_message_counts_153_per_part(client_api):
    assert send(client_api, body="a" * 161).json()["segments"] == 2


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"to": "hello"}, 400, "phone_invalid"),
        ({"to": "023 756 789"}, 400, "phone_not_mobile"),
        ({"to": "+66 81 234 5678"}, 400, "phone_region_not_allowed"),
        ({"body": "   "}, 400, "body_empty"),
        ({"body": "bell \x07 here"}, 400, "body_control_characters"),
        ({"body": "ក" * 700}, 400, "body_too_many_segments"),
        ({"priority": "urgent"}, 400, "validation_error"),
        ({"validity_seconds": 72 * 3600 + 1}, 400, "validation_error"),
        ({"scheduled_at": "2001-01-01T00:00:00Z"}, 400, "schedule_invalid"),
        ({"callback_url": "not a url"}, 400, "validation_error"),
    ],
)
def test_each_validation_failure_has_its_code(client_api, payload, status, code):
    response = send(client_api, **payload)
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert not Message.objects.exists()


def field_codes(error: dict) -> dict[str, list[str]]:
    return {name: [entry["code"] for entry in entries] for name, entries in error["details"]["fields"].items()}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"to": "123", "body": ""}, {"to": ["phone_invalid"], "body": ["body_empty"]}),
        (
            {"to": "hello", "body": "   ", "priority": "urgent"},
            {"to": ["phone_invalid"], "body": ["body_empty"], "priority": ["invalid_choice"]},
        ),
        (
            {"to": "023 756 789", "body": "bell \x07", "scheduled_at": "2001-01-01T00:00:00Z"},
            {"to": ["phone_not_mobile"], "body": ["body_control_characters"], "scheduled_at": ["schedule_invalid"]},
        ),
    ],
)
def test_every_wrong_field_is_reported_at_once(client_api, payload, expected):
    response = send(client_api, **payload)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert field_codes(body) == expected
    assert not Message.objects.exists()


def test_a_fields_own_details_are_kept_beside_its_code(client_api):
    body = send(client_api, to="hello", body="bell \x07 here").json()
    assert body["details"]["fields"]["body"][0]["details"] == {"position": 5, "character": "U+0007"}


@pytest.mark.parametrize(
    ("body", "message"),
    [("null", "No data provided"), ('["to", "body"]', "Invalid data. Expected a dictionary, but got list.")],
)
def test_a_request_body_that_is_not_an_object_is_a_validation_error(client_api, body, message):
    response = client_api.post("/api/messages/send", body, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert response.json()["details"]["fields"]["non_field_errors"][0]["message"] == message


def test_one_request_leaves_nothing_behind_for_the_next(client_api):
    refused = send(client_api, priority="urgent", reference="r" * 101)
    assert set(refused.json()["details"]["fields"]) == {"priority", "reference"}
    first = send(client_api, priority="high", reference="order-1", validity_seconds=600).json()
    second = send(client_api).json()
    assert (first["priority"], first["reference"]) == ("high", "order-1")
    assert (second["priority"], second["reference"]) == ("normal", "")
    assert Message.objects.get(pk=second["id"]).expires_at - Message.objects.get(pk=second["id"]).created_at > (
        timedelta(minutes=59)
    )


def test_opted_out_and_blocked_recipients_are_422(client_api):
    opt_out_add(phone="+85512345678", source="staff")
    blocked_recipient_add(phone="+85510123456", reason="complaint", actor=None)
    opted = send(client_api, to="012 345 678")
    blocked = send(client_api, to="010 123 456")
    assert (opted.status_code, opted.json()["code"]) == (422, "recipient_opted_out")
    assert (blocked.status_code, blocked.json()["code"]) == (422, "recipient_blocked")


def test_blocked_client_cannot_send(client_api, organization):
    organization.is_blocked = True
    organization.save()
    response = send(client_api)
    assert (response.status_code, response.json()["code"]) == (403, "client_blocked")


def test_scheduled_message_waits_for_its_time(client_api):
    later = timezone.now() + timedelta(hours=2)
    body = send(client_api, scheduled_at=later.isoformat(), validity_seconds=600).json()
    message = Message.objects.get(pk=body["id"])
    assert message.next_attempt_at == message.scheduled_at
    assert message.expires_at == message.scheduled_at + timedelta(seconds=600)


def test_scam_is_rejected_and_kept_for_review(client_api):
    response = send(
        client_api, body="Congratulations! You won the lottery jackpot. Claim at http://bit.ly/x1 casino bonus"
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "content_rejected"
    assert body["details"]["message"]["status"] == "rejected"
    assert Message.objects.get().status == "rejected"


def test_borderline_is_held(client_api):
    response = send(client_api, body="Win big at our casino tonight")
    assert response.status_code == 202, response.json()
    assert (response.json()["status"], response.json()["status_reason"]) == ("held", "content_review")
    message = Message.objects.get()
    assert message.next_attempt_at is None  # not dispatched until staff approve
    assert [reason["code"] for reason in message.filter_reasons] == ["term_gambling"]


def test_a_person_signed_in_with_jwt_cannot_use_the_client_api(api_client_for):
    from apps.accounts.tests.factories import UserFactory

    response = send(api_client_for(UserFactory()))
    assert response.status_code == 401


def test_no_key(api_client):
    assert send(api_client).status_code == 401


class TestIdempotency:
    def test_same_key_same_request_replays_the_first_answer(self, client_api):
        headers = {"HTTP_IDEMPOTENCY_KEY": "order-17-attempt"}
        first = send(client_api, headers)
        second = send(client_api, headers)
        assert first.status_code == second.status_code == 202
        assert first.json() == second.json()
        assert Message.objects.count() == 1

    def test_same_key_different_request_is_409(self, client_api):
        headers = {"HTTP_IDEMPOTENCY_KEY": "k1"}
        send(client_api, headers)
        response = send(client_api, headers, body="something else")
        assert (response.status_code, response.json()["code"]) == (409, "idempotency_key_reused")
        assert Message.objects.count() == 1

    def test_keys_are_per_client(self, client_api, other_client_api):
        headers = {"HTTP_IDEMPOTENCY_KEY": "shared"}
        assert send(client_api, headers).status_code == 202
        assert send(other_client_api, headers).status_code == 202
        assert Message.objects.count() == 2

    def test_a_refused_request_is_not_remembered(self, client_api):
        headers = {"HTTP_IDEMPOTENCY_KEY": "retry-me"}
        assert send(client_api, headers, to="hello").status_code == 400
        assert not IdempotencyKey.objects.exists()
        assert send(client_api, headers, to="hello").json()["code"] == "phone_invalid"

    def test_old_keys_are_pruned(self, client_api):
        from apps.messaging.tasks import prune_idempotency_keys

        send(client_api, {"HTTP_IDEMPOTENCY_KEY": "old"})
        IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=49))
        assert prune_idempotency_keys() == 1
        assert send(client_api, {"HTTP_IDEMPOTENCY_KEY": "old"}).status_code == 202
        assert Message.objects.count() == 2

    def test_an_expired_key_not_yet_pruned_is_replaced_not_replayed(self, client_api):
        first = send(client_api, {"HTTP_IDEMPOTENCY_KEY": "stale"})
        IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=49))
        second = send(client_api, {"HTTP_IDEMPOTENCY_KEY": "stale"}, body="another text")
        assert (first.status_code, second.status_code) == (202, 202)
        assert second.json()["id"] != first.json()["id"]
        (row,) = IdempotencyKey.objects.all()
        assert row.response_body["id"] == second.json()["id"]
        # Fresh again: the retry replays the second answer.
        assert send(client_api, {"HTTP_IDEMPOTENCY_KEY": "stale"}, body="another text").json() == second.json()

    def test_a_new_key_costs_one_look_up_and_no_delete(self, client_api):
        with CaptureQueriesContext(connection) as queries:
            assert send(client_api, {"HTTP_IDEMPOTENCY_KEY": "fresh"}).status_code == 202
        on_keys = [query["sql"] for query in queries if "messaging_idempotencykey" in query["sql"]]
        assert [sql.split()[0] for sql in on_keys] == ["SELECT", "INSERT"], on_keys


class TestLimits:
    def test_per_second_rate_per_key(self, client_api, api_key):
        ApiKey.objects.filter(pk=api_key.pk).update(rate_per_second=1)
        responses = [send(client_api) for _ in range(3)]
        # Three requests within milliseconds cross at most one window boundary: at least one is refused.
        limited = [r for r in responses if r.status_code == 429]
        assert responses[0].status_code == 202 and limited
        assert limited[0].json()["code"] == "rate_limited" and int(limited[0]["Retry-After"]) >= 1

    def test_daily_quota_counts_messages_and_gives_back_a_refused_batch(self, client_api, api_key):
        ApiKey.objects.filter(pk=api_key.pk).update(rate_per_day=3)
        bulk = client_api.post(
            "/api/messages/bulk", {"messages": [{"to": "012 345 678", "body": "hi"}] * 2}, format="json"
        )
        assert bulk.status_code == 200
        refused = client_api.post(
            "/api/messages/bulk", {"messages": [{"to": "012 345 678", "body": "hi"}] * 2}, format="json"
        )
        assert (refused.status_code, refused.json()["code"]) == (429, "daily_quota_exceeded")
        assert int(refused["Retry-After"]) > 0
        assert send(client_api).status_code == 202  # the refused batch's two were given back: one is left
        assert send(client_api).json()["code"] == "daily_quota_exceeded"

    def test_a_request_refused_by_the_rate_limit_does_not_use_the_daily_quota(self, client_api, api_key):
        ApiKey.objects.filter(pk=api_key.pk).update(rate_per_second=1, rate_per_day=3)
        # The clock stands still, so the three requests fall in one one-second window however slow the machine.
        with time_machine.travel(timezone.now().replace(microsecond=0), tick=False) as clock:
            codes = [send(client_api).json().get("code") for _ in range(3)]
            assert codes == [None, "rate_limited", "rate_limited"]
            clock.shift(1)
            # One was accepted; had the two refused ones counted, the day's three would be used up.
            assert send(client_api).status_code == 202


class TestBulk:
    def test_partial_success_reports_each_item(self, client_api):
        items = [
            {"to": "012 345 678", "body": "first"},
            {"to": "nope", "body": "second"},
            {"to": "010 123 456", "body": ""},
            {"to": "097 123 4567", "body": KHMER_OTP, "priority": "low"},
            {"to": "010 123 457"},
        ]
        response = client_api.post("/api/messages/bulk", {"messages": items}, format="json")
        assert response.status_code == 200
        body = response.json()
        assert (body["accepted"], body["refused"]) == (2, 3)
        results = body["results"]
        assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
        assert [r["ok"] for r in results] == [True, False, False, True, False]
        assert results[1]["error"]["code"] == "phone_invalid"
        assert results[2]["error"]["code"] == "body_empty"
        assert results[4]["error"]["code"] == "validation_error"
        assert results[3]["message"]["carrier"] == "metfone"
        assert Message.objects.count() == 2

    def test_an_item_reports_every_wrong_field(self, client_api):
        items = [{"to": "123", "body": ""}, {"to": "hello", "body": "", "priority": "urgent"}]
        results = client_api.post("/api/messages/bulk", {"messages": items}, format="json").json()["results"]
        assert [row["error"]["code"] for row in results] == ["validation_error", "validation_error"]
        assert field_codes(results[0]["error"]) == {"to": ["phone_invalid"], "body": ["body_empty"]}
        assert field_codes(results[1]["error"]) == {
            "priority": ["invalid_choice"],
            "to": ["phone_invalid"],
            "body": ["body_empty"],
        }

    def test_bulk_checks_opt_outs_in_one_query(self, client_api, django_assert_max_num_queries):
        opt_out_add(phone="+85512345678", source="staff")
        items = [{"to": f"010 123 {n:03d}", "body": "hello"} for n in range(50)] + [{"to": "012 345 678", "body": "x"}]
        admission_refresh()  # the backlog snapshot is shared and cached; its refresh is not this request's cost
        with django_assert_max_num_queries(12):
            response = client_api.post("/api/messages/bulk", {"messages": items}, format="json")
        assert response.json()["accepted"] == 50
        assert response.json()["results"][-1]["error"]["code"] == "recipient_opted_out"

    def test_too_many_items(self, client_api, settings):
        items = [{"to": "012 345 678", "body": "x"}] * 1001
        response = client_api.post("/api/messages/bulk", {"messages": items}, format="json")
        assert (response.status_code, response.json()["code"]) == (400, "validation_error")
