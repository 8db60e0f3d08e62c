"""A store's outage raised outside a view (a middleware: the session store during a Redis restart) is answered by
handler500 as a 503 `service_unavailable` with Retry-After; any other fault stays a 500."""

import socket

import pytest
import redis
from django.test import RequestFactory

from apps.core.views import server_error


def refused_redis_error() -> redis.ConnectionError:
    """The error the real Redis client raises when nothing listens on its port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        redis.Redis(port=port, socket_connect_timeout=1).ping()
    except redis.ConnectionError as error:
        return error
    raise AssertionError("a Redis answered on a closed port")


def handler500_for(error: Exception):
    request = RequestFactory().get("/api/messages")
    try:
        raise error
    except Exception:  # noqa: BLE001 - handler500 runs inside Django's own `except`, as here
        return server_error(request)


def test_redis_unreachable_is_503():
    response = handler500_for(refused_redis_error())
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert b'"service_unavailable"' in response.content


@pytest.mark.parametrize("error", [ValueError("a bug"), KeyError("x")])
def test_other_faults_stay_500(error):
    response = handler500_for(error)
    assert response.status_code == 500 and b'"server_error"' in response.content
