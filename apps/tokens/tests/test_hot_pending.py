"""A hot account's pending totals are its pending transfers' sums, never stored: a hold, a void or an expiry queues
nothing for the hot side, a post queues only its posted change; balances, the roll-up and `ledger_check` stay exact,
the database refuses a stored pending total on a hot account, and migration tokens.0007 goes back and forth on
existing data."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from apps.tokens.choices import Reason
from apps.tokens.models import Account, HotBalanceDelta
from apps.tokens.reconciliation import ledger_check
from apps.tokens.selectors import account_balance
from apps.tokens.services import (
    TransferSpec,
    client_hold_create,
    hot_balances_roll_up,
    pending_transfers_expire,
    transfer_post,
    transfer_void,
    transfers_create,
)
from apps.tokens.tests.conftest import fund


def balance(account: Account) -> tuple[int, int, int, int]:
    totals = account_balance(Account.objects.get(pk=account.pk))
    return totals.debits_pending, totals.debits_posted, totals.credits_pending, totals.credits_posted


def queued(account: Account) -> list[tuple[int, int, int, int]]:
    return list(
        HotBalanceDelta.objects.filter(account=account)
        .order_by("pk")
        .values_list("debits_pending", "debits_posted", "credits_pending", "credits_posted")
    )


def hold(organization, revenue, transfer_id: str, amount: int):
    return client_hold_create(
        id=transfer_id, organization_id=organization.pk, amount=amount, credit_account_id=revenue.pk,
        reason=Reason.CHARGE,
    )  # fmt: skip


@pytest.mark.django_db
def test_holds_voids_and_expiries_queue_nothing_for_the_hot_side_and_its_balance_stays_exact(
    organization, client_account, revenue
):
    fund(client_account, 1_000)
    hot_balances_roll_up()
    assert hold(organization, revenue, "charge:message:1", 300).booked
    assert hold(organization, revenue, "charge:message:2", 200).booked
    transfers_create(
        [TransferSpec(id="charge:message:3", amount=100, debit_account_id=client_account.pk,
                      credit_account_id=revenue.pk, reason=Reason.CHARGE, pending=True, timeout_seconds=1)]
    )  # fmt: skip
    assert queued(revenue) == []  # three holds, not one row for revenue
    assert balance(revenue) == (0, 0, 600, 0)
    transfer_void(id="charge:message:2:void", pending_id="charge:message:2")
    later = Account.objects.get(pk=client_account.pk).created_at.replace(year=2100)
    assert pending_transfers_expire(now=later) == 1
    assert queued(revenue) == []
    assert balance(revenue) == (0, 0, 300, 0)
    transfer_post(id="charge:message:1:post", pending_id="charge:message:1", amount=250)
    expected_queue = [(0, 0, 0, 250)] if connection.vendor == "postgresql" else []  # SQLite updates in place
    assert queued(revenue) == expected_queue
    assert balance(revenue) == (0, 0, 0, 250)
    assert balance(client_account) == (0, 250, 0, 1_000)
    assert ledger_check().breaks == 0
    hot_balances_roll_up()
    revenue.refresh_from_db()
    assert (revenue.debits_pending, revenue.credits_pending, revenue.credits_posted) == (0, 0, 250)
    assert ledger_check().breaks == 0


@pytest.mark.django_db
def test_the_database_refuses_a_stored_pending_total_on_a_hot_account(revenue):
    for change in ({"credits_pending": 1}, {"debits_pending": 1}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Account.objects.filter(pk=revenue.pk).update(**change)


@pytest.mark.django_db
def test_the_check_finds_a_queued_posted_change_that_no_transfer_made(organization, client_account, revenue):
    fund(client_account, 1_000)
    assert hold(organization, revenue, "charge:message:1", 300).booked
    assert ledger_check().breaks == 0
    HotBalanceDelta.objects.create(account=revenue, credits_posted=7)
    check = ledger_check()
    kinds = sorted(entry["check"] for entry in check.report)
    assert kinds == ["balance_mismatch", "ledger_unbalanced"], check.report
    mismatch = next(entry for entry in check.report if entry["check"] == "balance_mismatch")
    assert mismatch["account"] == revenue.pk
    assert check.imbalance["PPT"] == 14


@pytest.mark.django_db
def test_the_check_finds_a_client_hold_whose_pending_total_disagrees(organization, client_account, revenue):
    fund(client_account, 1_000)
    assert hold(organization, revenue, "charge:message:1", 300).booked
    # The client's side is stored: a pending total that no pending transfer explains is a break, and the ledger's
    # pending debits no longer equal its pending credits (the hot side's, summed from the transfers).
    Account.objects.filter(pk=client_account.pk).update(debits_pending=299)
    check = ledger_check()
    assert sorted(entry["check"] for entry in check.report) == ["balance_mismatch", "ledger_unbalanced"]
    assert check.imbalance["PPT"] == 2


@pytest.mark.django_db(transaction=True)
def test_the_migration_recomputes_stored_pending_totals_going_back_and_clears_them_going_forward():
    from apps.accounts.services import client_create
    from apps.accounts.tests.factories import UserFactory
    from apps.tokens.services import account_open, platform_account

    organization = client_create(user=UserFactory(), name="Acme Bank")
    client_account = account_open(organization=organization)
    revenue = platform_account("revenue")
    fund(client_account, 1_000)
    assert hold(organization, revenue, "charge:message:1", 300).booked
    assert hold(organization, revenue, "charge:message:2", 200).booked
    transfer_post(id="charge:message:2:post", pending_id="charge:message:2", amount=150)
    hot_balances_roll_up()

    executor = MigrationExecutor(connection)
    executor.migrate([("tokens", "0006_verbose_names_translatable")])
    revenue.refresh_from_db()
    # The previous release's columns: pending totals stored again, recomputed from the pending transfers.
    assert (revenue.debits_pending, revenue.credits_pending, revenue.credits_posted) == (0, 300, 150)

    executor = MigrationExecutor(connection)
    executor.migrate([("tokens", "0007_hot_pending_not_stored")])
    revenue.refresh_from_db()
    assert (revenue.debits_pending, revenue.credits_pending, revenue.credits_posted) == (0, 0, 150)
    assert balance(revenue) == (0, 0, 300, 150)
    assert ledger_check().breaks == 0
