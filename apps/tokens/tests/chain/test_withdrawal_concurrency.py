"""Withdrawals under real concurrency (PostgreSQL): requests racing for one balance, settlement workers racing for the
same withdrawals."""

import threading
from collections import Counter

import pytest
from django.db import connection
from web3 import Web3

from apps.providers.tests.factories import ProviderFactory
from apps.tokens.chain import ppt
from apps.tokens.chain.contract import UNITS_PER_LEDGER_UNIT
from apps.tokens.chain.sender import ChainSender
from apps.tokens.chain.supply import supply_sync
from apps.tokens.chain.withdrawals import withdrawals_settle
from apps.tokens.choices import ChainTxPurpose, ChainTxState, WithdrawalState
from apps.tokens.errors import WithdrawalExceedsBalance
from apps.tokens.models import ChainTransaction, SettlementBatch, Transfer, Withdrawal
from apps.tokens.selectors import account_balance
from apps.tokens.services import account_open, withdrawal_request
from apps.tokens.tests.conftest import fund

PPT = 1_000_000
ADDRESS = Web3.to_checksum_address("0x" + "c4" * 20)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real parallel transactions: PostgreSQL"),
]


def run_together(count: int, work) -> list:
    """`work(n)` in `count` threads released at once; each thread's outcome (a value or the exception)."""
    start = threading.Barrier(count)
    outcomes: list = [None] * count

    def worker(n: int) -> None:
        try:
            start.wait()
            outcomes[n] = work(n)
        except BaseException as error:  # noqa: BLE001 - the test inspects it
            outcomes[n] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def test_eight_withdrawals_against_a_balance_for_five(settings):
    settings.WITHDRAWAL_MIN_AMOUNT = PPT
    settings.WITHDRAWAL_DAILY_LIMIT = 1_000 * PPT
    provider = ProviderFactory()
    account = account_open(provider=provider)
    fund(account, 50 * PPT)

    outcomes = run_together(8, lambda n: withdrawal_request(provider=provider, address=ADDRESS, amount=10 * PPT))

    booked = [o for o in outcomes if isinstance(o, Withdrawal)]
    refused = [o for o in outcomes if isinstance(o, WithdrawalExceedsBalance)]
    assert (len(booked), len(refused)) == (5, 3), outcomes
    account.refresh_from_db()
    balance = account_balance(account)
    assert (balance.available, balance.debits_pending, balance.credits_posted) == (0, 50 * PPT, 50 * PPT)
    assert Withdrawal.objects.count() == 5
    assert Transfer.objects.filter(reason="withdrawal", status="pending").count() == 5


def test_eight_withdrawals_against_a_daily_limit_for_five(settings):
    """The ledger's bound keeps the balance; the daily limit is a sum over other rows, kept by the account's lock."""
    from apps.tokens.errors import WithdrawalDailyLimitExceeded

    settings.WITHDRAWAL_MIN_AMOUNT = PPT
    settings.WITHDRAWAL_DAILY_LIMIT = 50 * PPT
    provider = ProviderFactory()
    fund(account_open(provider=provider), 500 * PPT)

    outcomes = run_together(8, lambda n: withdrawal_request(provider=provider, address=ADDRESS, amount=10 * PPT))

    assert sum(isinstance(o, Withdrawal) for o in outcomes) == 5, outcomes
    assert sum(isinstance(o, WithdrawalDailyLimitExceeded) for o in outcomes) == 3
    assert account_balance(account_open(provider=provider)).available == 450 * PPT


def test_two_settlement_workers_pay_each_withdrawal_in_exactly_one_transaction(chain_settings, settings):
    settings.WITHDRAWAL_MIN_AMOUNT = PPT
    settings.WITHDRAWAL_DAILY_LIMIT = 10**15
    settings.CHAIN_SETTLEMENT_BATCH_SIZE = 7
    providers = []
    for n in range(4):
        provider = ProviderFactory()
        fund(account_open(provider=provider), 100 * PPT)
        providers.append((provider, Web3.to_checksum_address(f"0x{0xD0 + n:040x}")))
    sender = ChainSender.from_settings()
    assert sender.wait(supply_sync(sender)).state == ChainTxState.CONFIRMED
    for i in range(30):
        provider, address = providers[i % 4]
        withdrawal_request(provider=provider, address=address, amount=(i + 1) * PPT // 4 + PPT)

    # Two workers settle at once, twice each (batch, send; then what is final).
    def settle(n: int) -> None:
        worker = ChainSender.from_settings()
        withdrawals_settle(worker)
        worker.sweep()
        withdrawals_settle(worker)

    assert run_together(2, settle) == [None, None]
    sender.sweep()
    withdrawals_settle(sender)

    withdrawals = list(Withdrawal.objects.all())
    assert len(withdrawals) == 30 and {w.state for w in withdrawals} == {WithdrawalState.SETTLED}
    batches = SettlementBatch.objects.all()
    assert sum(batch.recipients for batch in batches) == 30  # each withdrawal in exactly one batch
    assert Counter(w.batch_id for w in withdrawals) == {batch.pk: batch.recipients for batch in batches}
    transfers = ChainTransaction.objects.filter(purpose=ChainTxPurpose.TRANSFER)
    assert transfers.count() == batches.count()  # one transaction per batch
    assert {batch.chain_transaction_id for batch in batches} == set(transfers.values_list("pk", flat=True))
    assert Transfer.objects.filter(reason="withdrawal", kind="post").count() == 30
    for _, address in providers:
        paid = sum(w.amount for w in withdrawals if w.address == address)
        assert ppt.token_balance(sender, address) == paid * UNITS_PER_LEDGER_UNIT
