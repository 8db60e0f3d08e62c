"""Connecting to the chain: settings, the hot wallet's key, and the chain id check.

The key is read from CHAIN_HOT_WALLET_KEY or the file CHAIN_HOT_WALLET_KEY_FILE and kept inside a `HotWallet` whose
representation shows only the address, so it cannot reach a log line or an error report by accident.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import Web3Exception

from apps.tokens.errors import ChainMisconfigured, ChainUnavailable


@dataclass(frozen=True)
class HotWallet:
    """The custodial wallet that signs PeerPower's transactions (minter and burner of the token)."""

    account: LocalAccount = field(repr=False)

    @property
    def address(self) -> str:
        return self.account.address

    def __repr__(self) -> str:
        return f"HotWallet({self.address})"

    def sign(self, transaction: dict[str, Any]) -> Any:
        return self.account.sign_transaction(transaction)


def hot_wallet_from_settings() -> HotWallet:
    key = settings.CHAIN_HOT_WALLET_KEY.strip()
    if not key and settings.CHAIN_HOT_WALLET_KEY_FILE:
        try:
            key = Path(settings.CHAIN_HOT_WALLET_KEY_FILE).read_text().strip()
        except OSError as error:
            raise ChainMisconfigured(f"CHAIN_HOT_WALLET_KEY_FILE cannot be read: {error.strerror}") from None
    if not key:
        raise ChainMisconfigured("Set CHAIN_HOT_WALLET_KEY_FILE or CHAIN_HOT_WALLET_KEY: no hot wallet key.")
    try:
        account = Account.from_key(key)
    except (ValueError, TypeError):
        # Not `from error`: the exception's text could quote the key.
        raise ChainMisconfigured("The hot wallet key is not a 32-byte hex private key.") from None
    return HotWallet(account)


@dataclass(frozen=True)
class Finality:
    """When a mined transaction is final: the node's finalized block, or `confirmations` blocks."""

    finalized_tag: bool
    confirmations: int = 0

    @classmethod
    def parse(cls, value: str) -> "Finality":
        value = str(value).strip().lower()
        if value == "finalized":
            return cls(finalized_tag=True)
        if value.isdigit() and int(value) >= 1:
            return cls(finalized_tag=False, confirmations=int(value))
        raise ChainMisconfigured(f'CHAIN_FINALITY must be "finalized" or a number of confirmations ≥ 1, not {value!r}')


def web3_connect(url: str | None = None, *, timeout: float | None = None) -> Web3:
    """An HTTP JSON-RPC connection. web3's own retries are off: a request that fails fails fast, and what was
    signed is sent again by the sweep (`chain_sweep`), which is the one place that retries."""
    return Web3(
        Web3.HTTPProvider(
            url or settings.CHAIN_RPC_URL,
            request_kwargs={"timeout": timeout or settings.CHAIN_RPC_TIMEOUT_SECONDS},
            exception_retry_configuration=None,
        )
    )


def chain_id_check(w3: Web3, expected: int) -> None:
    """Refuse a node on another chain: a key that signs for the wrong chain id would sign nothing valid, and a
    testnet node mistaken for mainnet would make the ledger mirror a chain nobody reads."""
    try:
        actual = w3.eth.chain_id
    except (Web3Exception, OSError) as error:
        raise ChainUnavailable(f"{_endpoint(w3)} did not answer eth_chainId: {error}") from error
    if actual != expected:
        raise ChainMisconfigured(
            f"The node at {_endpoint(w3)} is on chain id {actual}, but CHAIN_ID is {expected}: check CHAIN_RPC_URL."
        )


def _endpoint(w3: Web3) -> str:
    return str(getattr(w3.provider, "endpoint_uri", "the node"))
