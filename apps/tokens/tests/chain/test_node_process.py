"""`manage.py chain_node` in its own process on a free port: web3's HTTPProvider, pending nonces, EIP-1559
transactions, receipts, replacement in the mempool, and fault injection over the wire."""

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from eth_account import Account
from web3 import Web3
from web3.exceptions import Web3RPCError

ROOT = Path(__file__).resolve().parents[4]
KEY = "0x" + "00" * 31 + "02"  # the node's second pre-funded account
BOB = "0x" + "b0" * 20


@pytest.fixture
def node_url() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "chain_node", "--port", "0", "--chain-id", "1953"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "peerpower.settings.test"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first_line = process.stdout.readline()
        match = re.search(r"listening on (http://\S+) \(chain id 1953\)", first_line)
        assert match, first_line + process.stdout.read()
        yield match.group(1)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def _send(w3: Web3, account, nonce: int, max_fee: int, tip: int, value: int = 1) -> str:
    tx = {"type": 2, "chainId": 1953, "nonce": nonce, "to": Web3.to_checksum_address(BOB), "value": value}
    tx |= {"gas": 21_000, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip}
    return w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction).to_0x_hex()


def test_web3_over_http_against_the_node_process(node_url):
    w3 = Web3(Web3.HTTPProvider(node_url, exception_retry_configuration=None))
    account = Account.from_key(KEY)
    assert w3.eth.chain_id == 1953
    assert w3.eth.get_balance(account.address) > 10**21
    base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
    tip = w3.eth.max_priority_fee

    # Automine: mined at once, with a receipt and an EIP-1559 effective price between base fee and max fee.
    tx_hash = _send(w3, account, 0, 2 * base_fee + tip, tip)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=5)
    assert receipt["status"] == 1 and receipt["gasUsed"] == 21_000
    assert receipt["effectiveGasPrice"] <= 2 * base_fee + tip
    assert w3.eth.get_transaction(tx_hash)["type"] == 2
    assert w3.eth.get_transaction_count(account.address, "pending") == 1
    with pytest.raises(Web3RPCError, match="nonce too low"):
        _send(w3, account, 0, 2 * base_fee + tip, tip, value=2)

    # Mining stopped: the pending count includes what waits; a replacement needs both fees 10 % higher.
    w3.provider.make_request("miner_stop", [])
    held = _send(w3, account, 1, 2 * base_fee + tip, tip)
    assert w3.eth.get_transaction_count(account.address, "pending") == 2
    assert w3.eth.get_transaction_count(account.address, "latest") == 1
    assert w3.eth.get_transaction(held)["blockNumber"] is None
    with pytest.raises(Web3RPCError, match="replacement transaction underpriced"):
        _send(w3, account, 1, (2 * base_fee + tip) * 2, tip, value=2)
    replacement = _send(w3, account, 1, (2 * base_fee + tip) * 9 // 8 + 1, tip * 9 // 8 + 1, value=2)
    w3.provider.make_request("evm_mine", [])
    assert w3.eth.get_transaction_receipt(replacement)["status"] == 1
    with pytest.raises(Exception, match="not found"):
        w3.eth.get_transaction_receipt(held)

    # Fault injection, over the wire: the next request answers 503.
    requests.post(node_url, json={"jsonrpc": "2.0", "id": 1, "method": "dev_failNext", "params": [1]}, timeout=5)
    with pytest.raises(requests.HTTPError, match="503"):
        w3.eth.get_block_number()
    assert w3.eth.block_number >= 2
