"""`manage.py ledger_check` finds every kind of break, exits non-zero on one, and /metrics reports the latest run.
Breaks are made the only way left: by writing the tables behind the services' back."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction

from apps.tokens.models import Account, Transfer
from apps.tokens.reconciliation import ledger_check
from apps.tokens.services import TransferSpec, hot_balances_roll_up, transfers_create
from apps.tokens.tests.conftest import fund

pytestmark = pytest.mark.django_db


def test_a_sound_ledger(client_account, revenue, capsys):
    fund(client_account, 500)
    transfers_create(
        [TransferSpec(id="c:1", amount=200, debit_account_id=client_account.pk, credit_account_id=revenue.pk)]
    )
    call_command("ledger_check")
    assert "ledger sound" in capsys.readouterr().out
    hot_balances_roll_up()
    assert ledger_check().breaks == 0


def test_a_stored_balance_that_disagrees_with_the_transfers(client_account, revenue, capsys):
    fund(client_account, 500)
    Account.objects.filter(pk=client_account.pk).update(credits_posted=600)
    with pytest.raises(CommandError) as failed:
        call_command("ledger_check")
    assert failed.value.returncode == 1
    out = capsys.readouterr().out
    assert f"BREAK balance_mismatch: account={client_account.pk}" in out
    assert "BREAK ledger_unbalanced: ledger=PPT" in out
    check = ledger_check()
    assert check.breaks == 2
    assert check.imbalance["PPT"] == 200  # 100 off against the transfers, and 100 between debits and credits


def test_metrics_report_the_latest_check(client, client_account):
    fund(client_account, 5)
    ledger_check()
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'peerpower_ledger_imbalance{ledger="PPT"} 0.0' in text
    assert "peerpower_ledger_breaks 0.0" in text
    Account.objects.filter(pk=client_account.pk).update(credits_posted=7)
    ledger_check()
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'peerpower_ledger_imbalance{ledger="PPT"} 4.0' in text
    assert "peerpower_ledger_breaks 2.0" in text


def test_the_database_refuses_a_bound_passed_even_behind_the_services_back(client_account):
    fund(client_account, 5)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=client_account.pk).update(debits_posted=6)


def test_the_database_refuses_a_non_positive_amount(client_account, revenue):
    with pytest.raises(IntegrityError), transaction.atomic():
        Transfer.objects.create(
            id="bad", ledger_id=1, debit_account=client_account, credit_account=revenue, amount=0, kind="single",
            status="posted", reason="charge", created_at="2026-12-01T00:00:00Z",
        )  # fmt: skip


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger and composite keys are PostgreSQL's")
class TestPostgresqlRules:
    def test_posted_and_voided_transfers_never_change(self, client_account, revenue):
        fund(client_account, 100)
        spec = TransferSpec(
            id="hold:1", amount=10, debit_account_id=client_account.pk, credit_account_id=revenue.pk, pending=True
        )
        transfers_create([spec, TransferSpec(id="hold:1:void", void_pending_id="hold:1")])
        for transfer_id, change in [("hold:1", {"status": "pending"}), ("hold:1:void", {"amount": 11})]:
            with pytest.raises(Exception, match="immutable"), transaction.atomic():
                Transfer.objects.filter(id=transfer_id).update(**change)
        with pytest.raises(Exception, match="never deleted"), transaction.atomic():
            Transfer.objects.filter(id="hold:1:void").delete()

    def test_a_pending_transfer_changes_only_its_status_once(self, client_account, revenue):
        fund(client_account, 100)
        spec = TransferSpec(
            id="hold:2", amount=10, debit_account_id=client_account.pk, credit_account_id=revenue.pk, pending=True
        )
        transfers_create([spec])
        with pytest.raises(Exception, match="immutable"), transaction.atomic():
            Transfer.objects.filter(id="hold:2").update(status="expired", amount=5, resolved_at="2026-12-01T00:00:00Z")

    def test_accounts_must_be_on_the_transfers_ledger(self, client_account, organization, revenue):
        from apps.tokens.services import account_open

        riel = account_open(organization=organization, ledger="KHR")
        with pytest.raises(IntegrityError), transaction.atomic():
            Transfer.objects.create(
                id="cross", ledger_id=1, debit_account=riel, credit_account=revenue, amount=1, kind="single",
                status="posted", reason="charge", created_at="2026-12-01T00:00:00Z",
            )  # fmt: skip
