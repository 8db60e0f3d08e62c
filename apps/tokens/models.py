"""The PPT ledger's tables: ledgers, accounts with their balances, immutable transfers, and what the back office adds.

After TigerBeetle's data model: an account keeps four running totals (debits/credits × pending/posted) and may
carry a bound; a transfer moves a positive integer amount from one account to another on one ledger, its id is
the caller's idempotency key, and it is never edited (a pending transfer's status moves once, from pending to
posted, voided or expired). See `apps.tokens.services.transfers` for how balances are kept exact and fast.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.tokens.choices import (
    AdjustmentStatus,
    ChainTxPurpose,
    ChainTxState,
    OwnerKind,
    PlatformAccount,
    SettlementState,
    TransferKind,
    TransferStatus,
    WithdrawalState,
)

TRANSFER_ID_MAX_LENGTH = 128


class Ledger(models.Model):
    """A currency (PPT, riel, US dollars). `scale` is the number of decimal places of its smallest unit."""

    id = models.SmallAutoField(primary_key=True, verbose_name=_("id"))
    code = models.CharField(max_length=8, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=64, verbose_name=_("name"))
    scale = models.PositiveSmallIntegerField(verbose_name=_("scale"))

    class Meta:
        verbose_name = _("ledger")
        verbose_name_plural = _("ledgers")

    def __str__(self) -> str:
        return self.code


class Account(models.Model):
    """One owner's balance on one ledger: a client organisation's, a provider's, or a named platform account's.

    Balances are the running totals of the transfers that touched the account. A bound, when set, holds in the
    database (CHECK constraints): `debits_must_not_exceed_credits` keeps debits (pending and posted) within posted
    credits plus `credit_limit` — a client cannot spend, a provider cannot cash out, more than they have (or, for a
    postpaid client, more than they have plus the credit staff gave them). A hot account (`is_hot`:
    issuance, revenue, rewards) is never bounded and never locked by writers: its changes are queued as
    `HotBalanceDelta` rows and rolled up into these columns in the background. On PostgreSQL an account is never
    deleted and never changes ledger (a trigger), and its table leaves room in each page (fillfactor 70) so the
    constant balance updates stay heap-only (no index writes).
    """

    ledger = models.ForeignKey(Ledger, on_delete=models.PROTECT, related_name="accounts", verbose_name=_("ledger"))
    owner_kind = models.CharField(max_length=8, choices=OwnerKind.choices, verbose_name=_("owner kind"))
    organization = models.ForeignKey(
        "accounts.ClientOrganization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("organization"),
    )
    provider = models.ForeignKey(
        "providers.Provider",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("provider"),
    )
    platform = models.CharField(max_length=20, choices=PlatformAccount.choices, blank=True, verbose_name=_("platform"))
    debits_must_not_exceed_credits = models.BooleanField(
        default=False, verbose_name=_("debits must not exceed credits")
    )
    credits_must_not_exceed_debits = models.BooleanField(
        default=False, verbose_name=_("credits must not exceed debits")
    )
    is_hot = models.BooleanField(default=False, verbose_name=_("is hot"))
    # Postpaid clients: staff let debits pass posted credits by this much (smallest units; 0 = prepaid). Set only
    # through `account_credit_limit_set` (audited).
    credit_limit = models.BigIntegerField(default=0, verbose_name=_("credit limit"))
    debits_pending = models.BigIntegerField(default=0, verbose_name=_("debits pending"))
    debits_posted = models.BigIntegerField(default=0, verbose_name=_("debits posted"))
    credits_pending = models.BigIntegerField(default=0, verbose_name=_("credits pending"))
    credits_posted = models.BigIntegerField(default=0, verbose_name=_("credits posted"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.CheckConstraint(
                condition=Q(debits_pending__gte=0, debits_posted__gte=0, credits_pending__gte=0, credits_posted__gte=0),
                name="tokens_account_totals_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(debits_must_not_exceed_credits=False)
                | Q(credits_posted__gte=F("debits_pending") + F("debits_posted") - F("credit_limit")),
                name="tokens_account_debits_within_credits",
            ),
            models.CheckConstraint(condition=Q(credit_limit__gte=0), name="tokens_account_credit_limit_not_negative"),
            models.CheckConstraint(
                condition=Q(credits_must_not_exceed_debits=False)
                | Q(debits_posted__gte=F("credits_pending") + F("credits_posted")),
                name="tokens_account_credits_within_debits",
            ),
            models.CheckConstraint(
                condition=Q(is_hot=False)
                | Q(debits_must_not_exceed_credits=False, credits_must_not_exceed_debits=False, owner_kind="platform"),
                name="tokens_account_hot_is_unbounded_platform",
            ),
            models.CheckConstraint(
                condition=Q(owner_kind="client", organization__isnull=False, provider__isnull=True, platform="")
                | Q(owner_kind="provider", provider__isnull=False, organization__isnull=True, platform="")
                | Q(owner_kind="platform", organization__isnull=True, provider__isnull=True) & ~Q(platform=""),
                name="tokens_account_one_owner",
            ),
            models.UniqueConstraint(
                fields=["ledger", "organization"], condition=Q(organization__isnull=False), name="tokens_account_client"
            ),
            models.UniqueConstraint(
                fields=["ledger", "provider"], condition=Q(provider__isnull=False), name="tokens_account_provider"
            ),
            models.UniqueConstraint(
                fields=["ledger", "platform"], condition=~Q(platform=""), name="tokens_account_platform"
            ),
        ]

    def __str__(self) -> str:
        owner = self.platform or (
            f"client {self.organization_id}" if self.organization_id else f"provider {self.provider_id}"
        )
        return f"{owner} ({self.ledger_id})"


class Transfer(models.Model):
    """An immutable movement of `amount` from `debit_account` to `credit_account` on one ledger.

    `id` is the caller's idempotency key (`charge:message:123`): a transfer id applies at most once. A `pending`
    transfer reserves the amount until a `post` transfer (all or part of it) or a `void` transfer resolves it, or
    its `timeout_at` passes (`expired`); `pending` then points from the post/void to it, and at most one does.
    References to messages, jobs, payments and payouts are plain values, not foreign keys: the ledger sits below
    those apps. On PostgreSQL a trigger refuses deletes and every update except a pending transfer's one status
    change, and composite foreign keys keep both accounts on the transfer's ledger.
    """

    id = models.CharField(primary_key=True, max_length=TRANSFER_ID_MAX_LENGTH, verbose_name=_("id"))
    ledger = models.ForeignKey(
        Ledger, on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("ledger")
    )
    # Not foreign keys: a foreign key check share-locks the referenced row, and the hot platform accounts are in
    # nearly every transfer. On PostgreSQL one set-wise trigger per INSERT statement checks that both accounts exist
    # and are on the transfer's ledger (migration 0002); accounts are never deleted.
    debit_account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
        verbose_name=_("debit account"),
    )
    credit_account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
        verbose_name=_("credit account"),
    )
    amount = models.BigIntegerField(verbose_name=_("amount"))
    kind = models.CharField(max_length=8, choices=TransferKind.choices, verbose_name=_("kind"))
    status = models.CharField(max_length=8, choices=TransferStatus.choices, verbose_name=_("status"))
    pending = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("pending"),
    )
    timeout_at = models.DateTimeField(null=True, blank=True, verbose_name=_("timeout at"))
    linked = models.BooleanField(default=False, verbose_name=_("linked"))
    reason = models.CharField(max_length=16, verbose_name=_("reason"))
    message_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("message id"))
    job_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("job id"))
    payment_ref = models.CharField(max_length=64, blank=True, verbose_name=_("payment ref"))
    payout_ref = models.CharField(max_length=64, blank=True, verbose_name=_("payout ref"))
    memo = models.CharField(max_length=200, blank=True, verbose_name=_("memo"))
    created_at = models.DateTimeField(verbose_name=_("created at"))
    # When a pending transfer stopped being pending (balances as of a past date need it).
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved at"))

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="tokens_transfer_amount_positive"),
            models.CheckConstraint(
                condition=~Q(debit_account=F("credit_account")), name="tokens_transfer_two_accounts"
            ),
            models.CheckConstraint(
                condition=Q(kind="single", status="posted", pending__isnull=True)
                | Q(kind="post", status="posted", pending__isnull=False)
                | Q(kind="void", status="voided", pending__isnull=False)
                | Q(kind="pending", pending__isnull=True),
                name="tokens_transfer_kind_status",
            ),
            models.CheckConstraint(
                condition=Q(timeout_at__isnull=True) | Q(kind="pending"), name="tokens_transfer_timeout_pending_only"
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | (Q(kind="pending") & ~Q(status="pending")),
                name="tokens_transfer_resolved_once",
            ),
            # A pending transfer is posted or voided by one transfer at most.
            models.UniqueConstraint(
                fields=["pending"], condition=Q(pending__isnull=False), name="tokens_transfer_resolves_once"
            ),
        ]
        indexes = [
            models.Index(fields=["debit_account", "-created_at"], name="tokens_transfer_debit_idx"),
            models.Index(fields=["credit_account", "-created_at"], name="tokens_transfer_credit_idx"),
            models.Index(fields=["timeout_at"], condition=Q(status="pending"), name="tokens_transfer_timeout_idx"),
            models.Index(
                fields=["message_id"], condition=Q(message_id__isnull=False), name="tokens_transfer_message_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.id


class HotBalanceDelta(models.Model):
    """A change to a hot account's totals, queued by the transfer that made it so writers never lock the account.

    `hot_balances_roll_up` adds them into the account's columns and deletes them in one statement; until then the
    account's balance is its columns plus its queued deltas. Used on PostgreSQL only (SQLite serialises writers
    anyway, so there hot accounts are updated in place).
    """

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", verbose_name=_("account"))
    debits_pending = models.BigIntegerField(default=0, verbose_name=_("debits pending"))
    debits_posted = models.BigIntegerField(default=0, verbose_name=_("debits posted"))
    credits_pending = models.BigIntegerField(default=0, verbose_name=_("credits pending"))
    credits_posted = models.BigIntegerField(default=0, verbose_name=_("credits posted"))

    class Meta:
        verbose_name = _("hot balance delta")
        verbose_name_plural = _("hot balance deltas")

    def __str__(self) -> str:
        return f"queued change of account {self.account_id}"


class Adjustment(models.Model):
    """A manual correction, booked only when a second staff member approves what the first proposed.

    It becomes a transfer between the account and the ledger's `adjustments` platform account (credit when the
    account gains). The database refuses an approval by the proposer.
    """

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="adjustments", verbose_name=_("account")
    )
    amount = models.BigIntegerField(
        help_text=_("Smallest units; positive credits the account, negative debits it."), verbose_name=_("amount")
    )
    memo = models.CharField(max_length=200, verbose_name=_("memo"))
    status = models.CharField(
        max_length=8, choices=AdjustmentStatus.choices, default=AdjustmentStatus.PROPOSED, verbose_name=_("status")
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("proposed by")
    )
    proposed_at = models.DateTimeField(default=timezone.now, verbose_name=_("proposed at"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("decided at"))
    transfer_id = models.CharField(max_length=TRANSFER_ID_MAX_LENGTH, blank=True, verbose_name=_("transfer id"))

    class Meta:
        verbose_name = _("adjustment")
        verbose_name_plural = _("adjustments")
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="tokens_adjustment_amount_not_zero"),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("proposed_by")),
                name="tokens_adjustment_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"adjustment {self.pk} of {self.amount} on account {self.account_id}"


class LedgerCheck(models.Model):
    """One run of the reconciliation (`manage.py ledger_check`): what it found. `/metrics` reports the latest."""

    started_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("started at"))
    duration_ms = models.PositiveIntegerField(default=0, verbose_name=_("duration ms"))
    transfers = models.BigIntegerField(default=0, verbose_name=_("transfers"))
    accounts = models.BigIntegerField(default=0, verbose_name=_("accounts"))
    breaks = models.PositiveIntegerField(default=0, verbose_name=_("breaks"))
    # Per ledger code: |Σ debits − Σ credits| (posted and pending) + Σ |stored − recomputed| over its accounts.
    imbalance = models.JSONField(default=dict, verbose_name=_("imbalance"))
    report = models.JSONField(default=list, verbose_name=_("report"))

    class Meta:
        verbose_name = _("ledger check")
        verbose_name_plural = _("ledger checks")

    def __str__(self) -> str:
        return f"ledger check {self.started_at:%Y-%m-%d %H:%M} ({self.breaks} breaks)"


# Wei amounts (fees, values) can pass 2⁶³; a uint256 has at most 78 decimal digits.
WEI_DIGITS = 78


class ChainWallet(models.Model):
    """A wallet this deployment sends from, on one chain: the row `chain_transaction_submit` locks so that one sender
    at a time picks the wallet's next nonce, whichever worker or process it runs in."""

    chain_id = models.PositiveBigIntegerField(verbose_name=_("chain id"))
    address = models.CharField(max_length=42, verbose_name=_("address"))
    # The nonce the latest transaction was given (informational; the next one is derived, see the sender).
    last_nonce = models.BigIntegerField(null=True, blank=True, verbose_name=_("last nonce"))

    class Meta:
        verbose_name = _("chain wallet")
        verbose_name_plural = _("chain wallets")
        constraints = [models.UniqueConstraint(fields=["chain_id", "address"], name="tokens_chainwallet_unique")]

    def __str__(self) -> str:
        return f"{self.address} on chain {self.chain_id}"


class ChainTransaction(models.Model):
    """One transaction the hot wallet signed: its nonce, fees, every hash it was broadcast under (a fee bump signs a
    replacement with the same nonce) and, once mined, its receipt. `reference` is the caller's idempotency key
    (`mint:batch:42`): a reference is signed at most once, so a retry can never mint twice. Written only by
    `apps.tokens.chain.sender`."""

    chain_id = models.PositiveBigIntegerField(verbose_name=_("chain id"))
    sender = models.CharField(max_length=42, verbose_name=_("sender"))
    nonce = models.BigIntegerField(verbose_name=_("nonce"))
    reference = models.CharField(max_length=128, unique=True, verbose_name=_("reference"))
    purpose = models.CharField(max_length=8, choices=ChainTxPurpose.choices, verbose_name=_("purpose"))
    state = models.CharField(
        max_length=9, choices=ChainTxState.choices, default=ChainTxState.SIGNED, verbose_name=_("state")
    )
    to = models.CharField(
        max_length=42, blank=True, help_text=_("Empty for a contract deployment."), verbose_name=_("to")
    )
    data = models.TextField(help_text=_("Call data (hex)."), verbose_name=_("data"))
    value = models.DecimalField(max_digits=WEI_DIGITS, decimal_places=0, default=0, verbose_name=_("value"))
    amount = models.BigIntegerField(
        null=True,
        blank=True,
        help_text=_("PPT in ledger units that a mint adds, a burn removes, a transfer pays out."),
        verbose_name=_("amount"),
    )
    gas_limit = models.BigIntegerField(verbose_name=_("gas limit"))
    max_fee_per_gas = models.DecimalField(max_digits=WEI_DIGITS, decimal_places=0, verbose_name=_("max fee per gas"))
    max_priority_fee_per_gas = models.DecimalField(
        max_digits=WEI_DIGITS, decimal_places=0, verbose_name=_("max priority fee per gas")
    )
    tx_hash = models.CharField(
        max_length=66, unique=True, help_text=_("The latest signed version's hash."), verbose_name=_("tx hash")
    )
    raw = models.TextField(
        help_text=_("The latest signed version (hex), sent again if a node loses it."), verbose_name=_("raw")
    )
    replaced_hashes = models.JSONField(
        default=list, blank=True, help_text=_("Earlier versions; any may be mined."), verbose_name=_("replaced hashes")
    )
    bumps = models.PositiveSmallIntegerField(default=0, verbose_name=_("bumps"))
    block_number = models.BigIntegerField(null=True, blank=True, verbose_name=_("block number"))
    gas_used = models.BigIntegerField(null=True, blank=True, verbose_name=_("gas used"))
    effective_gas_price = models.DecimalField(
        max_digits=WEI_DIGITS, decimal_places=0, null=True, blank=True, verbose_name=_("effective gas price")
    )
    contract_address = models.CharField(max_length=42, blank=True, verbose_name=_("contract address"))
    receipt = models.JSONField(null=True, blank=True, verbose_name=_("receipt"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the latest version was broadcast."), verbose_name=_("sent at")
    )
    mined_at = models.DateTimeField(null=True, blank=True, verbose_name=_("mined at"))
    final_at = models.DateTimeField(null=True, blank=True, verbose_name=_("final at"))

    class Meta:
        verbose_name = _("chain transaction")
        verbose_name_plural = _("chain transactions")
        constraints = [
            models.UniqueConstraint(fields=["chain_id", "sender", "nonce"], name="tokens_chaintx_one_per_nonce"),
        ]
        indexes = [
            models.Index(
                fields=["state"], name="tokens_chaintx_open", condition=Q(state__in=["signed", "sent", "mined"])
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.reference} (nonce {self.nonce}, {self.state})"

    @property
    def hashes(self) -> list[str]:
        """Every hash this transaction was broadcast under, newest first."""
        return [self.tx_hash, *reversed(self.replaced_hashes)]


class SettlementBatch(models.Model):
    """Withdrawals paid out together by one `transferBatch` transaction (at most `CHAIN_SETTLEMENT_BATCH_SIZE`).

    A withdrawal joins one batch, once (its `batch` is set only while empty, under its row lock), and a batch has
    one transaction reference (`reference`), signed at most once by the sender: so a withdrawal is never paid twice,
    however often settlement runs, retries or races. Written only by `apps.tokens.chain.withdrawals`."""

    state = models.CharField(
        max_length=9, choices=SettlementState.choices, default=SettlementState.OPEN, verbose_name=_("state")
    )
    recipients = models.PositiveIntegerField(default=0, verbose_name=_("recipients"))
    amount = models.BigIntegerField(
        default=0, help_text=_("PPT paid out, in ledger units (10⁻⁶ PPT)."), verbose_name=_("amount")
    )
    chain_transaction = models.OneToOneField(
        ChainTransaction,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="settlement_batch",
        verbose_name=_("chain transaction"),
    )
    attempts = models.PositiveIntegerField(
        default=0, help_text=_("Tries to sign its transaction."), verbose_name=_("attempts")
    )
    error = models.TextField(blank=True, verbose_name=_("error"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    settled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("settled at"))

    class Meta:
        verbose_name = _("settlement batch")
        verbose_name_plural = _("settlement batches")
        indexes = [
            models.Index(fields=["state"], name="tokens_settlement_open", condition=Q(state__in=["open", "sent"])),
        ]

    def __str__(self) -> str:
        return f"settlement batch {self.pk} ({self.recipients} recipients, {self.state})"

    @property
    def reference(self) -> str:
        """The transaction's idempotency key: one per batch, forever."""
        return f"withdrawals:batch:{self.pk}"


class Withdrawal(models.Model):
    """PPT a provider or a client organisation takes out to an EVM address bound by Sign-In with Ethereum.

    Booked at once as a pending ledger transfer `withdrawal:<public_id>` from the owner's account to the platform's
    chain treasury (the PPT held on chain outside the custodial wallet); paid by its settlement batch's transaction;
    posted once that transaction is final, voided if it reverts."""

    public_id = models.CharField(max_length=32, unique=True, editable=False, verbose_name=_("public id"))
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="withdrawals", verbose_name=_("account")
    )
    address = models.CharField(
        max_length=42, help_text=_("Where the PPT goes: the bound EVM address when asked."), verbose_name=_("address")
    )
    amount = models.BigIntegerField(help_text=_("Ledger units (10⁻⁶ PPT)."), verbose_name=_("amount"))
    state = models.CharField(
        max_length=9, choices=WithdrawalState.choices, default=WithdrawalState.REQUESTED, verbose_name=_("state")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("requested by"),
    )
    # The caller's own idempotency key (a payout's id, say): asked again with it, the same withdrawal answers.
    reference = models.CharField(max_length=128, null=True, blank=True, unique=True, verbose_name=_("reference"))
    batch = models.ForeignKey(
        SettlementBatch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="withdrawals",
        verbose_name=_("batch"),
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    settled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("settled at"))

    class Meta:
        verbose_name = _("withdrawal")
        verbose_name_plural = _("withdrawals")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="tokens_withdrawal_amount_positive"),
            models.CheckConstraint(
                condition=Q(state="requested", batch__isnull=True) | ~Q(state="requested") & Q(batch__isnull=False),
                name="tokens_withdrawal_batched_once_requested",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="tokens_withdrawal_account_idx"),
            models.Index(fields=["created_at"], name="tokens_withdrawal_queue", condition=Q(state="requested")),
        ]

    def __str__(self) -> str:
        return self.public_id

    @property
    def transfer_id(self) -> str:
        return f"withdrawal:{self.public_id}"
