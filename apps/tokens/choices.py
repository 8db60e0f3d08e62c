from django.db import models


class LedgerCode(models.TextChoices):
    """The currencies the ledger keeps. Only accounts on the same ledger can exchange a transfer."""

    PPT = "PPT", "PeerPower Token"
    KHR = "KHR", "Cambodian riel"
    USD = "USD", "US dollar"


# Each ledger's fixed id (the `tokens_ledger` rows mirror these; migration 0002 creates them) and the decimal places
# of its smallest unit: 10⁻⁶ PPT, whole riel, US cents. Code never needs a query to know them.
LEDGER_IDS = {LedgerCode.PPT: 1, LedgerCode.KHR: 2, LedgerCode.USD: 3}
LEDGER_SCALES = {LedgerCode.PPT: 6, LedgerCode.KHR: 0, LedgerCode.USD: 2}


class OwnerKind(models.TextChoices):
    CLIENT = "client", "Client organisation"
    PROVIDER = "provider", "Provider"
    PLATFORM = "platform", "Platform"


class PlatformAccount(models.TextChoices):
    """PeerPower's own accounts, one per ledger each. The first three take part in nearly every transfer (hot)."""

    ISSUANCE = "issuance", "Issuance"
    REVENUE = "revenue", "Revenue"
    REWARDS = "rewards", "Rewards"
    PAYOUTS_IN_FLIGHT = "payouts_in_flight", "Payouts in flight"
    CHAIN_TREASURY = "chain_treasury", "Chain treasury"
    ADJUSTMENTS = "adjustments", "Manual adjustments"
    CLEARING = "clearing", "Fiat clearing"


HOT_PLATFORM_ACCOUNTS = frozenset({PlatformAccount.ISSUANCE, PlatformAccount.REVENUE, PlatformAccount.REWARDS})


class TransferKind(models.TextChoices):
    SINGLE = "single", "Posted at once"
    PENDING = "pending", "Pending (two-phase)"
    POST = "post", "Posts a pending transfer"
    VOID = "void", "Voids a pending transfer"


class TransferStatus(models.TextChoices):
    """`single` and `post` transfers are posted, `void` ones voided; a pending transfer is pending until it is
    posted, voided or expired — the only change a transfer row ever makes."""

    PENDING = "pending", "Pending"
    POSTED = "posted", "Posted"
    VOIDED = "voided", "Voided"
    EXPIRED = "expired", "Expired"


class Reason(models.TextChoices):
    """Why money moved. New flows add their reason here."""

    TOP_UP = "top_up", "Top-up"
    CHARGE = "charge", "Message charge"
    REWARD = "reward", "Delivery reward"
    PAYOUT = "payout", "Payout"
    CLAWBACK = "clawback", "Clawback"
    MINT = "mint", "Mint on chain"
    BURN = "burn", "Burn on chain"
    ADJUSTMENT = "adjustment", "Manual adjustment"
    TRANSFER = "transfer", "Transfer"
    WITHDRAWAL = "withdrawal", "Withdrawal to a wallet"


class Result(models.TextChoices):
    """One per transfer given to `transfers_create`, after TigerBeetle's create_transfers result codes."""

    OK = "ok", "Applied"
    EXISTS = "exists", "Already applied (same id, same fields)"
    EXISTS_WITH_DIFFERENT_FIELDS = "exists_with_different_fields", "The id was used for a different transfer"
    LINKED_EVENT_FAILED = "linked_event_failed", "Another transfer of its linked chain failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open", "The batch ends inside a linked chain"
    ID_INVALID = "id_invalid", "The id is empty or too long"
    AMOUNT_INVALID = "amount_invalid", "The amount is not a positive integer"
    REASON_INVALID = "reason_invalid", "Unknown reason"
    LEDGER_INVALID = "ledger_invalid", "Unknown ledger"
    ACCOUNT_MISSING = "account_missing", "The debit or credit account does not exist"
    ACCOUNTS_MUST_BE_DIFFERENT = "accounts_must_be_different", "Debit and credit account are the same"
    LEDGER_MISMATCH = "ledger_mismatch", "The accounts are not on the transfer's ledger"
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = "flags_are_mutually_exclusive", "Pending, post and void exclude each other"
    TIMEOUT_INVALID = "timeout_invalid", "A timeout is for pending transfers, and not negative"
    PENDING_TRANSFER_MISSING = "pending_transfer_missing", "No such pending transfer"
    PENDING_TRANSFER_NOT_PENDING = "pending_transfer_not_pending", "That transfer is not two-phase"
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted", "The pending transfer was posted"
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided", "The pending transfer was voided"
    PENDING_TRANSFER_EXPIRED = "pending_transfer_expired", "The pending transfer timed out"
    PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS = (
        "pending_transfer_has_different_accounts",
        "The accounts given are not the pending transfer's",
    )
    EXCEEDS_PENDING_TRANSFER_AMOUNT = "exceeds_pending_transfer_amount", "More than the pending amount"
    EXCEEDS_CREDITS = "exceeds_credits", "The debit account's bound would be passed"
    EXCEEDS_DEBITS = "exceeds_debits", "The credit account's bound would be passed"


class AdjustmentStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved and booked"
    REJECTED = "rejected", "Rejected"


class ChainTxPurpose(models.TextChoices):
    DEPLOY = "deploy", "Deploy the token contract"
    MINT = "mint", "Mint"
    BURN = "burn", "Burn"
    TRANSFER = "transfer", "Transfer (settlement)"
    ROLES = "roles", "Role change"


class ChainTxState(models.TextChoices):
    # Signed and stored with its nonce, not yet accepted by a node (or accepted but lost: it is sent again).
    SIGNED = "signed", "Signed"
    SENT = "sent", "Sent"
    # In a block, not yet final (CHAIN_FINALITY).
    MINED = "mined", "Mined"
    CONFIRMED = "confirmed", "Confirmed"
    # Final failures: never sent again (a new transaction needs a new reference, decided by whoever asked).
    REVERTED = "reverted", "Reverted"
    DROPPED = "dropped", "Dropped (its nonce was used by another transaction)"


CHAIN_TX_OPEN_STATES = (ChainTxState.SIGNED, ChainTxState.SENT, ChainTxState.MINED)


class WithdrawalState(models.TextChoices):
    """A withdrawal of PPT to its owner's bound EVM address. Its ledger transfer is pending from `requested` until
    `settled` (posted) or `failed` (voided)."""

    # Booked (pending), waiting to be put in a settlement batch.
    REQUESTED = "requested", "Requested"
    # In a settlement batch whose transaction is not final yet (or not signed yet: the chain was down).
    BATCHED = "batched", "In a settlement batch"
    SETTLED = "settled", "Settled on chain"
    FAILED = "failed", "Failed (the PPT went back to the wallet)"


class SettlementState(models.TextChoices):
    # Its withdrawals are chosen; its transaction is not signed yet (the chain was down, or the custodial wallet
    # cannot pay yet): the next settlement run tries again with the same reference.
    OPEN = "open", "Waiting to be sent"
    SENT = "sent", "Sent, waiting for finality"
    SETTLED = "settled", "Settled (final on chain, withdrawals posted)"
    FAILED = "failed", "Failed (reverted on chain, withdrawals voided)"
    # Its transaction lost its nonce to another one: whether the tokens moved must be checked by staff before
    # anything is voided (voiding a transfer that did happen would pay twice).
    ATTENTION = "attention", "Needs a person"


SETTLEMENT_OPEN_STATES = (SettlementState.OPEN, SettlementState.SENT)
