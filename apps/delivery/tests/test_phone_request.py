"""The phone's request around its work: the session's check, the rate limit's counter and the heartbeat mark in one
shared-cache round trip, with a revoked session still refused on its very next request and nothing counted for it."""

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.utils import timezone

from apps.accounts import auth_cache
from apps.accounts.services import session_revoke
from apps.messaging.tests.test_send_cost import redis_commands
from apps.providers.choices import Availability
from apps.providers.models import Provider

pytestmark = pytest.mark.django_db

# A job of no one: the answer (404 job_not_found) comes after the request's own checks and counts, with no effect.
ACK = "/api/jobs/999999/ack"


@pytest.fixture(autouse=True)
def _clock_stands_still():
    # The requests of one test fall in one window of the limit however slow the machine (windows are fixed).
    with time_machine.travel(timezone.now().replace(microsecond=0), tick=False):
        auth_cache.local_caches_clear()
        yield


@pytest.fixture
def phone(provider, api_client_for):
    client = api_client_for(provider.user)
    assert client.post(ACK).status_code == 404  # the session is now held by this process
    return client


@pytest.fixture
def two_a_minute(settings):
    settings.API_RATE_LIMITS = {**settings.API_RATE_LIMITS, "ack": "2/m"}


@pytest.mark.skipif(not isinstance(caches["default"], RedisCache), reason="round trips to Redis (REDIS_URL)")
def test_a_warm_phone_request_makes_one_round_trip_to_the_cache(phone, monkeypatch):
    sent = redis_commands(monkeypatch)
    assert phone.post(ACK).json()["code"] == "job_not_found"
    assert [command[0].split(b"\r\n")[2] for command in sent] == [b"EVALSHA"], sent


def test_a_revoked_session_is_refused_on_the_next_request_and_counts_nothing(
    provider, phone, api_client_for, two_a_minute
):
    session_revoke(session=phone.session_tokens.session, actor=provider.user)  # elsewhere: this process holds it
    refused = phone.post(ACK)
    assert (refused.status_code, refused.json()["code"]) == (401, "session_revoked")
    assert refused["WWW-Authenticate"]
    # Counted per user: the warm-up's hit and this one fill the window only if the refused request counted none.
    signed_in_again = api_client_for(provider.user)
    assert signed_in_again.post(ACK).status_code == 404
    assert signed_in_again.post(ACK).status_code == 429


def test_a_changed_user_is_reloaded_and_counted_once(provider, phone, two_a_minute):
    provider.user.save()  # bumps the user's version: the held session is stale, not revoked
    assert phone.post(ACK).status_code == 404
    limited = phone.post(ACK)
    assert (limited.status_code, limited.json()["code"]) == (429, "rate_limited")
    assert 1 <= int(limited["Retry-After"]) <= 60


def test_a_phone_refused_for_its_rate_still_counts_as_seen(provider, phone, settings):
    settings.API_RATE_LIMITS = {**settings.API_RATE_LIMITS, "ack": "1/m"}
    long_ago = timezone.now() - timedelta(minutes=2)
    Provider.objects.filter(pk=provider.pk).update(last_heartbeat_at=long_ago, availability=Availability.ONLINE)
    caches["default"].delete(f"provider-seen:{provider.user_id}")  # the warm-up's window of the mark ended
    assert phone.post(ACK).status_code == 429
    assert Provider.objects.get(pk=provider.pk).last_heartbeat_at > long_ago


def _report_of_no_one(status: str) -> dict:
    return {"reports": [{"job_id": 999999, "status": status, "occurred_at": timezone.now().isoformat()}]}


@pytest.mark.django_db(transaction=True)  # the mark is counted outside any transaction (a test's is one)
@pytest.mark.skipif(not isinstance(caches["default"], RedisCache), reason="round trips to Redis (REDIS_URL)")
def test_a_report_request_counts_the_settle_mark_in_its_one_round_trip(phone, monkeypatch, settings):
    """A request that may report a delivery finds the settle task's mark in the round trip it makes anyway (here a
    task on its way: nothing published); one reporting only `sent` leaves the mark alone."""
    settings.DELIVERY_SETTLE_LINGER_MS = 300
    cache = caches["default"]
    cache.set("delivery:settle:pending", 1, timeout=10)
    sent = redis_commands(monkeypatch)
    answer = phone.post("/api/jobs/reports", _report_of_no_one("delivered"), format="json")
    assert answer.json()["results"][0]["error"]["code"] == "job_not_found"
    assert [command[0].split(b"\r\n")[2] for command in sent] == [b"EVALSHA"], sent
    assert cache.get("delivery:settle:pending") == 2
    phone.post("/api/jobs/reports", _report_of_no_one("sent"), format="json")
    assert cache.get("delivery:settle:pending") == 2
