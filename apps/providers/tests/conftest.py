import os

import pytest
import redis
from django.test import override_settings

# The Redis the cap counters use in tests: the configured one, else a database of this app's own.
TEST_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/3"


def _forget_counters(url: str) -> None:
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter("peerpower:providers:cap:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(params=["database", "redis"])
def counter_backend(request):
    """Run the test once with the database counters and once with the Redis ones."""
    if request.param == "redis":
        _forget_counters(TEST_REDIS_URL)
        with override_settings(REDIS_URL=TEST_REDIS_URL):
            yield "redis"
        _forget_counters(TEST_REDIS_URL)
    else:
        with override_settings(REDIS_URL=""):
            yield "database"


@pytest.fixture(autouse=True)
def _no_stale_counters():
    # Test databases reuse SIM ids, so counters a previous test left in Redis must not be read as this test's.
    if os.environ.get("REDIS_URL"):
        _forget_counters(TEST_REDIS_URL)
