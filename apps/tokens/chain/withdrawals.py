"""Paying withdrawals on chain: settlement batches of `transferBatch` from the custodial wallet, posted once final.

`withdrawals_settle` (beat, every CHAIN_SETTLE_SECONDS; also the admin's retry) runs three steps, each safe to run
twice, in any number of workers at once, and with the chain down:

1. **Batch.** Requested withdrawals are put in a new `SettlementBatch`, at most CHAIN_SETTLEMENT_BATCH_SIZE each, under
   their row locks (`SKIP LOCKED`: two workers take different withdrawals). A withdrawal's batch is set once and never
   changes, so it is paid by one transaction at most.
2. **Send.** An open batch's transaction is signed and broadcast with the batch's own reference
   (`withdrawals:batch:<id>`): the sender signs a reference once, so a retry, a second worker or a restart finds the
   stored transaction instead of paying again. The chain or RPC down (`ChainUnavailable`), or the custodial wallet not
   able to pay yet (`ChainCallWouldRevert`: the supply sync has not minted the PPT yet), leaves the batch open: the
   next run tries again. What was signed but not accepted by the node is sent again, as the same bytes, by the sweep.
3. **Settle.** A batch whose transaction is final is settled: confirmed (CHAIN_FINALITY: the finalized block or N
   confirmations, so a reorganisation cannot undo it afterwards) → its withdrawals' transfers are posted; reverted →
   voided (the PPT is back in the wallets). A transaction that lost its nonce to another one is not voided: whether
   the tokens moved must be checked first, so the batch waits for a person (`attention`, an alert).

Following a transaction to finality (receipts, replacement of stuck ones) is the sweep's job (`chain_sweep`), the one
place that advances transactions, so two processes never replace the same transaction at once.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from prometheus_client import Counter

from apps.audit.services import audit_record
from apps.tokens.chain import ppt
from apps.tokens.chain.contract import MAX_BATCH
from apps.tokens.chain.sender import CHAIN_CALL_ERRORS, ChainSender
from apps.tokens.chain.supply import CHAIN_HOT_WALLET_GAS
from apps.tokens.choices import ChainTxState, Reason, SettlementState, TransferStatus, WithdrawalState
from apps.tokens.errors import ChainCallWouldRevert, ChainMisconfigured, ChainUnavailable
from apps.tokens.models import ChainTransaction, SettlementBatch, Transfer, Withdrawal
from apps.tokens.services import TransferSpec, transfers_create

logger = logging.getLogger(__name__)

WITHDRAWAL = Reason.WITHDRAWAL
WITHDRAWALS_SETTLED = Counter(
    "peerpower_withdrawals_total", "Withdrawals settled on chain or failed, by outcome", ["outcome"]
)


@dataclass
class SettleReport:
    batched: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)
    settled: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def withdrawals_settle(sender: ChainSender) -> SettleReport:
    """One settlement run: batch what is requested, send what is batched, settle what is final."""
    report = SettleReport()
    while batch := withdrawals_batch():
        report.batched.append(batch.pk)
    for batch_id in (
        SettlementBatch.objects.filter(state=SettlementState.OPEN).order_by("pk").values_list("pk", flat=True)
    ):
        batch = batch_send(sender, batch_id)
        (report.sent if batch.state == SettlementState.SENT else report.waiting).append(batch_id)
    for batch_id in (
        SettlementBatch.objects.filter(state=SettlementState.SENT).order_by("pk").values_list("pk", flat=True)
    ):
        state = batch_settle(batch_id).state
        if state == SettlementState.SETTLED:
            report.settled.append(batch_id)
        elif state == SettlementState.FAILED:
            report.failed.append(batch_id)
    try:  # what every transaction pays gas from, on /metrics between the daily reconciliations
        CHAIN_HOT_WALLET_GAS.set(sender.w3.eth.get_balance(sender.wallet.address))
    except CHAIN_CALL_ERRORS:
        pass
    return report


def withdrawals_batch(*, size: int | None = None) -> SettlementBatch | None:
    """Put up to `size` requested withdrawals, oldest first, in a new batch; None when none is waiting."""
    size = min(size or settings.CHAIN_SETTLEMENT_BATCH_SIZE, MAX_BATCH)
    with transaction.atomic():
        chosen = list(
            Withdrawal.objects.select_for_update(skip_locked=True)
            .filter(state=WithdrawalState.REQUESTED, batch__isnull=True)
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)[:size]
        )
        if not chosen:
            return None
        batch = SettlementBatch.objects.create()
        # Conditional on the batch still being empty: a row is locked here, but say so in the statement as well.
        joined = Withdrawal.objects.filter(pk__in=chosen, batch__isnull=True, state=WithdrawalState.REQUESTED).update(
            batch=batch, state=WithdrawalState.BATCHED
        )
        totals = batch.withdrawals.aggregate(total=Sum("amount"))
        batch.recipients, batch.amount = joined, totals["total"] or 0
        batch.save(update_fields=["recipients", "amount"])
    logger.info("chain: settlement batch %d of %d withdrawals (%d units)", batch.pk, batch.recipients, batch.amount)
    return batch


def batch_send(sender: ChainSender, batch_id: int) -> SettlementBatch:
    """Sign and broadcast an open batch's `transferBatch` (once: the batch's reference); left open if the chain
    cannot take it now."""
    batch = SettlementBatch.objects.get(pk=batch_id)
    if batch.state != SettlementState.OPEN:
        return batch
    recipients = list(batch.withdrawals.order_by("pk").values_list("address", "amount"))
    try:
        try:
            tx = ppt.token_transfer_batch(sender, reference=batch.reference, recipients=recipients)
        except CHAIN_CALL_ERRORS as error:
            raise ChainUnavailable() from error
    except (ChainUnavailable, ChainCallWouldRevert, ChainMisconfigured) as error:
        # Nothing was signed (or it is stored and the sweep sends it): the batch stays open for the next run.
        SettlementBatch.objects.filter(pk=batch.pk, state=SettlementState.OPEN).update(
            attempts=batch.attempts + 1, error=f"{error.code}: {error.message} {error.details or ''}"[:1000]
        )
        logger.warning("chain: settlement batch %d not sent yet: %s", batch.pk, error.code)
        batch.refresh_from_db()
        return batch
    SettlementBatch.objects.filter(pk=batch.pk, state=SettlementState.OPEN).update(
        chain_transaction=tx, state=SettlementState.SENT, attempts=batch.attempts + 1, error=""
    )
    batch.refresh_from_db()
    return batch


def batch_settle(batch_id: int) -> SettlementBatch:
    """Post (confirmed) or void (reverted) a sent batch's withdrawals once its transaction is final; exactly once,
    under the batch's row lock, with transfer ids that are idempotency keys besides."""
    with transaction.atomic():
        batch = (
            SettlementBatch.objects.select_for_update(of=("self",)).select_related("chain_transaction").get(pk=batch_id)
        )
        tx = batch.chain_transaction
        if batch.state != SettlementState.SENT or tx is None:
            return batch
        now = timezone.now()
        withdrawals = list(batch.withdrawals.order_by("pk"))
        if tx.state == ChainTxState.CONFIRMED:
            specs = [
                TransferSpec(id=f"{w.transfer_id}:post", post_pending_id=w.transfer_id, reason=WITHDRAWAL)
                for w in withdrawals
            ]
            outcome, batch_state, withdrawal_state = "settled", SettlementState.SETTLED, WithdrawalState.SETTLED
        elif tx.state == ChainTxState.REVERTED:
            specs = [
                TransferSpec(id=f"{w.transfer_id}:void", void_pending_id=w.transfer_id, reason=WITHDRAWAL)
                for w in withdrawals
            ]
            outcome, batch_state, withdrawal_state = "failed", SettlementState.FAILED, WithdrawalState.FAILED
        elif tx.state == ChainTxState.DROPPED:
            batch.state, batch.error = SettlementState.ATTENTION, f"transaction {tx.tx_hash} dropped: {tx.error}"
            batch.save(update_fields=["state", "error"])
            logger.error("chain: ALERT settlement batch %d: its transaction lost its nonce; check by hand", batch.pk)
            return batch
        else:
            return batch  # not final yet
        results = transfers_create(specs, now=now)
        unexpected = [(spec.id, result) for spec, result in zip(specs, results, strict=True) if result != "ok"]
        if unexpected and not _already_resolved(specs, withdrawal_state):
            # Never settle half a batch: roll back and say so (the ledger refused something it should not have).
            raise RuntimeError(f"settlement batch {batch.pk}: the ledger refused {unexpected[:3]}")
        batch.withdrawals.update(state=withdrawal_state, settled_at=now)
        batch.state, batch.settled_at = batch_state, now
        batch.error = "" if batch_state == SettlementState.SETTLED else f"transaction {tx.tx_hash} reverted"
        batch.save(update_fields=["state", "settled_at", "error"])
    WITHDRAWALS_SETTLED.labels(outcome).inc(len(withdrawals))
    log = logger.info if outcome == "settled" else logger.error
    log("chain: settlement batch %d %s (%d withdrawals, tx %s)", batch.pk, outcome, len(withdrawals), tx.tx_hash)
    return batch


def _already_resolved(specs: list[TransferSpec], state: str) -> bool:
    """Every pending transfer is already resolved the way this settlement resolves it (a run that booked and then
    failed before it marked the batch, say)."""
    wanted = TransferStatus.POSTED if state == WithdrawalState.SETTLED else TransferStatus.VOIDED
    pending_ids = [spec.pending_id for spec in specs]
    return Transfer.objects.filter(pk__in=pending_ids, status=wanted).count() == len(pending_ids)


def batch_retry(sender: ChainSender, batch_id: int, *, actor: Any) -> SettlementBatch:
    """Staff's "retry now" on a batch, audited. It can never pay twice: an open batch is sent under its one
    reference (the stored transaction if it was signed already), a sent one has its same transaction followed — sent
    again as the same signed bytes if the node lost it, or replaced with the same nonce if stuck — and then settled if
    final. Nothing here builds a second transfer for a withdrawal."""
    batch = SettlementBatch.objects.select_related("chain_transaction").get(pk=batch_id)
    before = {"state": batch.state, "attempts": batch.attempts, "error": batch.error}
    if batch.state == SettlementState.OPEN:
        batch = batch_send(sender, batch_id)
    elif batch.state == SettlementState.SENT and batch.chain_transaction is not None:
        sender.advance(batch.chain_transaction)
        batch = batch_settle(batch_id)
    tx = batch.chain_transaction
    audit_record(
        actor=actor,
        action="tokens.settlement_batch.retry",
        target=batch,
        before=before,
        after={"state": batch.state, "attempts": batch.attempts, "tx_hash": tx.tx_hash if tx else "",
               "tx_state": tx.state if tx else ""},
    )  # fmt: skip
    return batch


def transaction_retry(sender: ChainSender, tx: ChainTransaction, *, actor: Any) -> ChainTransaction:
    """Staff's "retry now" on one open transaction, audited: the sweep's own step (the same signed bytes sent again,
    or the same nonce replaced with higher fees), never a new transaction."""
    before = {"state": tx.state, "tx_hash": tx.tx_hash, "bumps": tx.bumps}
    tx = sender.advance(tx)
    audit_record(
        actor=actor,
        action="tokens.chain_transaction.retry",
        target=tx,
        before=before,
        after={"state": tx.state, "tx_hash": tx.tx_hash, "bumps": tx.bumps},
    )
    return tx
