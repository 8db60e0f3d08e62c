"""The hot wallet's sender against the development node over HTTP: chain id check, key handling, nonces, fees,
receipts, replacement of stuck transactions, reverts, outages and idempotency."""

import logging
from datetime import timedelta

import pytest
from web3 import Web3

from apps.tokens.chain import ppt
from apps.tokens.chain.client import Finality, hot_wallet_from_settings
from apps.tokens.chain.contract import UNITS_PER_LEDGER_UNIT
from apps.tokens.chain.sender import CHAIN_TRANSACTIONS_FAILED, ChainSender
from apps.tokens.choices import ChainTxPurpose, ChainTxState
from apps.tokens.errors import ChainCallWouldRevert, ChainMisconfigured, ChainUnavailable
from apps.tokens.models import ChainTransaction

from .conftest import DEV_KEY

ALICE = Web3.to_checksum_address("0x" + "a1" * 20)
BOB = Web3.to_checksum_address("0x" + "b0" * 20)


def test_a_node_on_another_chain_is_refused_with_a_clear_error(chain_settings, db):
    chain_settings.CHAIN_ID = 1961
    with pytest.raises(ChainMisconfigured, match="is on chain id 1953, but CHAIN_ID is 1961"):
        ChainSender.from_settings()


def test_an_unreachable_node_is_unavailable(chain_settings, db, closed_port):
    chain_settings.CHAIN_RPC_URL = f"http://127.0.0.1:{closed_port}"
    with pytest.raises(ChainUnavailable):
        ChainSender.from_settings()


def test_the_key_comes_from_the_environment_or_a_file_and_is_never_shown(settings, tmp_path):
    settings.CHAIN_HOT_WALLET_KEY = ""
    settings.CHAIN_HOT_WALLET_KEY_FILE = ""
    with pytest.raises(ChainMisconfigured, match="no hot wallet key"):
        hot_wallet_from_settings()
    key_file = tmp_path / "hot-wallet.key"
    key_file.write_text(DEV_KEY + "\n")
    settings.CHAIN_HOT_WALLET_KEY_FILE = str(key_file)
    wallet = hot_wallet_from_settings()
    assert wallet.address == "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
    assert DEV_KEY[2:] not in repr(wallet) and DEV_KEY[2:] not in str(wallet)
    settings.CHAIN_HOT_WALLET_KEY = "0x" + "zz" * 32
    with pytest.raises(ChainMisconfigured) as raised:
        hot_wallet_from_settings()
    assert "zz" not in str(raised.value) and raised.value.__cause__ is None


def test_finality_setting():
    assert Finality.parse("finalized") == Finality(finalized_tag=True)
    assert Finality.parse("12") == Finality(finalized_tag=False, confirmations=12)
    for wrong in ("0", "-1", "safe", ""):
        with pytest.raises(ChainMisconfigured):
            Finality.parse(wrong)


def test_mint_batch_is_signed_sent_mined_and_final_and_a_reference_mints_once(sender):
    tx = ppt.token_mint_batch(sender, reference="mint:batch:1", recipients=[(ALICE, 1_500_000), (BOB, 2)])
    assert tx.state == ChainTxState.SENT
    tx = sender.wait(tx)
    assert tx.state == ChainTxState.CONFIRMED
    assert tx.receipt["status"] == 1 and tx.block_number == tx.receipt["blockNumber"]
    assert tx.gas_used > 0 and tx.effective_gas_price > 0 and tx.final_at is not None
    raw = sender.w3.eth.get_transaction(tx.tx_hash)
    assert raw["type"] == 2 and raw["chainId"] == 1953 and raw["nonce"] == tx.nonce
    assert raw["gas"] >= tx.gas_used * 1.2 - 1  # the estimate plus the margin
    assert ppt.token_balance(sender, ALICE) == 1_500_000 * UNITS_PER_LEDGER_UNIT  # 1.5 PPT at 18 decimals
    assert ppt.token_total_supply(sender) == 1_500_002 * UNITS_PER_LEDGER_UNIT

    again = ppt.token_mint_batch(sender, reference="mint:batch:1", recipients=[(ALICE, 1_500_000), (BOB, 2)])
    assert again.pk == tx.pk
    assert ppt.token_total_supply(sender) == 1_500_002 * UNITS_PER_LEDGER_UNIT
    assert ChainTransaction.objects.filter(purpose=ChainTxPurpose.MINT).count() == 1


def test_the_contract_is_deployed_once_on_first_use_and_again_only_on_a_fresh_chain(sender, chain_settings):
    first = ppt.token_contract(sender).address
    assert ppt.token_contract(sender).address == first
    assert ChainTransaction.objects.filter(purpose=ChainTxPurpose.DEPLOY).count() == 1
    chain_settings.CHAIN_DEPLOY_IF_MISSING = False
    with pytest.raises(ChainMisconfigured, match="CHAIN_TOKEN_ADDRESS"):
        ppt.token_contract(sender)
    chain_settings.CHAIN_TOKEN_ADDRESS = first
    assert ppt.token_contract(sender).address == first


def test_nonces_are_consecutive_and_come_from_the_database_when_the_node_lost_a_transaction(sender, chain_node):
    ppt.token_contract(sender)  # deploy (nonce 0)
    chain_node.chain.set_automine(False)
    first = ppt.token_mint_batch(sender, reference="mint:1", recipients=[(ALICE, 1)])
    # The node forgets it (a restart, an eviction): its pending count goes back, the database still holds it.
    chain_node.chain._mempool.clear()
    assert sender.w3.eth.get_transaction_count(sender.wallet.address, "pending") == first.nonce
    restarted = ChainSender.from_settings()  # a new process: nothing in memory
    second = ppt.token_mint_batch(restarted, reference="mint:2", recipients=[(BOB, 1)])
    assert second.nonce == first.nonce + 1

    # The sweep sends the lost one again once it has waited long enough; both are then mined, in nonce order.
    later = first.sent_at + timedelta(seconds=31)
    restarted.sweep(now=later)
    chain_node.chain.mine()
    assert restarted.sweep() == 0
    states = ChainTransaction.objects.filter(purpose=ChainTxPurpose.MINT).values_list("state", flat=True)
    assert set(states) == {ChainTxState.CONFIRMED}
    assert ppt.token_total_supply(sender) == 2 * UNITS_PER_LEDGER_UNIT


def test_a_stuck_transaction_is_replaced_with_both_fees_raised_by_an_eighth(sender, chain_node):
    ppt.token_contract(sender)
    chain_node.chain.set_automine(False)
    tx = ppt.token_mint_batch(sender, reference="mint:stuck", recipients=[(ALICE, 7)])
    first_hash, max_fee, tip = tx.tx_hash, int(tx.max_fee_per_gas), int(tx.max_priority_fee_per_gas)

    sender.advance(tx, now=tx.sent_at + timedelta(seconds=29))
    assert tx.bumps == 0  # not yet
    sender.advance(tx, now=tx.sent_at + timedelta(seconds=30))
    tx.refresh_from_db()
    assert tx.bumps == 1 and tx.replaced_hashes == [first_hash] and tx.tx_hash != first_hash
    assert int(tx.max_fee_per_gas) * 8 >= max_fee * 9 and int(tx.max_priority_fee_per_gas) * 8 >= tip * 9
    assert tx.nonce == sender.w3.eth.get_transaction(tx.tx_hash)["nonce"]

    chain_node.chain.mine()
    tx = sender.advance(tx)
    assert tx.state == ChainTxState.CONFIRMED
    assert tx.receipt["transactionHash"] == tx.tx_hash  # the replacement is the one mined
    assert ppt.token_total_supply(sender) == 7 * UNITS_PER_LEDGER_UNIT


def test_a_reverted_transaction_is_recorded_alerted_and_never_sent_again(sender, chain_node, caplog):
    ppt.token_mint_batch(sender, reference="mint:custody", recipients=[(sender.wallet.address, 10)])
    chain_node.chain.set_automine(False)
    # Both pass gas estimation against the current state; the second cannot be paid once the first is mined.
    first = ppt.token_transfer_batch(sender, reference="pay:1", recipients=[(ALICE, 10)])
    second = ppt.token_transfer_batch(sender, reference="pay:2", recipients=[(BOB, 10)])
    failed_before = CHAIN_TRANSACTIONS_FAILED.labels("transfer", "reverted")._value.get()
    chain_node.chain.mine()
    with caplog.at_level(logging.ERROR, logger="apps.tokens.chain.sender"):
        assert sender.sweep() == 0
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == ChainTxState.CONFIRMED
    assert second.state == ChainTxState.REVERTED and second.receipt["status"] == 0
    assert CHAIN_TRANSACTIONS_FAILED.labels("transfer", "reverted")._value.get() == failed_before + 1
    assert "ALERT transfer pay:2 reverted" in caplog.text

    chain_node.chain.set_automine(True)
    count = sender.w3.eth.get_transaction_count(sender.wallet.address)
    sender.sweep(now=second.sent_at + timedelta(hours=1))
    again = ppt.token_transfer_batch(sender, reference="pay:2", recipients=[(BOB, 10)])
    assert again.pk == second.pk and again.state == ChainTxState.REVERTED
    assert sender.w3.eth.get_transaction_count(sender.wallet.address) == count  # nothing was sent


def test_a_call_that_would_revert_signs_nothing(sender):
    ppt.token_contract(sender)
    nonce = sender.w3.eth.get_transaction_count(sender.wallet.address, "pending")
    with pytest.raises(ChainCallWouldRevert):
        ppt.token_burn(sender, reference="burn:1", amount=5)
    assert not ChainTransaction.objects.filter(reference="burn:1").exists()
    assert sender.w3.eth.get_transaction_count(sender.wallet.address, "pending") == nonce


def test_a_broadcast_that_fails_is_kept_signed_and_sent_by_the_sweep(sender, chain_node):
    ppt.token_contract(sender)
    chain_node.fail_next(1, "eth_sendRawTransaction")
    tx = ppt.token_mint_batch(sender, reference="mint:outage", recipients=[(ALICE, 3)])
    assert tx.state == ChainTxState.SIGNED and tx.sent_at is None
    assert ppt.token_total_supply(sender) == 0

    tx = sender.advance(tx)
    assert tx.state == ChainTxState.SENT
    assert sender.wait(tx).state == ChainTxState.CONFIRMED
    assert ppt.token_total_supply(sender) == 3 * UNITS_PER_LEDGER_UNIT


def test_an_outage_before_signing_stores_nothing(sender, chain_node):
    ppt.token_contract(sender)
    chain_node.fail_next(1, "eth_estimateGas")
    with pytest.raises(ChainUnavailable):
        ppt.token_mint_batch(sender, reference="mint:down", recipients=[(ALICE, 3)])
    assert not ChainTransaction.objects.filter(reference="mint:down").exists()


def test_confirmations_instead_of_the_finalized_tag(sender, chain_node):
    ppt.token_contract(sender)
    sender.finality = Finality(finalized_tag=False, confirmations=3)
    tx = ppt.token_mint_batch(sender, reference="mint:conf", recipients=[(ALICE, 1)])
    assert sender.advance(tx).state == ChainTxState.MINED
    chain_node.chain.mine()
    assert sender.advance(tx).state == ChainTxState.MINED
    chain_node.chain.mine()
    assert sender.advance(tx).state == ChainTxState.CONFIRMED


def test_the_sweep_task_follows_open_transactions(sender, chain_node):
    from apps.tokens.tasks import chain_sweep

    ppt.token_contract(sender)
    chain_node.chain.set_automine(False)
    ppt.token_mint_batch(sender, reference="mint:task", recipients=[(ALICE, 1)])
    assert chain_sweep() == 1
    chain_node.chain.mine()
    assert chain_sweep() == 0
    assert ChainTransaction.objects.get(reference="mint:task").state == ChainTxState.CONFIRMED


def test_the_back_office_shows_chain_transactions_read_only(client, sender):
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    tx = ppt.token_mint_batch(sender, reference="mint:admin", recipients=[(ALICE, 1)])
    client.force_login(get_user_model().objects.create_superuser("+85512000109", "pw-staff-9"))
    listing = client.get(reverse("admin:tokens_chaintransaction_changelist"), {"q": tx.tx_hash})
    assert [found.pk for found in listing.context["cl"].result_list] == [tx.pk]
    page = client.get(reverse("admin:tokens_chaintransaction_change", args=[tx.pk]))
    assert page.status_code == 200
    assert tx.raw[2:40] not in page.content.decode()  # the signed bytes stay out of the page
    assert client.post(reverse("admin:tokens_chaintransaction_delete", args=[tx.pk])).status_code == 403
