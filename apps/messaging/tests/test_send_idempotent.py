"""A send with an Idempotency-Key on PostgreSQL in autocommit, as production runs it: the key's row is written by the
statement that inserts the message (and books its hold, when it has a price: apps.messaging.idempotency), so the
send costs the key's look-up and that one statement — and keeps every promise of the key: a retry gets the first
answer byte for byte, another body 409, a refusal is not remembered, a rejected message's 422 is, an expired key is
replaced.

Round trips are counted on the wire (apps.core.tests.round_trips)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.core.tests.round_trips import RoundTrips
from apps.incentives.tests.conftest import fund, prices, spendable  # noqa: F401 - `prices` is a fixture
from apps.messaging import services
from apps.messaging.choices import DomainRuleKind, OptOutSource
from apps.messaging.models import DomainRule, IdempotencyKey, Message, OptOut
from apps.messaging.representation import message_output
from apps.tokens.models import Transfer

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the one statement is PostgreSQL's"),
]

FUNDS = 1_000_000
OTP = {"to": "012 345 678", "body": "Your Acme code is 482913"}
BLOCKED = "Get the app at https://get.win888.vip/download"


def send(client, key: str | None, **fields):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post("/api/messages/send", {**OTP, **fields}, format="json", **headers)


@pytest.fixture
def held(settings, organization, prices, client_api):  # noqa: F811 - the fixture imported above
    """A funded client whose sends are priced and held, warm (the statements prepared by a first send with a key
    and one without). Prices are read at each send here: remembered, they would outlive the test's rows."""
    settings.ADMISSION_LOCAL_CACHE_SECONDS = 60
    settings.MESSAGE_PUMPING_LOCAL_CACHE_SECONDS = 60
    fund(organization, FUNDS)
    assert send(client_api, "warm-up", to="012 345 600").status_code == 202
    assert send(client_api, None, to="012 345 601").status_code == 202
    return client_api


def test_a_held_send_with_a_key_costs_the_look_up_and_one_statement(held):
    with RoundTrips() as plain:
        assert send(held, None, to="012 345 679").status_code == 202
    with RoundTrips() as keyed:
        assert send(held, "order-17", to="012 345 680").status_code == 202
    # The key's look-up, then what a send without a key does, its one statement writing the key's row too: no
    # BEGIN, no savepoint, no INSERT of the key of its own, no COMMIT.
    assert 'FROM "messaging_idempotencykey"' in keyed.statements[0], keyed.statements
    assert keyed.count == plain.count + 1, (plain.statements, keyed.statements)
    [statement] = [sql for sql in plain.statements if "INSERT INTO tokens_transfer" in sql]
    assert "remembered AS" not in statement
    [keyed_statement] = [sql for sql in keyed.statements[1:] if "INSERT INTO tokens_transfer" in sql]
    assert "remembered AS" in keyed_statement
    # The rest alike (up to the times bound in their text).
    others = [sql[:60] for sql in keyed.statements[1:] if sql != keyed_statement]
    assert others == [sql[:60] for sql in plain.statements if sql != statement]
    (row,) = IdempotencyKey.objects.filter(key="order-17")
    message = Message.objects.get(pk=row.message_id)
    assert Transfer.objects.filter(message_id=message.pk, reason="charge").count() == 1


def test_a_retry_gets_the_first_answer_byte_for_byte_and_costs_the_look_up(held, organization):
    first = send(held, "order-18", to="012 345 681")
    assert first.status_code == 202
    left = spendable(organization)
    with RoundTrips() as retry_trips:
        retry = send(held, "order-18", to="012 345 681")
    assert (retry.status_code, retry.content) == (first.status_code, first.content)
    assert retry_trips.count == 1, retry_trips.statements
    # The answer written before the message had its id is the one the message gives now that it is stored.
    assert first.json() == message_output(Message.objects.get(pk=first.json()["id"]))
    messages = Message.objects.count()
    assert spendable(organization) == left  # nothing held again
    other = send(held, "order-18", to="012 345 682")
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
    assert Message.objects.count() == messages


def test_a_refusal_is_not_remembered_and_the_retry_runs_again(prices, client_api, organization):  # noqa: F811
    """402 (no PPT: nothing inserted, nothing held) and 400 (invalid) write no key: the client retries the key."""
    refused = send(client_api, "order-19")
    assert (refused.status_code, refused.json()["code"]) == (402, "insufficient_balance")
    invalid = send(client_api, "order-20", to="hello")
    assert (invalid.status_code, invalid.json()["code"]) == (400, "phone_invalid")
    assert not IdempotencyKey.objects.exists() and not Message.objects.exists()
    fund(organization, FUNDS)
    assert send(client_api, "order-19").status_code == 202
    assert send(client_api, "order-20", to="hello").json()["code"] == "phone_invalid"
    assert Message.objects.count() == 1 and IdempotencyKey.objects.count() == 1


def test_a_rejected_message_keeps_its_422_answer(held, staff):
    """Rejected by the content filter, it is stored (holding nothing) with its key in one transaction, as before."""
    services.filter_rule_save(
        rule=DomainRule(domain="win888.vip", kind=DomainRuleKind.BLOCKED, weight=100), actor=staff
    )
    first = send(held, "order-21", body=BLOCKED)
    assert (first.status_code, first.json().get("code")) == (422, "content_rejected"), first.json()
    retry = send(held, "order-21", body=BLOCKED)
    assert (retry.status_code, retry.content) == (first.status_code, first.content)
    assert Message.objects.filter(status="rejected").count() == 1
    assert not Transfer.objects.filter(message_id=first.json()["details"]["message"]["id"]).exists()


def test_a_free_send_with_a_key_costs_the_look_up_and_one_statement(client_api):
    """No price, no hold: the key's row rides in the message's guarded INSERT, as in the held send's statement — no
    BEGIN, no INSERT of the key of its own, no COMMIT — and the answer is the one a retry reads back."""
    assert send(client_api, "warm-up", to="012 345 600").status_code == 202
    assert send(client_api, None, to="012 345 601").status_code == 202
    with RoundTrips() as plain:
        assert send(client_api, None, to="012 345 602").status_code == 202
    with RoundTrips() as keyed:
        first = send(client_api, "order-22")
    assert first.status_code == 202
    assert 'FROM "messaging_idempotencykey"' in keyed.statements[0], keyed.statements
    assert keyed.count == plain.count + 1, (plain.statements, keyed.statements)
    [statement] = [sql for sql in keyed.statements if "messaging_message" in sql]
    assert "remembered AS" in statement
    message = Message.objects.get(pk=first.json()["id"])
    assert first.json() == message_output(message)
    assert IdempotencyKey.objects.get(key="order-22").message_id == message.pk
    with RoundTrips() as retry_trips:
        retry = send(client_api, "order-22")
    assert (retry.status_code, retry.content) == (first.status_code, first.content)
    assert retry_trips.count == 1, retry_trips.statements
    other = send(client_api, "order-22", to="012 345 603")
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
    assert Message.objects.count() == 4


def test_a_free_send_to_an_opted_out_recipient_with_a_key_stores_neither(client_api):
    """The guarded INSERT refused (the recipient opted out): neither the message nor the key's row is written, so
    the retry runs again — and, the opt-out withdrawn, is sent."""
    services.opt_out_add(phone=OTP["to"], source=OptOutSource.API)
    refused = send(client_api, "order-25")
    assert (refused.status_code, refused.json()["code"]) == (422, "recipient_opted_out"), refused.json()
    assert not IdempotencyKey.objects.exists() and not Message.objects.exists()
    OptOut.objects.all().delete()
    sent = send(client_api, "order-25")
    assert sent.status_code == 202
    assert IdempotencyKey.objects.get(key="order-25").message_id == sent.json()["id"]


def test_an_expired_key_is_replaced(held):
    first = send(held, "stale", to="012 345 685")
    IdempotencyKey.objects.filter(key="stale").update(created_at=timezone.now() - timedelta(hours=49))
    second = send(held, "stale", to="012 345 686")
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json()["id"] != first.json()["id"]
    assert send(held, "stale", to="012 345 686").content == second.content


def test_a_revoked_key_gets_no_stored_answer_and_stores_nothing(held, api_key):
    from apps.accounts.services import api_key_revoke
    from apps.accounts.tests.factories import UserFactory

    first = send(held, "order-23", to="012 345 687")
    assert first.status_code == 202
    messages, keys = Message.objects.count(), IdempotencyKey.objects.count()
    api_key_revoke(api_key=api_key, actor=UserFactory())
    for key in ("order-23", "order-24"):  # the stored answer's key, and a new one
        refused = send(held, key, to="012 345 687")
        assert (refused.status_code, refused.json()["code"]) == (401, "api_key_revoked"), key
    assert (Message.objects.count(), IdempotencyKey.objects.count()) == (messages, keys)
