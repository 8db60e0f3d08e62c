"""Sending the hot wallet's transactions: nonces, fees, signing, broadcast, receipts, replacement and finality.

Every transaction is stored (`ChainTransaction`) before it is broadcast, so nothing signed is ever forgotten:

- **One sender per wallet.** `chain_transaction_submit` locks the wallet's `ChainWallet` row, so concurrent workers
  and processes take nonces one at a time. The next nonce is the larger of the node's pending count
  (`eth_getTransactionCount(…, "pending")`) and one past the highest nonce of our own transactions still open
  (signed or sent): a restart, a second worker, or a node that lost its mempool cannot make two transactions share a
  nonce, and transactions the node lost are sent again (not re-signed with new nonces) by the sweep.
- **Idempotent.** `reference` is unique: submitting the same reference again returns the stored transaction. A
  reverted transaction is final; it is logged, counted (`peerpower_chain_transactions_failed_total`) and never
  re-sent, so a retry cannot mint twice — asking again takes a new reference, a decision for the caller.
- **Fees.** EIP-1559 (type 2) with EIP-155's chain id: priority fee from `eth_maxPriorityFeePerGas`, max fee
  twice the latest base fee plus that, capped at CHAIN_MAX_FEE_PER_GAS. Gas limit: `eth_estimateGas` plus
  CHAIN_GAS_MARGIN_PERCENT; an estimate that reverts signs nothing (`ChainCallWouldRevert`).
- **Stuck transactions.** `chain_transaction_advance` (the sweep, every CHAIN_SWEEP_SECONDS) replaces a transaction
  unmined CHAIN_REPLACE_AFTER_SECONDS after it was sent with the same nonce and both fees raised by 12.5 % (geth
  needs 10 %); every earlier hash is kept, since any version may be the one mined.
- **Finality.** Mined is not final: the transaction is `confirmed` once its block is finalized (or has
  CHAIN_FINALITY confirmations). A receipt that disappears (a reorganisation) puts it back to `sent`.
"""

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from hexbytes import HexBytes
from prometheus_client import Counter
from requests.exceptions import RequestException
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3Exception, Web3RPCError

from apps.tokens.chain.client import Finality, HotWallet, chain_id_check, hot_wallet_from_settings, web3_connect
from apps.tokens.choices import CHAIN_TX_OPEN_STATES, ChainTxPurpose, ChainTxState
from apps.tokens.errors import ChainCallWouldRevert, ChainUnavailable
from apps.tokens.models import ChainTransaction, ChainWallet

logger = logging.getLogger(__name__)

# Both EIP-1559 fields of a replacement: +12.5 % (geth's own resend bump; nodes require at least 10 %).
FEE_BUMP_NUMERATOR, FEE_BUMP_DENOMINATOR = 9, 8

CHAIN_TRANSACTIONS = Counter(
    "peerpower_chain_transactions_total", "Hot wallet transactions by purpose and final state", ["purpose", "state"]
)
CHAIN_TRANSACTIONS_FAILED = Counter(
    "peerpower_chain_transactions_failed_total",
    "Hot wallet transactions that reverted or lost their nonce (an alert: money on chain did not move)",
    ["purpose", "state"],
)
CHAIN_REPLACEMENTS = Counter("peerpower_chain_replacements_total", "Transactions replaced with a fee bump")

_NETWORK_ERRORS = (RequestException, OSError, TimeoutError)
# What a node that is down, refusing or failing raises through web3 (for callers outside the sender).
CHAIN_CALL_ERRORS = (*_NETWORK_ERRORS, Web3Exception)


@dataclass
class ChainSender:
    """The hot wallet on one node. `ChainSender.from_settings()` checks the node's chain id first."""

    w3: Web3
    wallet: HotWallet
    chain_id: int
    finality: Finality
    replace_after: timedelta
    max_fee_cap: int
    gas_margin_percent: int

    @classmethod
    def from_settings(cls, w3: Web3 | None = None) -> "ChainSender":
        w3 = w3 or web3_connect()
        chain_id_check(w3, settings.CHAIN_ID)
        return cls(
            w3=w3,
            wallet=hot_wallet_from_settings(),
            chain_id=settings.CHAIN_ID,
            finality=Finality.parse(settings.CHAIN_FINALITY),
            replace_after=timedelta(seconds=settings.CHAIN_REPLACE_AFTER_SECONDS),
            max_fee_cap=settings.CHAIN_MAX_FEE_PER_GAS,
            gas_margin_percent=settings.CHAIN_GAS_MARGIN_PERCENT,
        )

    # --- submitting ---

    def submit(
        self,
        *,
        purpose: ChainTxPurpose,
        reference: str,
        to: str | None,
        data: str,
        value: int = 0,
        amount: int | None = None,
    ) -> Any:
        """Sign, store and broadcast a transaction; the same `reference` again returns the stored one unchanged."""
        existing = ChainTransaction.objects.filter(reference=reference).first()
        if existing is not None:
            return existing
        call = {"from": self.wallet.address, "data": data, "value": value, **({"to": to} if to else {})}
        try:
            estimate = self.w3.eth.estimate_gas(call)
            priority_fee = self.w3.eth.max_priority_fee
            base_fee = self.w3.eth.get_block("latest")["baseFeePerGas"]
        except ContractLogicError as error:
            logger.warning("chain: %s %s would revert: %s", purpose, reference, error)
            raise ChainCallWouldRevert(details={"reason": str(error)}) from error
        except (*_NETWORK_ERRORS, Web3Exception) as error:
            raise ChainUnavailable() from error
        gas_limit = math.ceil(estimate * (100 + self.gas_margin_percent) / 100)
        max_fee = min(2 * base_fee + priority_fee, self.max_fee_cap)
        priority_fee = min(priority_fee, max_fee)
        with transaction.atomic():
            wallet_row, _ = ChainWallet.objects.select_for_update().get_or_create(
                chain_id=self.chain_id, address=self.wallet.address
            )
            # Another worker may have submitted the same reference while this one estimated.
            existing = ChainTransaction.objects.filter(reference=reference).first()
            if existing is not None:
                return existing
            nonce = self._next_nonce()
            fields = {"to": to or "", "data": data, "value": value, "gas_limit": gas_limit, "nonce": nonce}
            raw, tx_hash = self._sign(fields, max_fee=max_fee, priority_fee=priority_fee)
            tx = ChainTransaction.objects.create(
                chain_id=self.chain_id,
                sender=self.wallet.address,
                reference=reference,
                purpose=purpose,
                max_fee_per_gas=max_fee,
                max_priority_fee_per_gas=priority_fee,
                tx_hash=tx_hash,
                raw=raw,
                amount=amount,
                **fields,
            )
            wallet_row.last_nonce = nonce
            wallet_row.save(update_fields=["last_nonce"])
        logger.info("chain: signed %s %s nonce %d as %s", purpose, reference, nonce, tx_hash)
        self._broadcast(tx)
        return tx

    def _next_nonce(self) -> int:
        try:
            pending = self.w3.eth.get_transaction_count(self.wallet.address, "pending")
        except (*_NETWORK_ERRORS, Web3Exception) as error:
            raise ChainUnavailable() from error
        open_nonces = ChainTransaction.objects.filter(
            chain_id=self.chain_id, sender=self.wallet.address, state__in=(ChainTxState.SIGNED, ChainTxState.SENT)
        ).order_by("-nonce")
        highest_open = open_nonces.values_list("nonce", flat=True).first()
        return max(pending, -1 if highest_open is None else highest_open + 1)

    def _sign(self, fields: dict[str, Any], *, max_fee: int, priority_fee: int) -> tuple[str, str]:
        unsigned = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": fields["nonce"],
            "gas": fields["gas_limit"],
            "maxFeePerGas": int(max_fee),
            "maxPriorityFeePerGas": int(priority_fee),
            "data": fields["data"],
            "value": int(fields["value"]),
            **({"to": Web3.to_checksum_address(fields["to"])} if fields["to"] else {}),
        }
        signed = self.wallet.sign(unsigned)
        return signed.raw_transaction.to_0x_hex(), signed.hash.to_0x_hex()

    def _broadcast(self, tx: ChainTransaction, *, now: datetime | None = None) -> bool:
        """Send the latest version; True if the node took it (or knew it). A node's refusal is recorded."""
        try:
            self.w3.eth.send_raw_transaction(HexBytes(tx.raw))
        except Web3RPCError as error:
            message = str(error).lower()
            if "already known" in message or "known transaction" in message:
                pass
            elif "nonce too low" in message:
                # Some version of it (or someone else's transaction) took the nonce: the receipts will say which.
                tx.error = "nonce too low when sent"
                tx.save(update_fields=["error"])
                return False
            else:
                logger.error("chain: node refused %s %s: %s", tx.purpose, tx.reference, error)
                tx.error = str(error)[:1000]
                tx.save(update_fields=["error"])
                return False
        except (*_NETWORK_ERRORS, Web3Exception) as error:
            logger.warning("chain: could not send %s %s (sent again later): %s", tx.purpose, tx.reference, error)
            return False
        tx.state = ChainTxState.SENT if tx.state == ChainTxState.SIGNED else tx.state
        tx.sent_at = now or timezone.now()
        tx.save(update_fields=["state", "sent_at"])
        return True

    # --- following ---

    def advance(self, tx: ChainTransaction, *, now: datetime | None = None) -> ChainTransaction:
        """One step: look for a receipt of any version, then finality; send again or replace what is stuck."""
        now = now or timezone.now()
        if tx.state not in CHAIN_TX_OPEN_STATES:
            return tx
        try:
            receipt = self._receipt(tx)
            if receipt is not None:
                return self._mined(tx, receipt, now)
            if tx.state == ChainTxState.MINED:  # its block is gone (a reorganisation): wait for it again
                logger.warning("chain: %s %s left the chain; waiting for it again", tx.purpose, tx.reference)
                tx.state, tx.block_number, tx.receipt, tx.mined_at = ChainTxState.SENT, None, None, None
                tx.save(update_fields=["state", "block_number", "receipt", "mined_at"])
            if tx.state == ChainTxState.SIGNED:
                self._broadcast(tx, now=now)
            elif self._nonce_taken_by_another(tx):
                return self._fail(tx, ChainTxState.DROPPED, "its nonce was used by another transaction")
            elif tx.sent_at and now - tx.sent_at >= self.replace_after:
                self._replace(tx, now)
        except (*_NETWORK_ERRORS, Web3Exception) as error:
            logger.warning("chain: could not follow %s %s: %s", tx.purpose, tx.reference, error)
        return tx

    def _receipt(self, tx: ChainTransaction) -> dict[str, Any] | None:
        for tx_hash in tx.hashes:
            try:
                receipt = self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            except TransactionNotFound:
                continue
            if receipt is not None and receipt.get("blockNumber") is not None:
                return dict(receipt)
        return None

    def _nonce_taken_by_another(self, tx: ChainTransaction) -> bool:
        """No version has a receipt, yet the wallet's mined nonce count has passed this nonce."""
        if self.w3.eth.get_transaction_count(self.wallet.address, "latest") <= tx.nonce:
            return False
        return self._receipt(tx) is None  # asked again: it may have been mined since the first look

    def _mined(self, tx: ChainTransaction, receipt: dict[str, Any], now: datetime) -> ChainTransaction:
        mined_hash = receipt["transactionHash"].to_0x_hex()
        if mined_hash != tx.tx_hash:  # an earlier version was mined: it becomes the transaction's hash
            tx.replaced_hashes = [h for h in tx.hashes if h != mined_hash][::-1]
            tx.tx_hash = mined_hash
        tx.block_number = receipt["blockNumber"]
        tx.gas_used = receipt["gasUsed"]
        tx.effective_gas_price = receipt.get("effectiveGasPrice")
        tx.contract_address = receipt.get("contractAddress") or ""
        tx.receipt = json.loads(Web3.to_json(receipt))
        tx.mined_at = tx.mined_at or now
        if receipt["status"] != 1:
            tx.save()
            return self._fail(tx, ChainTxState.REVERTED, "reverted on chain")
        tx.state = ChainTxState.CONFIRMED if self._final(tx.block_number) else ChainTxState.MINED
        if tx.state == ChainTxState.CONFIRMED:
            tx.final_at = now
            CHAIN_TRANSACTIONS.labels(tx.purpose, tx.state).inc()
            logger.info("chain: %s %s confirmed in block %d", tx.purpose, tx.reference, tx.block_number)
        tx.save()
        return tx

    def _final(self, block_number: int) -> bool:
        if self.finality.finalized_tag:
            return block_number <= self.w3.eth.get_block("finalized")["number"]
        return self.w3.eth.block_number - block_number + 1 >= self.finality.confirmations

    def _fail(self, tx: ChainTransaction, state: ChainTxState, why: str) -> ChainTransaction:
        tx.state, tx.final_at = state, timezone.now()
        tx.error = tx.error or why
        tx.save()
        CHAIN_TRANSACTIONS.labels(tx.purpose, state).inc()
        CHAIN_TRANSACTIONS_FAILED.labels(tx.purpose, state).inc()
        logger.error(
            "chain: ALERT %s %s %s (nonce %d, hash %s): %s; not retried",
            tx.purpose,
            tx.reference,
            state,
            tx.nonce,
            tx.tx_hash,
            why,
        )
        return tx

    def _replace(self, tx: ChainTransaction, now: datetime) -> None:
        try:
            self.w3.eth.get_transaction(HexBytes(tx.tx_hash))
        except TransactionNotFound:
            self._broadcast(tx, now=now)  # the node lost it (restart, eviction): the same bytes again
            return
        max_fee = math.ceil(int(tx.max_fee_per_gas) * FEE_BUMP_NUMERATOR / FEE_BUMP_DENOMINATOR)
        priority_fee = math.ceil(int(tx.max_priority_fee_per_gas) * FEE_BUMP_NUMERATOR / FEE_BUMP_DENOMINATOR)
        if max_fee > self.max_fee_cap:
            logger.error(
                "chain: ALERT %s %s stuck at the fee cap (nonce %d, max fee %s wei)",
                tx.purpose,
                tx.reference,
                tx.nonce,
                tx.max_fee_per_gas,
            )
            return
        fields = {"to": tx.to, "data": tx.data, "value": tx.value, "gas_limit": tx.gas_limit, "nonce": tx.nonce}
        raw, tx_hash = self._sign(fields, max_fee=max_fee, priority_fee=priority_fee)
        previous = (tx.tx_hash, tx.raw, tx.max_fee_per_gas, tx.max_priority_fee_per_gas)
        tx.replaced_hashes = [*tx.replaced_hashes, tx.tx_hash]
        tx.tx_hash, tx.raw, tx.max_fee_per_gas, tx.max_priority_fee_per_gas = tx_hash, raw, max_fee, priority_fee
        if not self._broadcast(tx, now=now):
            # Not taken: keep the version the node has, so the next sweep tries again from it.
            tx.replaced_hashes = tx.replaced_hashes[:-1]
            tx.tx_hash, tx.raw, tx.max_fee_per_gas, tx.max_priority_fee_per_gas = previous
            tx.save()
            return
        tx.bumps += 1
        tx.save()
        CHAIN_REPLACEMENTS.inc()
        logger.warning(
            "chain: replaced %s %s (nonce %d) with fees +12.5 %%: %s", tx.purpose, tx.reference, tx.nonce, tx_hash
        )

    def wait(
        self,
        tx: ChainTransaction,
        *,
        timeout: float | None = None,
        poll: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> ChainTransaction:
        """Follow `tx` until it is final (confirmed, reverted, dropped) or `timeout` seconds pass (it then stays open
        and the sweep carries on; `ChainUnavailable` is raised)."""
        deadline = time.monotonic() + (settings.CHAIN_RECEIPT_TIMEOUT_SECONDS if timeout is None else timeout)
        while True:
            tx = self.advance(tx)
            if tx.state not in CHAIN_TX_OPEN_STATES:
                return tx
            if time.monotonic() >= deadline:
                raise ChainUnavailable(f"{tx.purpose} {tx.reference} is not final yet ({tx.state}).")
            sleep(poll)

    def sweep(self, *, now: datetime | None = None, limit: int = 500) -> int:
        """Advance every open transaction of this wallet, oldest nonce first; returns how many are still open."""
        open_txs = ChainTransaction.objects.filter(
            chain_id=self.chain_id, sender=self.wallet.address, state__in=CHAIN_TX_OPEN_STATES
        ).order_by("nonce")[:limit]
        still_open = 0
        for tx in open_txs:
            still_open += self.advance(tx, now=now).state in CHAIN_TX_OPEN_STATES
        return still_open
