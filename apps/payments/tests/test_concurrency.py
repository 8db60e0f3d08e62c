"""Eight identical webhooks at once (Baray retrying, or a replay race) issue the PPT once: PostgreSQL, real threads,
each with its own database connection, all released together."""

import threading

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from apps.payments.models import TopUp
from apps.payments.tests.conftest import WEBHOOK_PATH, key_client
from apps.tokens.models import Transfer
from apps.tokens.reconciliation import ledger_check
from apps.tokens.selectors import account_balance
from apps.tokens.services import account_open, hot_balances_roll_up

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks under real concurrency")

COPIES = 8


@pytest.mark.django_db(transaction=True)
def test_eight_identical_webhooks_issue_once(baray, rates, organization):
    created = key_client(organization).post("/api/billing/topups", {"amount": "10", "currency": "USD"}, format="json")
    topup_id = created.json()["id"]
    baray.pay(baray.intents[0].id, notify=False)
    body = baray.webhook_body(topup_id)
    start = threading.Barrier(COPIES)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            start.wait()
            response = APIClient().post(WEBHOOK_PATH, data=body, content_type="application/json")
            outcomes.append(response.json()["outcome"])
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(COPIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(outcomes) == ["replayed"] * (COPIES - 1) + ["settled"]
    assert Transfer.objects.filter(payment_ref=topup_id).count() == 1
    assert TopUp.objects.get(public_id=topup_id).status == "succeeded"
    hot_balances_roll_up()
    assert account_balance(account_open(organization=organization)).available == 400_000_000
    assert ledger_check().breaks == 0


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_settlements_take_eight_consecutive_receipt_numbers(baray, rates, organization):
    from apps.payments.models import Receipt

    client = key_client(organization)
    topups = [
        client.post("/api/billing/topups", {"amount": "10", "currency": "USD"}, format="json").json()["id"]
        for _ in range(COPIES)
    ]
    for intent in baray.intents:
        baray.pay(intent.id, notify=False)
    bodies = [baray.webhook_body(topup) for topup in topups]
    start = threading.Barrier(COPIES)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def deliver(body: bytes) -> None:
        try:
            start.wait()
            response = APIClient().post(WEBHOOK_PATH, data=body, content_type="application/json")
            outcomes.append(response.json()["outcome"])
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and outcomes == ["settled"] * COPIES
    receipts = list(Receipt.objects.order_by("sequence").values_list("sequence", "number", "topup__public_id"))
    assert [sequence for sequence, _, _ in receipts] == list(range(1, COPIES + 1))
    assert len({number for _, number, _ in receipts}) == COPIES
    assert sorted(topup for _, _, topup in receipts) == sorted(topups)
