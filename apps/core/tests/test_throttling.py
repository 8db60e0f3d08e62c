"""Per-endpoint rate limits (API_RATE_LIMITS): each limited endpoint answers 429 `rate_limited` with Retry-After
past its rate, counted per principal; the phone protocol's defaults leave room for a busy phone."""

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.services import api_key_create, client_create
from apps.accounts.tests.factories import UserFactory
from apps.core.ratelimit import parse_rate

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock_stands_still():
    # The requests of one test fall in one window of the limit however slow the machine (windows are fixed).
    with time_machine.travel(timezone.now().replace(microsecond=0), tick=False):
        yield


# (scope, method, path, who): who is "user" (a signed-in person or phone), "key" (an API client) or "anonymous".
ENDPOINTS = [
    ("heartbeat", "post", "/api/providers/me/heartbeat", "user"),
    ("ack", "post", "/api/jobs/ack", "user"),
    ("ack", "post", "/api/jobs/1/ack", "user"),
    ("reports", "post", "/api/jobs/reports", "user"),
    ("reports", "post", "/api/jobs/1/report", "user"),
    ("token_refresh", "post", "/api/auth/token/refresh", "anonymous"),
    ("client_management", "get", "/api/clients", "user"),
    ("client_management", "post", "/api/clients", "user"),
    ("api_key_management", "get", "/api/clients/{org}/api-keys", "user"),
    ("webhook_management", "get", "/api/webhooks", "key"),
    ("webhook_management", "get", "/api/webhooks/callback-secret", "key"),
]


@pytest.fixture
def principals(api_client_for):
    owner = UserFactory()
    organization = client_create(user=owner, name="Acme")
    _key, secret = api_key_create(organization=organization, actor=owner, name="server")
    keyed = APIClient()
    keyed.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return {"user": api_client_for(owner), "key": keyed, "anonymous": APIClient()}, organization


def call(client, method, path):
    return getattr(client, method)(path, {}, format="json")


@pytest.mark.parametrize(("scope", "method", "path", "who"), ENDPOINTS)
def test_each_limited_endpoint_answers_429_with_retry_after_past_its_rate(
    settings, principals, scope, method, path, who
):
    settings.API_RATE_LIMITS = {**settings.API_RATE_LIMITS, scope: "2/m"}
    clients, organization = principals
    path = path.format(org=organization.pk)
    first = [call(clients[who], method, path).status_code for _ in range(2)]
    assert 429 not in first  # under the rate: whatever the endpoint answers (even a 4xx for the empty body)
    refused = call(clients[who], method, path)
    assert refused.status_code == 429, refused.json()
    assert refused.json()["code"] == "rate_limited" and 1 <= int(refused["Retry-After"]) <= 60


def test_counted_per_principal(settings, api_client_for):
    settings.API_RATE_LIMITS = {**settings.API_RATE_LIMITS, "client_management": "1/m"}
    first, second = api_client_for(UserFactory()), api_client_for(UserFactory())
    assert first.get("/api/clients").status_code == 200
    assert first.get("/api/clients").status_code == 429
    assert second.get("/api/clients").status_code == 200


def test_an_empty_rate_turns_a_limit_off(settings, api_client_for):
    settings.API_RATE_LIMITS = {**settings.API_RATE_LIMITS, "client_management": ""}
    client = api_client_for(UserFactory())
    assert {client.get("/api/clients").status_code for _ in range(5)} == {200}


@pytest.mark.parametrize(("scope", "per_minute"), [("heartbeat", 60), ("ack", 600), ("reports", 600)])
def test_the_phone_protocol_defaults_leave_room_for_a_busy_phone(scope, per_minute):
    # A SIM may send a few hundred SMS an hour; a phone acks and reports each, and heartbeats every few seconds at most.
    limit, period = parse_rate(settings.API_RATE_LIMITS[scope])
    assert limit * 60 / period >= per_minute


def test_the_schema_documents_the_429_of_limited_operations():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert "429" in schema["paths"]["/api/providers/me/heartbeat"]["post"]["responses"]
    assert "429" in schema["paths"]["/api/webhooks"]["get"]["responses"]
    assert "429" not in schema["paths"]["/api/messages/{message_id}"]["get"]["responses"]
