"""Payouts: a provider redeeming posted PPT earnings as airtime or cash (see docs/payouts.md)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.fields import BlindIndexField, EncryptedCharField, EncryptedLookupCharField
from apps.core.models import StaffRow
from apps.incentives.payouts.choices import PAID_IN_CHOICES, PayoutCurrency, PayoutMethod, PayoutStatus


class PayoutRate(StaffRow):
    """What one PPT pays out in a currency (`units_per_ppt` smallest units: US cents or riel), from `valid_from`
    until `valid_until` (open: until further notice). Staff set rates; a rate a payout used is never edited — set a
    new row. Where periods overlap, the one that started last applies.

    Kept apart from the top-up rate (payments' ExchangeRate): the price PeerPower sells PPT at and the one it
    redeems at are different decisions (a spread), and incentives may not import payments."""

    currency = models.CharField(max_length=3, choices=PayoutCurrency.choices, verbose_name=_("currency"))
    units_per_ppt = models.DecimalField(
        max_digits=24,
        decimal_places=12,
        help_text=_("US cents or riel paid for one PPT."),
        verbose_name=_("units per ppt"),
    )

    class Meta:
        verbose_name = _("payout rate")
        verbose_name_plural = _("payout rates")
        ordering = ["currency", "-valid_from"]
        indexes = [models.Index(fields=["currency", "-valid_from"], name="incentives_payoutrate_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(units_per_ppt__gt=0), name="incentives_payoutrate_positive"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="incentives_payoutrate_period_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"1 PPT = {self.units_per_ppt.normalize():f} {self.currency} units from {self.valid_from:%Y-%m-%d}"


class PayoutAccount(models.Model):
    """A provider's bank account for cash payouts. The payout API pays only whitelisted beneficiaries, so the
    account is whitelisted through its beneficiary API when it is registered (`whitelisted_at`)."""

    provider = models.ForeignKey(
        "providers.Provider", on_delete=models.PROTECT, related_name="payout_accounts", verbose_name=_("provider")
    )
    # Encrypted at rest (apps.core.crypto); one active account per number is kept by its keyed hash.
    account_number = EncryptedCharField(max_length=32, verbose_name=_("account number"))
    account_number_hash = BlindIndexField(source="account_number", verbose_name=_("account number hash"))
    holder_name = EncryptedCharField(max_length=100, verbose_name=_("holder name"))
    currency = models.CharField(
        max_length=3, choices=PayoutCurrency.choices, default=PayoutCurrency.USD, verbose_name=_("currency")
    )
    whitelisted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("whitelisted at"))
    whitelist_error = models.CharField(max_length=200, blank=True, verbose_name=_("whitelist error"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("payout account")
        verbose_name_plural = _("payout accounts")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "account_number_hash"],
                condition=Q(active=True),
                name="incentives_payoutaccount_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.holder_name} ···{self.account_number[-4:]}"


class Payout(models.Model):
    """One redemption. Its PPT is held by the ledger's pending transfer `payout:<public_id>` (provider →
    payouts-in-flight) from the moment it is accepted; success posts it, a definite failure or a rejection voids it,
    an unknown outcome leaves it pending (`pending_reason`) until a status check resolves it. The outside call
    carries `public_id` as its idempotency key and is made at most once (the claim queued → sending).

    A wallet payout is the tokens app's withdrawal to the provider's bound EVM address instead: the withdrawal's
    pending transfer `withdrawal:<id>` is its one ledger booking (`transfer_id`; the withdrawal's id is
    `external_id`), booked when it is accepted (or approved), and the payout follows the withdrawal's state."""

    public_id = models.CharField(max_length=32, unique=True, editable=False, verbose_name=_("public id"))
    provider = models.ForeignKey(
        "providers.Provider", on_delete=models.PROTECT, related_name="payouts", verbose_name=_("provider")
    )
    method = models.CharField(max_length=10, choices=PayoutMethod.choices, verbose_name=_("method"))
    status = models.CharField(
        max_length=20, choices=PayoutStatus.choices, default=PayoutStatus.QUEUED, verbose_name=_("status")
    )
    amount = models.BigIntegerField(
        help_text=_("PPT redeemed, in the ledger's smallest unit (10⁻⁶ PPT)."), verbose_name=_("amount")
    )
    currency = models.CharField(max_length=3, choices=PAID_IN_CHOICES, verbose_name=_("currency"))
    fiat_amount = models.BigIntegerField(
        help_text=_("Paid out, in the currency's smallest unit (US cents, riel; a wallet payout's 10⁻⁶ PPT)."),
        verbose_name=_("fiat amount"),
    )
    # None for a wallet payout: PPT paid as PPT.
    rate = models.ForeignKey(
        PayoutRate, null=True, blank=True, on_delete=models.PROTECT, related_name="payouts", verbose_name=_("rate")
    )
    units_per_ppt = models.DecimalField(max_digits=24, decimal_places=12, verbose_name=_("units per ppt"))
    # Where it goes: the verified SIM's number (airtime) or the whitelisted account (cash).
    sim = models.ForeignKey(
        "providers.Sim", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("sim")
    )
    # Encrypted at rest; staff find a payout by its number through the keyed hash.
    msisdn = EncryptedLookupCharField(max_length=16, blank=True, verbose_name=_("msisdn"))
    msisdn_hash = BlindIndexField(source="msisdn", verbose_name=_("number's keyed hash"), db_index=True)
    account = models.ForeignKey(
        PayoutAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("account")
    )
    transfer_id = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("The ledger's pending transfer holding the PPT (a wallet payout's withdrawal's, once booked)."),
        verbose_name=_("transfer id"),
    )
    external_id = models.CharField(
        max_length=64, blank=True, help_text=_("The outside API's transaction id."), verbose_name=_("external id")
    )
    pending_reason = models.CharField(max_length=200, blank=True, verbose_name=_("pending reason"))
    failure_reason = models.CharField(max_length=200, blank=True, verbose_name=_("failure reason"))
    approval_required = models.BooleanField(default=False, verbose_name=_("approval required"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("decided at"))
    rejection_reason = models.CharField(max_length=200, blank=True, verbose_name=_("rejection reason"))
    status_checks = models.PositiveIntegerField(default=0, verbose_name=_("status checks"))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    last_checked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last checked at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("payout")
        verbose_name_plural = _("payouts")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["provider", "-created_at"], name="incentives_payout_provider_idx"),
            # The status checker and the queue gauges: open payouts by status.
            models.Index(fields=["status", "updated_at"], name="incentives_payout_open_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="incentives_payout_amount_positive"),
            models.CheckConstraint(condition=Q(fiat_amount__gt=0), name="incentives_payout_fiat_positive"),
            models.CheckConstraint(condition=Q(status__in=PayoutStatus.values), name="incentives_payout_status_valid"),
            models.CheckConstraint(
                condition=~Q(method=PayoutMethod.AIRTIME) | ~Q(msisdn=""), name="incentives_payout_airtime_has_number"
            ),
            models.CheckConstraint(
                condition=~Q(method=PayoutMethod.CASH) | Q(account__isnull=False),
                name="incentives_payout_cash_has_account",
            ),
            models.CheckConstraint(
                condition=Q(method=PayoutMethod.WALLET) | Q(rate__isnull=False), name="incentives_payout_has_rate"
            ),
            models.CheckConstraint(
                condition=~Q(status=PayoutStatus.PENDING) | ~Q(pending_reason=""),
                name="incentives_payout_pending_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.public_id
