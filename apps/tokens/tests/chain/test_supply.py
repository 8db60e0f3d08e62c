"""The chain's supply follows the ledger: issued PPT is minted to the custodial wallet in one batch per sync,
redeemed PPT is burned, nothing twice; the reconciliation finds what does not add up."""

import pytest
from web3 import Web3

from apps.tokens.chain import ppt
from apps.tokens.chain.contract import UNITS_PER_LEDGER_UNIT
from apps.tokens.chain.supply import CHAIN_RECONCILE_BREAKS, CHAIN_SUPPLY_GAP, chain_reconcile, supply_sync
from apps.tokens.choices import ChainTxPurpose, ChainTxState, Reason
from apps.tokens.models import ChainTransaction
from apps.tokens.services import TransferSpec, transfers_create
from apps.tokens.tests.conftest import fund, next_id

ALICE = Web3.to_checksum_address("0x" + "a1" * 20)


def redeem(account, issuance, amount: int) -> None:
    spec = TransferSpec(
        id=next_id("redeem"), amount=amount, debit_account_id=account.pk, credit_account_id=issuance.pk,
        reason=Reason.PAYOUT,
    )  # fmt: skip
    assert transfers_create([spec]) == ["ok"]


def supply(sender) -> int:
    return ppt.token_total_supply(sender) // UNITS_PER_LEDGER_UNIT


def test_issued_ppt_is_minted_once_per_sync_and_redeemed_ppt_burned(sender, chain_node, client_account, issuance):
    assert supply_sync(sender) is None  # nothing issued: nothing to do
    fund(client_account, 700)
    fund(client_account, 300)
    ppt.token_contract(sender)  # deployed while blocks are still mined
    chain_node.chain.set_automine(False)
    mint = supply_sync(sender)
    assert mint.purpose == ChainTxPurpose.MINT and mint.amount == 1_000
    # Still in flight: a second run does not mint it again, and the same state gives the same reference.
    assert supply_sync(sender) is None
    chain_node.chain.set_automine(True)
    assert sender.wait(mint).state == ChainTxState.CONFIRMED
    assert supply(sender) == 1_000
    assert ppt.token_balance(sender, sender.wallet.address) == 1_000 * UNITS_PER_LEDGER_UNIT

    redeem(client_account, issuance, 250)
    fund(client_account, 50)
    burn = sender.wait(supply_sync(sender))
    assert burn.purpose == ChainTxPurpose.BURN and burn.amount == 200 and burn.state == ChainTxState.CONFIRMED
    assert supply(sender) == 800
    assert supply_sync(sender) is None
    assert ChainTransaction.objects.filter(purpose__in=[ChainTxPurpose.MINT, ChainTxPurpose.BURN]).count() == 2


def test_reconciliation_reports_the_gap_and_breaks(sender, client_account, capsys):
    from django.core.management import call_command

    fund(client_account, 500)
    result = chain_reconcile(sender)
    assert (result.ledger_outstanding, result.chain_supply, result.gap, result.breaks) == (500, 0, 500, [])
    assert CHAIN_SUPPLY_GAP._value.get() == 500

    sender.wait(supply_sync(sender))
    sender.wait(ppt.token_transfer_batch(sender, reference="pay:1", recipients=[(ALICE, 120)]))
    result = chain_reconcile(sender)
    assert (result.chain_supply, result.gap, result.custodial_balance, result.paid_out) == (500, 0, 380, 120)
    assert result.breaks == [] and CHAIN_RECONCILE_BREAKS._value.get() == 0

    # Someone else mints with the hot wallet's key, outside the sender: the chain no longer adds up.
    token = ppt.token_contract(sender)
    account = sender.wallet.account
    tx = token.functions.mint(ALICE, 7).build_transaction(
        {"from": account.address, "nonce": sender.w3.eth.get_transaction_count(account.address, "pending")}
    )
    sender.w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    result = chain_reconcile(sender)
    assert len(result.breaks) == 2 and CHAIN_RECONCILE_BREAKS._value.get() == 2
    assert "someone else minted or burned" in result.breaks[1]
    assert "not a whole number of ledger units" in result.breaks[0]
    with pytest.raises(SystemExit) as exited:
        call_command("chain_reconcile")
    assert exited.value.code == 1
    assert "BREAK" in capsys.readouterr().out


def test_reconciliation_differences_and_hot_wallet_gas_on_metrics(sender, client_account, client):
    from apps.core.tests.metrics_scrape import scrape, value
    from apps.tokens.chain.gas import hot_wallet_gas_record

    fund(client_account, 500)
    sender.wait(supply_sync(sender))
    chain_reconcile(sender)
    samples = scrape(client)
    assert value(samples, "peerpower_chain_reconcile_difference", check="supply") == 0
    assert value(samples, "peerpower_chain_reconcile_difference", check="custody") == 0

    # Three PPT minted outside the sender, to someone else: the supply is 3 over, the custodial wallet 3 short of it.
    token = ppt.token_contract(sender)
    account = sender.wallet.account
    tx = token.functions.mint(ALICE, 3 * UNITS_PER_LEDGER_UNIT).build_transaction(
        {"from": account.address, "nonce": sender.w3.eth.get_transaction_count(account.address, "pending")}
    )
    sender.w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    chain_reconcile(sender)
    wei = hot_wallet_gas_record(sender)
    samples = scrape(client)
    assert value(samples, "peerpower_chain_reconcile_difference", check="supply") == 3
    assert value(samples, "peerpower_chain_reconcile_difference", check="custody") == -3
    assert wei == sender.w3.eth.get_balance(account.address) > 0
    assert value(samples, "peerpower_chain_hot_wallet_gas") == wei / 10**18
