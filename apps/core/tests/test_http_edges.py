"""What reaches the API before (or beside) its views still gets the one JSON error shape, never Django's HTML page
or a 500: oversized bodies, NUL characters in the address, unsafe methods on unknown paths, and credentials sent to
the public schema."""

import json

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def assert_error(response, status, code):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == code
    return body


def big_body(size: int) -> str:
    return json.dumps({"to": "012 345 678", "body": "a" * size})


@pytest.mark.parametrize("path", ["/api/messages/send", "/api/messages/bulk", "/api/auth/otp/request"])
def test_a_body_over_the_limit_is_a_413_in_the_api_shape(client_api, settings, path):
    body = assert_error(
        client_api.post(path, big_body(10 * 1024 * 1024), content_type="application/json"), 413, "request_too_large"
    )
    assert body["details"] == {"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}


@pytest.mark.parametrize("path", ["/api/jobs/reports", "/api/jobs/ack", "/api/providers/me/heartbeat"])
def test_a_provider_body_over_the_limit_is_a_413_before_it_is_parsed(api_client_for, settings, path):
    from apps.providers.tests.factories import provider_with_sim

    phone = api_client_for(provider_with_sim().user)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    oversized = json.dumps({"reports": [{"job_id": 1, "status": "sent", "pad": "a" * 70_000}]})
    body = assert_error(phone.post(path, oversized, content_type="application/json"), 413, "request_too_large")
    assert body["details"] == {"max_bytes": 64 * 1024}


def test_a_body_under_the_limit_is_read(client_api):
    response = client_api.post("/api/messages/send", big_body(100_000), content_type="application/json")
    assert_error(response, 400, "validation_error")  # over the body field's 2,000 characters


@pytest.mark.parametrize(
    "path", ["/api/verify/%00", "/api/verify/ABC%00DEF", "/api/messages/1%00", "/api/nowhere/%00", "/%00"]
)
def test_a_nul_in_the_path_is_a_400_with_its_code(client_api, path):
    response = client_api.get(path)
    if path.startswith("/api/"):
        assert_error(response, 400, "nul_character")
    else:
        assert response.status_code == 400


@pytest.mark.parametrize("query", ["reference=%00", "status=queued&reference=a%00b", "cursor=%00"])
def test_a_nul_in_the_query_string_is_a_400_with_its_code(client_api, query):
    assert_error(client_api.get(f"/api/messages?{query}"), 400, "nul_character")


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/api/messages/send", {"to": "012 345 678", "body": "hi", "reference": "a\x00b"}),
        ("/api/messages/send", {"to": "012\x00345678", "body": "hi"}),
        ("/api/messages/bulk", {"messages": [{"to": "012 345 678", "body": "hi", "reference": "\x00"}]}),
        ("/api/webhooks", {"url": "https://example.com/\x00hook"}),
    ],
)
def test_a_nul_in_a_json_string_is_refused_not_stored(client_api, path, payload):
    response = client_api.post(path, payload, format="json")
    assert response.status_code in (200, 400), response.content[:300]
    text = response.content.decode()
    assert "null_characters_not_allowed" in text or "nul_character" in text


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_an_unsafe_method_on_an_unknown_api_path_is_a_json_404_not_a_csrf_page(method):
    client = Client(enforce_csrf_checks=True)
    assert_error(getattr(client, method)("/api/no/such/thing", "{}", content_type="application/json"), 404, "not_found")


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/", "/api/redoc/"])
@pytest.mark.parametrize(
    "authorization", ["Bearer pp_live_not_a_real_key", "Bearer not-a-jwt", "Basic Zm9vOmJhcg==", "Bearer"]
)
def test_schema_and_docs_ignore_credentials(client, path, authorization):
    response = client.get(path, HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 200
