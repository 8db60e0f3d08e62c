"""Periodic jobs of the ledger (registered in settings.CELERY_BEAT_SCHEDULE). Each is safe to run twice."""

from celery import shared_task

from apps.tokens.reconciliation import ledger_check
from apps.tokens.services import hot_balances_roll_up, pending_transfers_expire


@shared_task(name="tokens.expire_pending")
def expire_pending(limit: int = 1000) -> int:
    """Void (as `expired`) the pending transfers whose timeout has passed, a bounded batch per run; several workers
    may run it at once (they skip each other's rows)."""
    expired = pending_transfers_expire(limit=limit)
    if expired == limit:
        expire_pending.apply_async(kwargs={"limit": limit})  # more are due: carry on without waiting for beat
    return expired


@shared_task(name="tokens.roll_up_hot_balances")
def roll_up_hot_balances() -> int:
    return hot_balances_roll_up()


@shared_task(name="tokens.ledger_check")
def run_ledger_check() -> int:
    """The daily reconciliation; its outcome is kept and reported on /metrics."""
    return ledger_check().breaks


@shared_task(name="tokens.chain_sweep")
def chain_sweep() -> int:
    """Send again, replace and follow to finality the hot wallet's open transactions (scheduled only when
    CHAIN_RPC_URL is set); returns how many are still open. Reads the hot wallet's gas for /metrics on the way."""
    from apps.tokens.chain.gas import hot_wallet_gas_record
    from apps.tokens.chain.sender import ChainSender

    sender = ChainSender.from_settings()
    hot_wallet_gas_record(sender)
    return sender.sweep()


@shared_task(name="tokens.chain_supply_sync")
def chain_supply_sync() -> int:
    """Mint (or burn) so the chain's supply reaches the ledger's outstanding PPT; returns the amount sent."""
    from apps.tokens.chain.sender import ChainSender
    from apps.tokens.chain.supply import supply_sync

    tx = supply_sync(ChainSender.from_settings())
    return tx.amount if tx is not None else 0


@shared_task(name="tokens.chain_reconcile")
def chain_reconcile() -> int:
    """The daily comparison of the chain with the ledger; returns the number of breaks (also on /metrics)."""
    from apps.tokens.chain.sender import ChainSender
    from apps.tokens.chain.supply import chain_reconcile as reconcile

    return len(reconcile(ChainSender.from_settings()).breaks)


@shared_task(name="tokens.chain_settle_withdrawals")
def chain_settle_withdrawals() -> int:
    """Batch requested withdrawals, send their transferBatch transactions, post or void what is final; returns how
    many batches settled. Safe with the chain down: what cannot be sent waits for the next run."""
    from apps.tokens.chain.sender import ChainSender
    from apps.tokens.chain.withdrawals import withdrawals_settle

    return len(withdrawals_settle(ChainSender.from_settings()).settled)
