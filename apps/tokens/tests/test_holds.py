"""A client's hold in one statement (`client_hold_create`): booked exactly like the engine's pending transfer, refused
with the shortfall, and, on PostgreSQL under concurrent holds, never past what the client can spend and each once."""

import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction

from apps.tokens.choices import Reason, TransferKind, TransferStatus
from apps.tokens.models import Account, Transfer
from apps.tokens.reconciliation import ledger_check
from apps.tokens.selectors import account_balance
from apps.tokens.services import client_hold_create, client_spendable, hot_balances_roll_up, transfer_void
from apps.tokens.tests.conftest import fund


def hold(organization, revenue, transfer_id: str, amount: int):
    return client_hold_create(
        id=transfer_id,
        organization_id=organization.pk,
        amount=amount,
        credit_account_id=revenue.pk,
        reason=Reason.CHARGE,
    )


@pytest.mark.django_db
def test_a_hold_books_a_pending_transfer_from_the_client_to_revenue(organization, client_account, revenue):
    fund(client_account, 1_000)
    result = hold(organization, revenue, "charge:message:1", 300)
    assert (result.booked, result.shortfall, result.spendable_after) == (True, 0, 700)
    transfer = Transfer.objects.get(id="charge:message:1")
    assert (transfer.debit_account_id, transfer.credit_account_id, transfer.amount) == (
        client_account.pk,
        revenue.pk,
        300,
    )
    assert (transfer.kind, transfer.status, transfer.reason) == (TransferKind.PENDING, TransferStatus.PENDING, "charge")
    hot_balances_roll_up()
    assert account_balance(Account.objects.get(pk=client_account.pk)).debits_pending == 300
    assert account_balance(Account.objects.get(pk=revenue.pk)).credits_pending == 300
    # The engine resolves it like any pending transfer.
    transfer_void(id="charge:message:1:void", pending_id="charge:message:1")
    assert client_spendable(organization_id=organization.pk).spendable == 1_000
    assert ledger_check().breaks == 0


@pytest.mark.django_db
def test_a_hold_past_what_the_client_can_spend_is_refused_with_the_shortfall(organization, client_account, revenue):
    fund(client_account, 1_000)
    assert hold(organization, revenue, "charge:message:1", 800).booked
    refused = hold(organization, revenue, "charge:message:2", 300)
    assert (refused.booked, refused.shortfall, refused.spendable_after) == (False, 100, 200)
    assert not Transfer.objects.filter(id="charge:message:2").exists()
    assert client_spendable(organization_id=organization.pk).spendable == 200


@pytest.mark.django_db
def test_an_organisation_without_an_account_holds_nothing(organization, revenue):
    refused = hold(organization, revenue, "charge:message:1", 5)
    assert (refused.booked, refused.shortfall) == (False, 5)
    assert not Transfer.objects.exists()


@pytest.mark.django_db
def test_the_credit_limit_counts_as_spendable(organization, client_account, revenue):
    Account.objects.filter(pk=client_account.pk).update(credit_limit=50)
    assert hold(organization, revenue, "charge:message:1", 50).booked
    assert not hold(organization, revenue, "charge:message:2", 1).booked


@pytest.mark.django_db
def test_a_hold_is_booked_once(organization, client_account, revenue):
    fund(client_account, 1_000)
    assert hold(organization, revenue, "charge:message:1", 10).booked
    with pytest.raises(IntegrityError), transaction.atomic():
        hold(organization, revenue, "charge:message:1", 10)
    assert client_spendable(organization_id=organization.pk).spendable == 990


@pytest.mark.django_db
def test_only_a_hot_platform_account_can_be_credited(organization, client_account, provider_account):
    fund(client_account, 1_000)
    with pytest.raises(ValueError, match="hot"):
        client_hold_create(
            id="charge:message:1",
            organization_id=organization.pk,
            amount=10,
            credit_account_id=provider_account.pk,
            reason=Reason.CHARGE,
        )
    assert client_spendable(organization_id=organization.pk).spendable == 1_000


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="real parallel transactions: PostgreSQL")
def test_concurrent_holds_never_overdraw_and_each_is_booked_once(organization, client_account, revenue):
    """16 writers × 3 holds of 25, each in its own transaction, against a balance for 20 of them: exactly 20 are
    booked, the rest refused, and the client can spend exactly 0."""
    fund(client_account, 25 * 20)
    writers, tries = 16, 3
    barrier = threading.Barrier(writers)
    outcomes: list[bool] = []
    errors: list[Exception] = []

    def work(writer: int) -> None:
        try:
            barrier.wait(timeout=30)
            for attempt in range(tries):
                with transaction.atomic():
                    result = hold(organization, revenue, f"charge:message:{writer}:{attempt}", 25)
                    outcomes.append(result.booked)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(writer,)) for writer in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(outcomes) == writers * tries
    assert outcomes.count(True) == 20
    assert Transfer.objects.filter(reason=Reason.CHARGE, kind=TransferKind.PENDING).count() == 20
    assert client_spendable(organization_id=organization.pk).spendable == 0
    hot_balances_roll_up()
    assert ledger_check().breaks == 0
