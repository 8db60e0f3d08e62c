from django.db import models
from django.utils.translation import gettext_lazy as _


class LedgerCode(models.TextChoices):
    """The currencies the ledger keeps. Only accounts on the same ledger can exchange a transfer."""

    PPT = "PPT", _("PeerPower Token")
    KHR = "KHR", _("Cambodian riel")
    USD = "USD", _("US dollar")


# Each ledger's fixed id (the `tokens_ledger` rows mirror these; migration 0002 creates them) and the decimal places
# of its smallest unit: 10⁻⁶ PPT, whole riel, US cents. Code never needs a query to know them.
LEDGER_IDS = {LedgerCode.PPT: 1, LedgerCode.KHR: 2, LedgerCode.USD: 3}
LEDGER_SCALES = {LedgerCode.PPT: 6, LedgerCode.KHR: 0, LedgerCode.USD: 2}


class OwnerKind(models.TextChoices):
    CLIENT = "client", _("Client organisation")
    PROVIDER = "provider", _("Provider")
    PLATFORM = "platform", _("Platform")


class PlatformAccount(models.TextChoices):
    """PeerPower's own accounts, one per ledger each. The first three take part in nearly every transfer (hot)."""

    ISSUANCE = "issuance", _("Issuance")
    REVENUE = "revenue", _("Revenue")
    REWARDS = "rewards", _("Rewards")
    PAYOUTS_IN_FLIGHT = "payouts_in_flight", _("Payouts in flight")
    CHAIN_TREASURY = "chain_treasury", _("Chain treasury")
    ADJUSTMENTS = "adjustments", _("Manual adjustments")
    CLEARING = "clearing", _("Fiat clearing")


HOT_PLATFORM_ACCOUNTS = frozenset({PlatformAccount.ISSUANCE, PlatformAccount.REVENUE, PlatformAccount.REWARDS})


class TransferKind(models.TextChoices):
    SINGLE = "single", _("Posted at once")
    PENDING = "pending", _("Pending (two-phase)")
    POST = "post", _("Posts a pending transfer")
    VOID = "void", _("Voids a pending transfer")


class TransferStatus(models.TextChoices):
    """`single` and `post` transfers are posted, `void` ones voided; a pending transfer is pending until it is
    posted, voided or expired — the only change a transfer row ever makes."""

    PENDING = "pending", _("Pending")
    POSTED = "posted", _("Posted")
    VOIDED = "voided", _("Voided")
    EXPIRED = "expired", _("Expired")


class Reason(models.TextChoices):
    """Why money moved. New flows add their reason here."""

    TOP_UP = "top_up", _("Top-up")
    CHARGE = "charge", _("Message charge")
    REWARD = "reward", _("Delivery reward")
    PAYOUT = "payout", _("Payout")
    CLAWBACK = "clawback", _("Clawback")
    MINT = "mint", _("Mint on chain")
    BURN = "burn", _("Burn on chain")
    ADJUSTMENT = "adjustment", _("Manual adjustment")
    TRANSFER = "transfer", _("Transfer")
    WITHDRAWAL = "withdrawal", _("Withdrawal to a wallet")


class Result(models.TextChoices):
    """One per transfer given to `transfers_create`, after TigerBeetle's create_transfers result codes."""

    OK = "ok", _("Applied")
    EXISTS = "exists", _("Already applied (same id, same fields)")
    EXISTS_WITH_DIFFERENT_FIELDS = "exists_with_different_fields", _("The id was used for a different transfer")
    LINKED_EVENT_FAILED = "linked_event_failed", _("Another transfer of its linked chain failed")
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open", _("The batch ends inside a linked chain")
    ID_INVALID = "id_invalid", _("The id is empty or too long")
    AMOUNT_INVALID = "amount_invalid", _("The amount is not a positive integer")
    REASON_INVALID = "reason_invalid", _("Unknown reason")
    LEDGER_INVALID = "ledger_invalid", _("Unknown ledger")
    ACCOUNT_MISSING = "account_missing", _("The debit or credit account does not exist")
    ACCOUNTS_MUST_BE_DIFFERENT = "accounts_must_be_different", _("Debit and credit account are the same")
    LEDGER_MISMATCH = "ledger_mismatch", _("The accounts are not on the transfer's ledger")
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = "flags_are_mutually_exclusive", _("Pending, post and void exclude each other")
    TIMEOUT_INVALID = "timeout_invalid", _("A timeout is for pending transfers, and not negative")
    PENDING_TRANSFER_MISSING = "pending_transfer_missing", _("No such pending transfer")
    PENDING_TRANSFER_NOT_PENDING = "pending_transfer_not_pending", _("That transfer is not two-phase")
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted", _("The pending transfer was posted")
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided", _("The pending transfer was voided")
    PENDING_TRANSFER_EXPIRED = "pending_transfer_expired", _("The pending transfer timed out")
    PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS = (
        "pending_transfer_has_different_accounts",
        _("The accounts given are not the pending transfer's"),
    )
    EXCEEDS_PENDING_TRANSFER_AMOUNT = "exceeds_pending_transfer_amount", _("More than the pending amount")
    EXCEEDS_CREDITS = "exceeds_credits", _("The debit account's bound would be passed")
    EXCEEDS_DEBITS = "exceeds_debits", _("The credit account's bound would be passed")


class AdjustmentStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    APPROVED = "approved", _("Approved and booked")
    REJECTED = "rejected", _("Rejected")


class ChainTxPurpose(models.TextChoices):
    DEPLOY = "deploy", _("Deploy the token contract")
    MINT = "mint", _("Mint")
    BURN = "burn", _("Burn")
    TRANSFER = "transfer", _("Transfer (settlement)")
    ROLES = "roles", _("Role change")


class ChainTxState(models.TextChoices):
    # Signed and stored with its nonce, not yet accepted by a node (or accepted but lost: it is sent again).
    SIGNED = "signed", _("Signed")
    SENT = "sent", _("Sent")
    # In a block, not yet final (CHAIN_FINALITY).
    MINED = "mined", _("Mined")
    CONFIRMED = "confirmed", _("Confirmed")
    # Final failures: never sent again (a new transaction needs a new reference, decided by whoever asked).
    REVERTED = "reverted", _("Reverted")
    DROPPED = "dropped", _("Dropped (its nonce was used by another transaction)")


CHAIN_TX_OPEN_STATES = (ChainTxState.SIGNED, ChainTxState.SENT, ChainTxState.MINED)


class WithdrawalState(models.TextChoices):
    """A withdrawal of PPT to its owner's bound EVM address. Its ledger transfer is pending from `requested` until
    `settled` (posted) or `failed` (voided)."""

    # Booked (pending), waiting to be put in a settlement batch.
    REQUESTED = "requested", _("Requested")
    # In a settlement batch whose transaction is not final yet (or not signed yet: the chain was down).
    BATCHED = "batched", _("In a settlement batch")
    SETTLED = "settled", _("Settled on chain")
    FAILED = "failed", _("Failed (the PPT went back to the wallet)")


class SettlementState(models.TextChoices):
    # Its withdrawals are chosen; its transaction is not signed yet (the chain was down, or the custodial wallet
    # cannot pay yet): the next settlement run tries again with the same reference.
    OPEN = "open", _("Waiting to be sent")
    SENT = "sent", _("Sent, waiting for finality")
    SETTLED = "settled", _("Settled (final on chain, withdrawals posted)")
    FAILED = "failed", _("Failed (reverted on chain, withdrawals voided)")
    # Its transaction lost its nonce to another one: whether the tokens moved must be checked by staff before
    # anything is voided (voiding a transfer that did happen would pay twice).
    ATTENTION = "attention", _("Needs a person")


SETTLEMENT_OPEN_STATES = (SettlementState.OPEN, SettlementState.SENT)
