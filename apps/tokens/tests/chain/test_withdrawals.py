"""Withdrawals paid on chain over HTTP: booked pending, batched into one transferBatch, posted once final, voided on a
revert, and never lost, sent twice or booked twice while the node refuses, is stopped, or loses a transaction."""

import pytest
from django.test import override_settings
from web3 import Web3

from apps.providers.tests.factories import ProviderFactory
from apps.tokens.chain import ppt
from apps.tokens.chain.contract import UNITS_PER_LEDGER_UNIT
from apps.tokens.chain.supply import CHAIN_HOT_WALLET_GAS, chain_reconcile, supply_sync
from apps.tokens.chain.withdrawals import withdrawals_settle
from apps.tokens.choices import ChainTxPurpose, ChainTxState, PlatformAccount, SettlementState, WithdrawalState
from apps.tokens.models import ChainTransaction, SettlementBatch, Transfer, Withdrawal
from apps.tokens.selectors import account_balance
from apps.tokens.services import account_open, platform_account, withdrawal_request
from apps.tokens.tests.conftest import fund

PPT = 1_000_000
OTHER = Web3.to_checksum_address("0x" + "0d" * 20)

pytestmark = pytest.mark.usefixtures("chain_settings")


def provider_with(amount: int, n: int):
    """A provider with `amount` posted and a bound address of its own."""
    provider = ProviderFactory()
    provider.user.evm_address = Web3.to_checksum_address(f"0x{0xA0 + n:040x}")
    provider.user.save(update_fields=["evm_address"])
    fund(account_open(provider=provider), amount)
    return provider


def withdraw(provider, amount: int) -> Withdrawal:
    return withdrawal_request(provider=provider, address=provider.user.evm_address, amount=amount)


def minted(sender) -> None:
    """The custodial wallet holds what the ledger issued (the supply sync's job)."""
    tx = supply_sync(sender)
    if tx is not None:
        assert sender.wait(tx).state == ChainTxState.CONFIRMED


def on_chain(sender, address: str) -> int:
    return ppt.token_balance(sender, address) // UNITS_PER_LEDGER_UNIT


def available(provider) -> int:
    return account_balance(account_open(provider=provider)).available


def test_withdrawals_are_paid_in_one_batch_and_posted_once_final(sender):
    alice, bob = provider_with(100 * PPT, 1), provider_with(50 * PPT, 2)
    minted(sender)
    first, second = withdraw(alice, 30 * PPT), withdraw(bob, 50 * PPT)
    assert (available(alice), available(bob)) == (70 * PPT, 0)  # held at once
    assert Transfer.objects.get(pk=first.transfer_id).status == "pending"

    report = withdrawals_settle(sender)
    assert len(report.batched) == 1 and report.sent == report.batched and report.settled == []
    batch = SettlementBatch.objects.get()
    assert (batch.recipients, batch.amount, batch.state) == (2, 80 * PPT, SettlementState.SENT)
    tx = batch.chain_transaction
    assert tx.purpose == ChainTxPurpose.TRANSFER and tx.reference == f"withdrawals:batch:{batch.pk}"

    assert sender.sweep() == 0  # mined and final (the node's finalized block)
    assert withdrawals_settle(sender).settled == [batch.pk]
    first.refresh_from_db()
    second.refresh_from_db()
    assert {first.state, second.state} == {WithdrawalState.SETTLED}
    assert Transfer.objects.get(pk=first.transfer_id).status == "posted"
    assert (on_chain(sender, alice.user.evm_address), on_chain(sender, bob.user.evm_address)) == (30 * PPT, 50 * PPT)
    treasury = account_balance(platform_account(PlatformAccount.CHAIN_TREASURY))
    assert treasury.credits_posted == 80 * PPT and treasury.credits_pending == 0
    # The chain adds up: supply = issued − redeemed; custody = supply − paid out.
    result = chain_reconcile(sender)
    assert (result.chain_supply, result.custodial_balance, result.paid_out) == (150 * PPT, 70 * PPT, 80 * PPT)
    assert result.breaks == []
    gas = sender.w3.eth.get_balance(sender.wallet.address)
    assert gas > 0 and CHAIN_HOT_WALLET_GAS._value.get() == pytest.approx(gas)  # a float gauge
    # Nothing more to do, nothing sent again.
    assert withdrawals_settle(sender).batched == []
    assert ChainTransaction.objects.filter(purpose=ChainTxPurpose.TRANSFER).count() == 1


def test_the_node_refusing_or_stopped_queues_settlement_and_it_catches_up(sender, chain_node):
    alice = provider_with(100 * PPT, 1)
    minted(sender)
    withdrawal = withdraw(alice, 40 * PPT)

    chain_node.fail_next(10_000)  # every request answered 503, as an overloaded endpoint does
    report = withdrawals_settle(sender)
    batch = SettlementBatch.objects.get()
    assert report.waiting == [batch.pk] and batch.state == SettlementState.OPEN and batch.chain_transaction is None
    assert "chain_unavailable" in batch.error
    assert not ChainTransaction.objects.filter(purpose=ChainTxPurpose.TRANSFER).exists()  # nothing signed

    chain_node.fail_next(0)
    chain_node.stop()  # connection refused
    assert withdrawals_settle(sender).waiting == [batch.pk]
    batch.refresh_from_db()
    assert batch.attempts == 2 and batch.state == SettlementState.OPEN
    assert Transfer.objects.get(pk=withdrawal.transfer_id).status == "pending"  # held, not lost, not returned

    chain_node.start()  # the same chain again
    assert withdrawals_settle(sender).sent == [batch.pk]
    assert sender.sweep() == 0
    assert withdrawals_settle(sender).settled == [batch.pk]
    withdrawal.refresh_from_db()
    assert withdrawal.state == WithdrawalState.SETTLED
    assert on_chain(sender, alice.user.evm_address) == 40 * PPT
    assert ChainTransaction.objects.filter(purpose=ChainTxPurpose.TRANSFER).count() == 1
    assert SettlementBatch.objects.count() == 1


def test_a_transaction_the_node_never_took_is_sent_again_as_the_same_bytes(sender, chain_node):
    alice = provider_with(100 * PPT, 1)
    minted(sender)
    withdraw(alice, 20 * PPT)
    chain_node.fail_next(1, "eth_sendRawTransaction")  # signed and stored, the broadcast fails
    withdrawals_settle(sender)
    tx = ChainTransaction.objects.get(purpose=ChainTxPurpose.TRANSFER)
    assert tx.state == ChainTxState.SIGNED
    signed = (tx.tx_hash, tx.nonce, tx.raw)
    # Settlement again: the batch already has its transaction; nothing new is signed.
    assert withdrawals_settle(sender).settled == []
    assert ChainTransaction.objects.filter(purpose=ChainTxPurpose.TRANSFER).count() == 1
    assert sender.sweep() == 1  # broadcast again now; its receipt is read on the next sweep
    assert sender.sweep() == 0
    tx.refresh_from_db()
    assert (tx.tx_hash, tx.nonce, tx.raw) == signed and tx.state == ChainTxState.CONFIRMED
    withdrawals_settle(sender)
    assert Withdrawal.objects.get().state == WithdrawalState.SETTLED
    assert on_chain(sender, alice.user.evm_address) == 20 * PPT


def test_not_posted_before_n_confirmations(sender, chain_node):
    alice = provider_with(100 * PPT, 1)
    minted(sender)
    withdrawal = withdraw(alice, 10 * PPT)
    with override_settings(CHAIN_FINALITY="3"):
        from apps.tokens.chain.sender import ChainSender

        counting = ChainSender.from_settings()
        withdrawals_settle(counting)
        assert counting.sweep() == 1  # mined, one confirmation of three
        tx = ChainTransaction.objects.get(purpose=ChainTxPurpose.TRANSFER)
        assert tx.state == ChainTxState.MINED
        assert withdrawals_settle(counting).settled == []
        assert Transfer.objects.get(pk=withdrawal.transfer_id).status == "pending"
        chain_node.chain.mine()
        chain_node.chain.mine()
        assert counting.sweep() == 0
        assert len(withdrawals_settle(counting).settled) == 1
    assert Transfer.objects.get(pk=withdrawal.transfer_id).status == "posted"


def test_a_reverted_settlement_voids_its_withdrawals(sender, chain_node):
    alice = provider_with(100 * PPT, 1)
    minted(sender)
    withdrawal = withdraw(alice, 60 * PPT)
    chain_node.chain.set_automine(False)
    # Something drains the custodial wallet first (nonce n); the batch (nonce n + 1) was estimated on the state
    # before it, so it is signed, and reverts when mined.
    drain = ppt.token_transfer_batch(sender, reference="drain", recipients=[(OTHER, 100 * PPT)])
    report = withdrawals_settle(sender)
    assert len(report.sent) == 1
    chain_node.chain.mine()
    chain_node.chain.set_automine(True)
    assert sender.sweep() == 0
    drain.refresh_from_db()
    batch = SettlementBatch.objects.get()
    assert drain.state == ChainTxState.CONFIRMED and batch.chain_transaction.state == ChainTxState.REVERTED
    assert withdrawals_settle(sender).failed == [batch.pk]
    withdrawal.refresh_from_db()
    assert withdrawal.state == WithdrawalState.FAILED
    assert Transfer.objects.get(pk=withdrawal.transfer_id).status == "voided"
    assert available(alice) == 100 * PPT  # back in the wallet
    assert on_chain(sender, alice.user.evm_address) == 0
    assert chain_reconcile(sender).breaks == []  # nothing posted, nothing settled


def test_staff_retry_sends_the_batch_once_and_is_audited(sender, chain_node, client):
    from django.urls import reverse

    from apps.accounts.models import User
    from apps.audit.models import AuditLog

    staff = User.objects.create_superuser("+85512000109", "pw-staff-1")
    client.force_login(staff)
    alice = provider_with(100 * PPT, 1)
    minted(sender)
    withdrawal = withdraw(alice, 30 * PPT)
    chain_node.fail_next(10_000)
    withdrawals_settle(sender)  # the node refuses: the batch waits, open
    batch = SettlementBatch.objects.get()
    changelist = reverse("admin:tokens_settlementbatch_changelist")
    page = client.post(changelist, {"action": "retry", "_selected_action": [batch.pk]}, follow=True)
    assert "chain_unavailable" in page.content.decode()  # said to the staff member
    batch.refresh_from_db()
    assert batch.state == SettlementState.OPEN and batch.attempts == 1  # still down: still open, nothing signed
    assert not ChainTransaction.objects.filter(purpose=ChainTxPurpose.TRANSFER).exists()

    chain_node.fail_next(0)
    for _ in range(3):  # retried again and again: one transaction, paid once
        page = client.post(changelist, {"action": "retry", "_selected_action": [batch.pk]}, follow=True)
        assert page.status_code == 200
    batch.refresh_from_db()
    assert batch.state == SettlementState.SETTLED
    assert ChainTransaction.objects.filter(purpose=ChainTxPurpose.TRANSFER).count() == 1
    assert on_chain(sender, alice.user.evm_address) == 30 * PPT
    withdrawal.refresh_from_db()
    assert withdrawal.state == WithdrawalState.SETTLED
    retries = AuditLog.objects.filter(action="tokens.settlement_batch.retry", actor=staff)
    assert retries.count() == 3 and retries.last().after["state"] in ("sent", "settled")

    # The other back-office pages render: transactions (with retry), the hot wallet, withdrawals, the batch.
    for name in ("chaintransaction", "chainwallet", "withdrawal", "settlementbatch"):
        assert client.get(reverse(f"admin:tokens_{name}_changelist")).status_code == 200
    assert client.get(reverse("admin:tokens_settlementbatch_change", args=[batch.pk])).status_code == 200
    wallet_page = client.get(reverse("admin:tokens_chainwallet_changelist")).content.decode()
    assert sender.wallet.address in wallet_page
