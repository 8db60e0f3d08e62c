"""Redis down (restarting, failing over) while a client sends: 503 `service_unavailable` with Retry-After, nothing
stored, and the retry with the same Idempotency-Key succeeds once Redis is back. Redis is made unreachable at the
wire: the cache points at a port nothing listens on."""

import socket

import pytest
from django.test.utils import override_settings

from apps.messaging.models import Message

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_nowhere() -> dict:
    """The cache settings on a Redis that refuses connections (the real client, a real refused connect)."""
    location = f"redis://127.0.0.1:{closed_port()}/0"
    options = {"socket_connect_timeout": 1, "socket_timeout": 1}
    return {"default": {"BACKEND": "apps.core.cache.RedisCache", "LOCATION": location, "OPTIONS": options}}


def send(client, key: str):
    body = {"to": "012 345 678", "body": "Your Acme code is 482913"}
    return client.post("/api/messages/send", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_send_while_redis_is_down_is_a_503_with_retry_after(client_api):
    with override_settings(CACHES=redis_nowhere()):
        response = send(client_api, "order-1")
    assert (response.status_code, response.json()["code"]) == (503, "service_unavailable"), response.content
    assert int(response["Retry-After"]) > 0
    assert not Message.objects.exists()

    # Redis back (the test's own cache again): the client's retry with the same key is taken, once.
    assert send(client_api, "order-1").status_code == 202
    assert send(client_api, "order-1").status_code == 202
    assert Message.objects.count() == 1
