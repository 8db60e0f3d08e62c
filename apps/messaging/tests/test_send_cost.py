"""What one send costs in round trips, once the process is warm: the ingest benchmark's ratio to the floor rests on
them (`benchmarks/send_cpu.py`), so an extra statement or cache call on the send path fails here first."""

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from redis.connection import AbstractConnection

pytestmark = pytest.mark.django_db

OTP = {"to": "012 345 678", "body": "Your Acme code is 482913"}


@pytest.fixture
def warm(settings, client_api, django_capture_on_commit_callbacks):
    """As in production under load: prices, the admission snapshot, the conversion verdict and the compiled filter
    remembered by the process, and a dispatcher already signalled (by this first send)."""
    settings.BILLING_CACHE_SECONDS = 60
    settings.ADMISSION_LOCAL_CACHE_SECONDS = 60
    settings.MESSAGE_PUMPING_LOCAL_CACHE_SECONDS = 60
    with django_capture_on_commit_callbacks(execute=True):
        assert client_api.post("/api/messages/send", OTP, format="json").status_code == 202
    return client_api


def test_a_free_send_costs_the_recipient_check_and_the_insert(warm):
    """One statement on PostgreSQL, whose INSERT carries the recipient's check (`recipient_guard`); elsewhere the
    check is a query of its own before it."""
    with CaptureQueriesContext(connection) as queries:
        assert warm.post("/api/messages/send", {**OTP, "to": "012 345 679"}, format="json").status_code == 202
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    # Tests run inside a transaction, so the send takes a savepoint around its writes here (autocommit elsewhere).
    expected = ["INSERT"] if connection.vendor == "postgresql" else ["SELECT", "INSERT"]
    assert [s for s in statements if s not in ("SAVEPOINT", "RELEASE")] == expected
    if connection.vendor == "postgresql":
        [insert] = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
        assert '"messaging_optout"' in insert and '"messaging_blockedrecipient"' in insert


def redis_commands(monkeypatch) -> list:
    """The commands this process sends to Redis from now on (each as the client packed it)."""
    sent: list = []
    original = AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return sent


@pytest.mark.skipif(not isinstance(caches["default"], RedisCache), reason="round trips to Redis (REDIS_URL)")
def test_a_send_makes_two_redis_round_trips(warm, monkeypatch, django_capture_on_commit_callbacks):
    """The counters (rate, quota, plan, admission) with the pumping sets and the API key's version (verified in the
    same script: apps.core.lean), and the dispatch signal (an `add`, refused while a dispatcher is on its way): one
    round trip each. The admission snapshot is remembered by the process."""
    sent = redis_commands(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):  # the dispatch signal runs after commit
        assert warm.post("/api/messages/send", {**OTP, "to": "012 345 679"}, format="json").status_code == 202
    assert [command[0].split(b"\r\n")[2] for command in sent] == [b"EVALSHA", b"SET"], sent


@pytest.mark.skipif(not isinstance(caches["default"], RedisCache), reason="round trips to Redis (REDIS_URL)")
def test_a_send_with_an_idempotency_key_makes_no_more(warm, monkeypatch, django_capture_on_commit_callbacks):
    """A new key's send verifies the API key in its counting round trip, as a send without one does: no read of the
    key's version of its own (a stored answer is given only after that read: test_send_credentials)."""
    sent = redis_commands(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        response = warm.post(
            "/api/messages/send", {**OTP, "to": "012 345 679"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
        )
        assert response.status_code == 202
    assert [command[0].split(b"\r\n")[2] for command in sent] == [b"EVALSHA", b"SET"], sent


@pytest.mark.skipif(not isinstance(caches["default"], RedisCache), reason="round trips to Redis (REDIS_URL)")
def test_under_load_a_send_makes_one(warm, settings, monkeypatch, django_capture_on_commit_callbacks):
    """A send within DISPATCH_SIGNAL_GRACE_MS of this process's refused signal trusts the dispatcher on its way
    (apps.messaging.services.signal): no signal round trip."""
    from apps.messaging.services import signal

    settings.DISPATCH_SIGNAL_GRACE_MS = 20
    monkeypatch.setattr(signal, "_clock", lambda: 1000.0)
    with django_capture_on_commit_callbacks(execute=True):  # refused: the warm-up's dispatcher is on its way
        assert warm.post("/api/messages/send", {**OTP, "to": "012 345 679"}, format="json").status_code == 202
    sent = redis_commands(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        assert warm.post("/api/messages/send", {**OTP, "to": "012 345 680"}, format="json").status_code == 202
    assert [command[0].split(b"\r\n")[2] for command in sent] == [b"EVALSHA"], sent


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_the_recipient_check_and_the_insert_are_prepared_once_per_connection(warm):
    """Planning them cost about as much as running them (apps.core.prepared): later sends reuse the first's plans,
    whatever the number of recipients (bulk requests' checks and INSERTs are one statement each, the single send's
    guarded INSERT another)."""
    for n in range(2):
        assert warm.post("/api/messages/send", {**OTP, "to": f"012 345 67{n}"}, format="json").status_code == 202
    for size in (3, 2):
        bulk = {"messages": [{**OTP, "to": f"012 345 68{n}"} for n in range(size)]}
        assert warm.post("/api/messages/bulk", bulk, format="json").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE statement LIKE %s), count(*) FILTER (WHERE statement LIKE %s) "
            "FROM pg_prepared_statements",
            ['INSERT INTO "messaging_message"%', 'SELECT phone_hash%"messaging_optout"%'],
        )
        assert cursor.fetchone() == (2, 1)
