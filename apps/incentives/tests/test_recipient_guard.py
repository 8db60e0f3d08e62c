"""A single send's recipient check rides in the statement that writes the message (on PostgreSQL; a query before it
elsewhere): an opted-out or blocked recipient is refused with the same answer either way — free or held, in
autocommit or inside an Idempotency-Key's transaction — with nothing written and nothing held."""

import pytest
from django.db import connection

from apps.accounts.services import client_create
from apps.accounts.tests.factories import UserFactory
from apps.incentives.tests.conftest import fund, prices, spendable  # noqa: F401 - `prices` is a fixture
from apps.messaging.models import Message
from apps.messaging.services import blocked_recipient_add, opt_out_add
from apps.tokens.models import Transfer
from apps.tokens.reconciliation import ledger_check

NUMBER = "+85512345678"
FUNDS = 1_000_000

# Autocommit is the production path (the single send's one statement); a test's own transaction is the path of a send
# with an Idempotency-Key and of tests.
PATHS = [
    pytest.param(False, marks=pytest.mark.django_db, id="in-transaction"),
    pytest.param(True, marks=pytest.mark.django_db(transaction=True), id="autocommit"),
]


def send(client, *, key: str | None = None, **fields):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/messages/send", {"to": "012 345 678", "body": "hello", **fields}, format="json", **headers)


@pytest.fixture(params=["free", "held"])
def billing(request, organization) -> str:
    if request.param == "held":
        request.getfixturevalue("prices")
        fund(organization, FUNDS)
    return request.param


def _nothing_written(organization, billing: str) -> None:
    assert not Message.objects.exists()
    assert not Transfer.objects.filter(reason="charge").exists()
    if billing == "held":
        assert spendable(organization) == FUNDS
    assert ledger_check().breaks == 0


@pytest.mark.parametrize("autocommit", PATHS)
@pytest.mark.parametrize(
    ("listing", "code"),
    [
        ("opt_out_everyone", "recipient_opted_out"),
        ("opt_out_this_client", "recipient_opted_out"),
        ("blocked", "recipient_blocked"),
        ("opt_out_and_blocked", "recipient_opted_out"),  # the person's own request wins
    ],
)
def test_a_listed_recipient_is_refused_with_nothing_written(
    client_api, organization, billing, autocommit, listing, code
):
    assert connection.in_atomic_block is not autocommit
    if listing in ("opt_out_everyone", "opt_out_and_blocked"):
        opt_out_add(phone=NUMBER, source="staff")
    if listing == "opt_out_this_client":
        opt_out_add(phone=NUMBER, source="stop_keyword", organization_id=organization.pk)
    if listing in ("blocked", "opt_out_and_blocked"):
        blocked_recipient_add(phone=NUMBER, reason="complaint", actor=None)
    for key in (None, f"retry-{listing}"):  # without and with an Idempotency-Key (a transaction of its own)
        response = send(client_api, key=key)
        assert (response.status_code, response.json()["code"]) == (422, code)
        assert response.json()["details"] == {"to": NUMBER}
    _nothing_written(organization, billing)


@pytest.mark.parametrize("autocommit", PATHS)
def test_another_clients_opt_out_does_not_refuse_this_client(client_api, organization, billing, autocommit):
    other = client_create(user=UserFactory(), name="Other Co")
    opt_out_add(phone=NUMBER, source="stop_keyword", organization_id=other.pk)
    response = send(client_api)
    assert response.status_code == 202, response.json()
    message = Message.objects.get()
    assert message.pk == response.json()["id"]
    holds = Transfer.objects.filter(reason="charge", message_id=message.pk)
    assert holds.count() == (1 if billing == "held" else 0)
    if billing == "held":
        assert spendable(organization) == FUNDS - message.price_held
    assert ledger_check().breaks == 0


@pytest.mark.parametrize("autocommit", PATHS)
def test_a_listed_recipient_is_named_beside_the_other_fields_wrong(client_api, organization, billing, autocommit):
    """The recipient's lists are read when another field is wrong too, so the answer lists every field, as when
    they were read before anything else."""
    blocked_recipient_add(phone=NUMBER, reason="complaint", actor=None)
    response = send(client_api, scheduled_at="2099-01-01T00:00:00Z")  # well formed, but too far ahead
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    fields = response.json()["details"]["fields"]
    assert [error["code"] for error in fields["to"]] == ["recipient_blocked"]
    assert [error["code"] for error in fields["scheduled_at"]] == ["schedule_invalid"]
    assert set(fields) == {"to", "scheduled_at"}
    _nothing_written(organization, billing)


@pytest.mark.parametrize("autocommit", PATHS)
def test_an_opt_out_removed_lets_the_number_be_messaged_again(client_api, organization, billing, autocommit):
    from apps.messaging.services import opt_out_remove

    opt_out_add(phone=NUMBER, source="staff")
    assert send(client_api).status_code == 422
    assert opt_out_remove(phone=NUMBER, actor=None)
    assert send(client_api).status_code == 202
    assert Message.objects.count() == 1
