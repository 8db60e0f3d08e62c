"""Concurrent duplicates with one Idempotency-Key create one message; concurrent dispatchers lease a message once.

Threads each use their own database connection and start together at a barrier. Runs on PostgreSQL, where
requests really run in parallel (SQLite serialises writers).
"""

import json
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from apps.incentives.tests.conftest import fund, prices, spendable  # noqa: F401 - `prices` is a fixture
from apps.messaging.choices import MessageStatus
from apps.messaging.models import Job, Message
from apps.messaging.services import MessageInput, message_submit, messages_dispatch_due
from apps.providers.choices import Carrier
from apps.providers.tests.factories import provider_with_sim
from apps.tokens.models import Transfer
from apps.tokens.reconciliation import ledger_check

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real parallel transactions: PostgreSQL"),
]
THREADS = 8


def run_together(work, threads: int = THREADS) -> list:
    barrier = threading.Barrier(threads)
    results: list = []
    errors: list = []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(work())
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(60)
    assert not errors, errors
    return results


def test_concurrent_duplicates_create_one_message(api_key):
    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key.secret}", HTTP_IDEMPOTENCY_KEY="same-key")
        response = client.post("/api/messages/send", {"to": "012 345 678", "body": "hello"}, format="json")
        return response.status_code, response.json()

    results = run_together(post)
    assert Message.objects.count() == 1
    assert {status for status, _ in results} == {202}
    assert {body["id"] for _, body in results} == {Message.objects.get().pk}


def test_concurrent_duplicates_of_a_held_send_hold_once_and_answer_alike(api_key, organization, prices):  # noqa: F811
    """Priced: each request's key row rides in the statement that inserts its message and books its hold. The first
    to commit wins; the others' statements wait on the key, fail on it (their message and hold rolled back with it)
    and replay the winner's stored answer."""
    fund(organization, 1_000_000)

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key.secret}", HTTP_IDEMPOTENCY_KEY="same-key")
        response = client.post("/api/messages/send", {"to": "012 345 678", "body": "hello"}, format="json")
        return response.status_code, response.content

    results = run_together(post)
    (message,) = Message.objects.all()
    assert Transfer.objects.filter(reason="charge").count() == 1
    assert Transfer.objects.get(reason="charge").message_id == message.pk
    assert spendable(organization) == 1_000_000 - message.price_held
    assert len({content for _, content in results}) == 1, results
    assert {status for status, _ in results} == {202}
    assert json.loads(results[0][1])["id"] == message.pk
    assert ledger_check().breaks == 0


def test_concurrent_dispatchers_lease_a_message_once(organization):
    for _ in range(3):
        provider_with_sim(Carrier.CELLCARD)
    message = message_submit(organization=organization, api_key=None, data=MessageInput(to="012 345 678", body="hello"))
    # Each dispatcher says what it did itself: reading the message's status afterwards would credit the one winner's
    # assignment to every thread that saw the message queued before it started.
    counts = run_together(lambda: messages_dispatch_due(priority=message.priority))
    assert sum(count.get("assigned", 0) for count in counts) == 1
    assert Job.objects.filter(message=message).count() == 1


def test_parallel_batch_dispatchers_lease_each_message_once(organization, settings):
    settings.MESSAGE_DISPATCH_BATCH = 5
    for _ in range(6):
        provider_with_sim(Carrier.CELLCARD)
    messages = [
        message_submit(organization=organization, api_key=None, data=MessageInput(to=f"012 345 6{n:02d}", body="hi"))
        for n in range(16)
    ]

    def dispatch_until_nothing_deferred() -> dict[str, int]:
        # As the dispatcher task does: a message left due because another batch held the providers it could have had
        # ("deferred") is taken again at once.
        totals: dict[str, int] = {}
        while True:
            counts = messages_dispatch_due(priority="normal")
            for outcome, count in counts.items():
                totals[outcome] = totals.get(outcome, 0) + count
            if not counts.get("deferred"):
                return totals

    counts = run_together(dispatch_until_nothing_deferred, threads=4)
    # Each took its own rows (SKIP LOCKED): no message was leased twice, and each lease is one job.
    leased = list(Job.objects.values_list("message_id", flat=True))
    assert len(leased) == len(set(leased)) == sum(count.get("assigned", 0) for count in counts), counts
    # On a loaded machine a request can lose its race for a provider to the other batches MATCH_ROUNDS times in a row;
    # its message then waits for its retry ("waiting") rather than being lost. Due again, it is leased once.
    assert len(leased) + sum(count.get("waiting", 0) for count in counts) >= 16, counts
    Message.objects.filter(status=MessageStatus.QUEUED).update(next_attempt_at=timezone.now())
    dispatch_until_nothing_deferred()
    assert Job.objects.count() == 16
    assert set(Job.objects.values_list("message_id", flat=True)) == {message.pk for message in messages}
