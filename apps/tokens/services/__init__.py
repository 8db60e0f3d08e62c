"""Writes to the PPT ledger: accounts (`accounts`), the transfer engine (`transfers`: batches of single, pending,
post, void and linked transfers, timeouts, the hot accounts' roll-up) with its reads and writes of rows
(`storage`), and staff adjustments (`adjustments`). How balances stay exact and fast is in `transfers`."""

from apps.tokens.services.accounts import (
    Spendable,
    account_credit_limit_set,
    account_open,
    client_spendable,
    client_spendable_lock,
    ledger_get,
    platform_account,
)
from apps.tokens.services.adjustments import adjustment_approve, adjustment_propose, adjustment_reject
from apps.tokens.services.holds import HeldRow, Hold, client_hold_create, client_hold_create_with_row
from apps.tokens.services.transfers import (
    MAX_AMOUNT,
    TransferSpec,
    hot_balances_roll_up,
    pending_transfers_expire,
    transfer_create,
    transfer_post,
    transfer_void,
    transfers_book,
    transfers_create,
    transfers_gathered,
)
from apps.tokens.services.withdrawals import withdrawal_request

__all__ = [
    "MAX_AMOUNT",
    "HeldRow",
    "Hold",
    "Spendable",
    "TransferSpec",
    "account_credit_limit_set",
    "account_open",
    "adjustment_approve",
    "adjustment_propose",
    "adjustment_reject",
    "client_hold_create",
    "client_hold_create_with_row",
    "client_spendable",
    "client_spendable_lock",
    "hot_balances_roll_up",
    "ledger_get",
    "pending_transfers_expire",
    "platform_account",
    "transfer_create",
    "transfer_post",
    "transfer_void",
    "transfers_book",
    "transfers_create",
    "transfers_gathered",
    "withdrawal_request",
]
