"""/api/webhooks: a client manages its own endpoints with its API key; another client's are 404, no key is 401."""

import pytest

from apps.audit.models import AuditLog
from apps.delivery.webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

ALL_TYPES = [
    "message.sent",
    "message.delivered",
    "message.failed",
    "message.expired",
    "message.rejected",
    "message.unknown",
    "payment.succeeded",
    "payment.failed",
    "balance.low",
    "inbound.received",
    "client.application.decided",
]


@pytest.fixture
def created(client_api, receiver):
    response = client_api.post("/api/webhooks", {"url": receiver.url(), "description": "orders service"}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_create_shows_the_secret_and_subscribes_to_everything_by_default(created, receiver, api_key):
    assert created["url"] == receiver.url() and created["description"] == "orders service"
    assert created["event_types"] == ALL_TYPES
    assert created["active"] is True and created["disabled_at"] is None and created["failure_streak"] == 0
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["previous_secret_expires_at"] is None
    audit = AuditLog.objects.get(action="webhook_endpoint.created")
    assert (audit.actor, audit.actor_label, audit.target_id) == (None, f"api_key:{api_key.pk}", str(created["id"]))
    assert "secret" not in str(audit.after)


def test_the_owner_reads_lists_changes_and_deletes(client_api, created, receiver, django_assert_max_num_queries):
    detail = client_api.get(f"/api/webhooks/{created['id']}").json()
    assert detail == created  # the secret stays retrievable: receivers need it to verify

    client_api.post("/api/webhooks", {"url": receiver.url("/second")}, format="json")
    with django_assert_max_num_queries(2):  # the API key, one page of endpoints
        listed = client_api.get("/api/webhooks").json()
    assert [item["url"] for item in listed["results"]] == [receiver.url("/second"), receiver.url()]
    assert "secret" not in listed["results"][0]

    changed = client_api.patch(
        f"/api/webhooks/{created['id']}",
        {"event_types": ["message.failed", "message.delivered", "message.failed"], "active": False},
        format="json",
    )
    assert changed.status_code == 200, changed.json()
    assert changed.json()["event_types"] == ["message.delivered", "message.failed"]
    assert changed.json()["active"] is False and changed.json()["url"] == receiver.url()
    assert AuditLog.objects.get(action="webhook_endpoint.updated").after == {
        "event_types": ["message.delivered", "message.failed"],
        "active": False,
    }

    assert client_api.delete(f"/api/webhooks/{created['id']}").status_code == 204
    assert client_api.get(f"/api/webhooks/{created['id']}").status_code == 404
    assert AuditLog.objects.filter(action="webhook_endpoint.deleted").count() == 1


def test_rotating_the_secret_keeps_the_old_one_signing_for_a_while(client_api, created, settings):
    rotated = client_api.post(f"/api/webhooks/{created['id']}/rotate-secret")
    assert rotated.status_code == 200
    body = rotated.json()
    assert body["secret"].startswith("whsec_") and body["secret"] != created["secret"]
    assert body["previous_secret_expires_at"] is not None
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.previous_secret == created["secret"]
    assert client_api.get(f"/api/webhooks/{created['id']}").json()["secret"] == body["secret"]

    settings.WEBHOOK_SECRET_ROTATION_GRACE_SECONDS = 0
    again = client_api.post(f"/api/webhooks/{created['id']}/rotate-secret").json()
    assert again["previous_secret_expires_at"] is None
    assert WebhookEndpoint.objects.get().signing_secrets(endpoint.created_at) == [again["secret"]]


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({}, "validation_error", "url"),
        ({"url": "not a url"}, "validation_error", "url"),
        ({"url": "http://127.0.0.1:9/x", "event_types": ["message.queued"]}, "validation_error", "event_types"),
        ({"url": "http://127.0.0.1:9/x", "event_types": []}, "validation_error", "event_types"),
        ({"url": "http://127.0.0.1:9/x", "description": "x" * 201}, "validation_error", "description"),
    ],
)
def test_invalid_input_is_refused_field_by_field(client_api, payload, code, field):
    response = client_api.post("/api/webhooks", payload, format="json")
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert field in response.json()["details"]["fields"]
    assert not WebhookEndpoint.objects.exists()


def test_a_client_has_a_limited_number_of_endpoints(client_api, receiver, settings):
    settings.WEBHOOK_MAX_ENDPOINTS = 1
    assert client_api.post("/api/webhooks", {"url": receiver.url("/1")}, format="json").status_code == 201
    response = client_api.post("/api/webhooks", {"url": receiver.url("/2")}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "webhook_endpoint_limit")


def test_another_client_sees_and_touches_nothing(other_client_api, created, receiver):
    path = f"/api/webhooks/{created['id']}"
    assert other_client_api.get(path).status_code == 404
    assert other_client_api.patch(path, {"active": False}, format="json").status_code == 404
    assert other_client_api.post(f"{path}/rotate-secret").status_code == 404
    assert other_client_api.delete(path).status_code == 404
    assert other_client_api.get("/api/webhooks").json()["results"] == []
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.active, endpoint.secret) == (True, created["secret"])


def test_without_an_api_key_everything_is_401(api_client, api_client_for, created):
    from apps.accounts.tests.factories import UserFactory

    signed_in_person = api_client_for(UserFactory())  # a JWT is not a client system's key
    for client in (api_client, signed_in_person):
        path = f"/api/webhooks/{created['id']}"
        assert client.get("/api/webhooks").status_code == 401
        assert client.post("/api/webhooks", {"url": "http://127.0.0.1:9/x"}, format="json").status_code == 401
        assert client.get(path).status_code == 401
        assert client.patch(path, {"active": False}, format="json").status_code == 401
        assert client.delete(path).status_code == 401
        assert client.post(f"{path}/rotate-secret").status_code == 401
        assert client.get("/api/webhooks/callback-secret").status_code == 401
    assert WebhookEndpoint.objects.get().active is True


def test_the_callback_secret_is_per_client_and_rotates(client_api, other_client_api):
    first = client_api.get("/api/webhooks/callback-secret").json()
    assert first["secret"].startswith("whsec_") and first["rotated_at"] is None
    assert client_api.get("/api/webhooks/callback-secret").json() == first
    assert other_client_api.get("/api/webhooks/callback-secret").json()["secret"] != first["secret"]
    rotated = client_api.post("/api/webhooks/callback-secret/rotate").json()
    assert rotated["secret"] != first["secret"] and rotated["previous_secret_expires_at"] is not None
    assert AuditLog.objects.filter(action="webhook_callback_secret.rotated").count() == 1


def test_a_disabled_endpoint_shows_why(client_api, created):
    from django.utils import timezone

    WebhookEndpoint.objects.filter(pk=created["id"]).update(
        disabled_at=timezone.now(), disabled_reason="20 failed attempts in a row", consecutive_failures=20
    )
    body = client_api.get(f"/api/webhooks/{created['id']}").json()
    assert body["disabled_at"] and body["disabled_reason"] == "20 failed attempts in a row"
    assert body["failure_streak"] == 20
