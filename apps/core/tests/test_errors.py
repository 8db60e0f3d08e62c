"""Every kind of API error leaves in one shape: {code, message, details}, in the request's language."""

import pytest
from django.test import Client

from apps.accounts.models import User

pytestmark = pytest.mark.urls("apps.core.tests.error_urls")


def assert_shape(response, status, code):
    body = response.json()
    assert response.status_code == status, body
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_validation_error_lists_each_field_with_its_code(client):
    response = client.post("/api/validate", {"name": "too long", "count": 0}, content_type="application/json")
    body = assert_shape(response, 400, "validation_error")
    assert body["details"]["fields"]["name"][0]["code"] == "max_length"
    assert body["details"]["fields"]["count"][0]["code"] == "min_value"


def test_malformed_json(client):
    response = client.post("/api/validate", "{not json", content_type="application/json")
    assert_shape(response, 400, "malformed_request")


def test_unsupported_media_type(client):
    response = client.post("/api/validate", {"name": "a"})  # multipart form
    assert_shape(response, 415, "unsupported_media_type")


def test_not_authenticated(client):
    assert_shape(client.get("/api/private"), 401, "not_authenticated")


def test_bad_token(client):
    response = client.get("/api/private", HTTP_AUTHORIZATION="Bearer not-a-jwt")
    assert_shape(response, 401, "token_not_valid")


@pytest.mark.django_db
def test_permission_denied(api_client_for):
    client = api_client_for(User.objects.create_user("+85512345678"))
    assert_shape(client.get("/api/forbidden"), 403, "permission_denied")


def test_not_found_from_view(client):
    assert_shape(client.get("/api/missing"), 404, "not_found")


def test_method_not_allowed(client):
    assert_shape(client.get("/api/validate"), 405, "method_not_allowed")


def test_throttled_has_retry_after(client):
    response = client.get("/api/throttled")
    body = assert_shape(response, 429, "rate_limited")
    assert response["Retry-After"] == "13"
    assert body["details"]["retry_after"] == 13


def test_domain_error_keeps_its_code_and_details(client):
    body = assert_shape(client.post("/api/conflict"), 409, "reference_taken")
    assert body["details"] == {"reference": "abc"}


def test_domain_rate_limit_sets_retry_after(client):
    response = client.get("/api/domain-rate-limited")
    assert_shape(response, 429, "rate_limited")
    assert response["Retry-After"] == "30"


def test_unhandled_error_is_a_json_500_without_internals():
    client = Client(raise_request_exception=False)
    body = assert_shape(client.get("/api/crash"), 500, "server_error")
    assert "a bug" not in str(body)


def test_messages_follow_the_request_language(client):
    english = client.get("/api/missing", HTTP_ACCEPT_LANGUAGE="en").json()["message"]
    khmer = client.get("/api/missing", HTTP_ACCEPT_LANGUAGE="km").json()["message"]
    assert english == "Not found."
    assert khmer != english
    assert any("\u1780" <= char <= "\u17ff" for char in khmer)  # Khmer script


@pytest.mark.urls("peerpower.urls")
def test_unknown_api_path_is_a_json_404(client):
    assert_shape(client.get("/api/no/such/thing"), 404, "not_found")
