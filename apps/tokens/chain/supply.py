"""Keeping the chain's PPT supply equal to the ledger's, and checking that it is.

The ledger is the source of truth: PPT outstanding = issued − redeemed = the issuance account's net posted debit.
`supply_sync` (beat, every CHAIN_SUPPLY_SYNC_SECONDS) mints the difference to the custodial hot wallet in one
transaction when the ledger is ahead, or burns it from the custodial wallet when redemptions put the ledger behind:
whatever the ledger booked since the last run goes on chain as one batch. It counts what it has already sent and
not seen fail (signed, sent, mined, confirmed), so a run while an earlier mint is still in flight does not mint it
again, and its reference is the supply it brings the chain to (`supply:mint:to:<units>`): two runs that see the same
state sign one transaction. Runs are serialised by a lock as well.

`chain_reconcile` (`manage.py chain_reconcile`, beat daily) compares, in ledger units:
- on-chain total supply with what our confirmed mints and burns add up to: a difference means someone else minted or
  burned (a break);
- on-chain total supply with the ledger's outstanding PPT: the gap is what the next sync settles (reported on
  /metrics as `peerpower_chain_supply_gap`, not a break);
- the custodial wallet's balance with the supply less what was paid out on chain (confirmed transfers): a break;
- a supply that is not a whole number of ledger units (a break);
- the withdrawals the ledger posted (the chain treasury's balance) with the settlement batches final on chain (a break).
It also reports the hot wallet's gas balance (`peerpower_chain_hot_wallet_gas_wei`).
"""

import logging
from dataclasses import dataclass, field

from django.db.models import Q, Sum
from prometheus_client import Gauge

from apps.core.locks import distributed_lock
from apps.tokens.chain import ppt
from apps.tokens.chain.contract import to_chain_units
from apps.tokens.chain.sender import ChainSender
from apps.tokens.choices import CHAIN_TX_OPEN_STATES, ChainTxPurpose, ChainTxState, PlatformAccount, SettlementState
from apps.tokens.models import ChainTransaction, SettlementBatch
from apps.tokens.selectors import account_balance
from apps.tokens.services import platform_account

logger = logging.getLogger(__name__)

CHAIN_SUPPLY_GAP = Gauge(
    "peerpower_chain_supply_gap",
    "Ledger PPT outstanding minus on-chain supply, in ledger units (to be minted; negative: to be burned)",
    multiprocess_mode="mostrecent",
)
CHAIN_HOT_WALLET_GAS = Gauge(
    "peerpower_chain_hot_wallet_gas_wei",
    "The hot wallet's native balance (wei), which pays for every transaction's gas",
    multiprocess_mode="mostrecent",
)
CHAIN_RECONCILE_BREAKS = Gauge(
    "peerpower_chain_reconcile_breaks", "Breaks the latest chain reconciliation found", multiprocess_mode="mostrecent"
)
CHAIN_RECONCILE_DIFFERENCE = Gauge(
    "peerpower_chain_reconcile_difference",
    "Differences the latest chain reconciliation found, in ledger units (0 when sound): supply = on-chain supply "
    "minus our confirmed mints and burns; custody = custodial balance minus (supply minus paid out on chain)",
    ["check"],
    multiprocess_mode="mostrecent",
)


def ledger_outstanding() -> int:
    """PPT issued minus PPT redeemed (posted), in ledger units: the issuance account's net debit."""
    balance = account_balance(platform_account(PlatformAccount.ISSUANCE))
    return balance.debits_posted - balance.credits_posted


def _sum(purpose: ChainTxPurpose, sender: ChainSender, states: tuple[str, ...]) -> int:
    rows = ChainTransaction.objects.filter(chain_id=sender.chain_id, purpose=purpose, state__in=states)
    return rows.aggregate(total=Sum("amount", filter=Q(amount__isnull=False)))["total"] or 0


def mirrored(sender: ChainSender, *, confirmed_only: bool = False) -> int:
    """Our mints minus our burns: confirmed ones, or (by default) every one not seen to fail."""
    states = (ChainTxState.CONFIRMED,) if confirmed_only else (*CHAIN_TX_OPEN_STATES, ChainTxState.CONFIRMED)
    return _sum(ChainTxPurpose.MINT, sender, states) - _sum(ChainTxPurpose.BURN, sender, states)


def supply_sync(sender: ChainSender) -> ChainTransaction | None:
    """Mint (or burn) the custodial wallet's share so the chain's supply reaches the ledger's outstanding PPT."""
    with distributed_lock("tokens.chain_supply_sync", ttl=300) as acquired:
        if not acquired:
            return None
        target = ledger_outstanding()
        current = mirrored(sender)
        gap = target - current
        CHAIN_SUPPLY_GAP.set(gap)
        if gap == 0:
            return None
        reference = f"supply:{'mint' if gap > 0 else 'burn'}:to:{target}:from:{current}"
        if gap > 0:
            tx = ppt.token_mint_batch(sender, reference=reference, recipients=[(sender.wallet.address, gap)])
        else:
            tx = ppt.token_burn(sender, reference=reference, amount=-gap)
        logger.info("chain: supply %s of %d ledger units (%d → %d) as %s", tx.purpose, abs(gap), current, target, tx)
        return tx


@dataclass
class ChainReconciliation:
    ledger_outstanding: int
    chain_supply: int
    chain_supply_remainder: int
    mirrored_confirmed: int
    custodial_balance: int
    paid_out: int
    breaks: list[str] = field(default_factory=list)

    @property
    def gap(self) -> int:
        return self.ledger_outstanding - self.chain_supply


def chain_reconcile(sender: ChainSender) -> ChainReconciliation:
    raw_supply = ppt.token_total_supply(sender)
    supply, remainder = ppt.ledger_units(raw_supply)
    custody, custody_remainder = ppt.ledger_units(ppt.token_balance(sender, sender.wallet.address))
    paid_out = _sum(ChainTxPurpose.TRANSFER, sender, (ChainTxState.CONFIRMED,))
    result = ChainReconciliation(
        ledger_outstanding=ledger_outstanding(),
        chain_supply=supply,
        chain_supply_remainder=remainder,
        mirrored_confirmed=mirrored(sender, confirmed_only=True),
        custodial_balance=custody,
        paid_out=paid_out,
    )
    if remainder or custody_remainder:
        result.breaks.append("the supply or the custodial balance is not a whole number of ledger units")
    if raw_supply != to_chain_units(result.mirrored_confirmed):
        result.breaks.append(
            f"on-chain supply {supply} ≠ our confirmed mints − burns {result.mirrored_confirmed}: "
            "someone else minted or burned"
        )
    if custody != supply - paid_out:
        result.breaks.append(f"custodial balance {custody} ≠ supply {supply} − paid out on chain {paid_out}")
    withdrawn, settled = withdrawals_booked()
    if withdrawn != settled:
        result.breaks.append(f"withdrawals posted in the ledger {withdrawn} ≠ withdrawals settled on chain {settled}")
    CHAIN_HOT_WALLET_GAS.set(sender.w3.eth.get_balance(sender.wallet.address))
    CHAIN_SUPPLY_GAP.set(result.gap)
    CHAIN_RECONCILE_BREAKS.set(len(result.breaks))
    CHAIN_RECONCILE_DIFFERENCE.labels(check="supply").set(supply - result.mirrored_confirmed)
    CHAIN_RECONCILE_DIFFERENCE.labels(check="custody").set(custody - (supply - paid_out))
    for line in result.breaks:
        logger.error("chain: ALERT reconciliation break: %s", line)
    return result


def withdrawals_booked() -> tuple[int, int]:
    """(PPT the ledger's chain treasury holds as posted withdrawals, PPT of the settlement batches final on chain)."""
    treasury = account_balance(platform_account(PlatformAccount.CHAIN_TREASURY))
    settled = SettlementBatch.objects.filter(state=SettlementState.SETTLED).aggregate(total=Sum("amount"))["total"]
    return treasury.credits_posted - treasury.debits_posted, settled or 0
