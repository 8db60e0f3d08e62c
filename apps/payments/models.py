from typing import Any

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import StaffRow
from apps.payments.choices import ExchangeKind, FiatCurrency, NotificationOutcome, TopUpMethod, TopUpStatus


class ExchangeRate(StaffRow):
    """How many PPT one whole unit of a currency buys (1 USD, 1 riel) from `valid_from` until `valid_until` (open:
    until further notice). Staff set rates; a rate is never edited once a top-up used it — set a new row instead.
    Where validity periods overlap, the one that started last applies."""

    currency = models.CharField(max_length=3, choices=FiatCurrency.choices, verbose_name=_("currency"))
    ppt_per_unit = models.DecimalField(
        max_digits=24, decimal_places=12, help_text=_("PPT for one USD or one riel."), verbose_name=_("ppt per unit")
    )

    class Meta:
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        ordering = ["currency", "-valid_from"]
        indexes = [models.Index(fields=["currency", "-valid_from"], name="payments_rate_lookup_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(ppt_per_unit__gt=0), name="payments_rate_positive"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="payments_rate_period_valid",
            ),
            models.CheckConstraint(condition=Q(currency__in=FiatCurrency.values), name="payments_rate_currency_valid"),
        ]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.ppt_per_unit.normalize():f} PPT from {self.valid_from:%Y-%m-%d %H:%M}"


class TopUp(models.Model):
    """A client organisation buying PPT through Baray. The PPT amount is fixed when it is created, by the exchange
    rate then valid (kept here as `rate` and `ppt_per_unit`: the quote records what it used). Issued once, as the
    ledger transfer `topup:<public_id>`, only after Baray's own status says it is paid with this amount."""

    public_id = models.CharField(max_length=32, unique=True, editable=False, verbose_name=_("public id"))
    organization = models.ForeignKey(
        "accounts.ClientOrganization", on_delete=models.PROTECT, related_name="+", verbose_name=_("organization")
    )
    currency = models.CharField(max_length=3, choices=FiatCurrency.choices, verbose_name=_("currency"))
    amount = models.BigIntegerField(
        help_text=_("In the currency's smallest unit (riel, US cents)."), verbose_name=_("amount")
    )
    ppt_amount = models.BigIntegerField(
        help_text=_("PPT to issue, in the ledger's smallest unit (10⁻⁶ PPT)."), verbose_name=_("ppt amount")
    )
    rate = models.ForeignKey(ExchangeRate, on_delete=models.PROTECT, related_name="topups", verbose_name=_("rate"))
    ppt_per_unit = models.DecimalField(max_digits=24, decimal_places=12, verbose_name=_("ppt per unit"))
    method = models.CharField(
        max_length=10, choices=TopUpMethod.choices, default=TopUpMethod.CHECKOUT, verbose_name=_("method")
    )
    status = models.CharField(
        max_length=10, choices=TopUpStatus.choices, default=TopUpStatus.CREATING, verbose_name=_("status")
    )
    failure_reason = models.CharField(max_length=200, blank=True, verbose_name=_("failure reason"))
    intent_id = models.CharField(max_length=64, null=True, blank=True, unique=True, verbose_name=_("intent id"))
    checkout_url = models.CharField(max_length=500, blank=True, verbose_name=_("checkout url"))
    khqr = models.TextField(blank=True, verbose_name=_("khqr"))
    deeplink = models.TextField(blank=True, verbose_name=_("deeplink"))
    transfer_id = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("The ledger transfer that issued the PPT."),
        verbose_name=_("transfer id"),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    settled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("settled at"))

    class Meta:
        verbose_name = _("top up")
        verbose_name_plural = _("top ups")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="payments_topup_client_idx"),
            models.Index(fields=["status", "expires_at"], name="payments_topup_open_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_topup_amount_positive"),
            models.CheckConstraint(condition=Q(ppt_amount__gt=0), name="payments_topup_ppt_positive"),
            models.CheckConstraint(condition=Q(status__in=TopUpStatus.values), name="payments_topup_status_valid"),
            models.CheckConstraint(
                condition=~Q(status=TopUpStatus.SUCCEEDED) | ~Q(transfer_id=""), name="payments_topup_issued_on_success"
            ),
        ]

    def __str__(self) -> str:
        return self.public_id


class BarayExchange(models.Model):
    """One request to Baray or one webhook from it, for the back office and for audits of disputed payments. Bodies
    are kept in clear minus secrets: never the API key; intents' payloads decrypted (they hold no secret)."""

    topup = models.ForeignKey(
        TopUp, null=True, blank=True, on_delete=models.SET_NULL, related_name="exchanges", verbose_name=_("topup")
    )
    kind = models.CharField(max_length=16, choices=ExchangeKind.choices, verbose_name=_("kind"))
    outcome = models.CharField(
        max_length=24, choices=NotificationOutcome.choices, blank=True, verbose_name=_("outcome")
    )
    method = models.CharField(max_length=8, blank=True, verbose_name=_("method"))
    url = models.CharField(max_length=500, blank=True, verbose_name=_("url"))
    request_body = models.JSONField(default=dict, blank=True, verbose_name=_("request body"))
    http_status = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("http status"))
    response_body = models.JSONField(null=True, blank=True, verbose_name=_("response body"))
    error = models.CharField(max_length=500, blank=True, verbose_name=_("error"))
    duration_ms = models.PositiveIntegerField(default=0, verbose_name=_("duration ms"))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("baray exchange")
        verbose_name_plural = _("baray exchanges")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["kind", "-created_at"], name="payments_exchange_kind_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.http_status or self.error or self.outcome}"


class ReceiptCounter(models.Model):
    """The last receipt number given in a year. Its row is locked (FOR UPDATE) by the settlement that takes the next
    number, in the settlement's transaction: a rolled-back settlement gives its number back, so numbers have no gaps."""

    year = models.PositiveSmallIntegerField(primary_key=True, verbose_name=_("year"))
    last = models.PositiveIntegerField(default=0, verbose_name=_("last"))

    class Meta:
        verbose_name = _("receipt counter")
        verbose_name_plural = _("receipt counters")

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class ReceiptImmutable(Exception):
    """A receipt is never changed or deleted once issued (a correction is a ledger adjustment, not an edit)."""


class Receipt(models.Model):
    """Proof of one paid top-up, issued with its PPT in the same transaction. What it says is copied here when it is
    issued (the organisation's name, the tax rule in force) so it reads the same forever. Never changed or deleted:
    the model refuses it, and on PostgreSQL a trigger does too (migration 0002)."""

    number = models.CharField(max_length=24, unique=True, editable=False, verbose_name=_("number"))
    year = models.PositiveSmallIntegerField(editable=False, verbose_name=_("year"))
    sequence = models.PositiveIntegerField(editable=False, verbose_name=_("sequence"))
    topup = models.OneToOneField(
        TopUp, on_delete=models.PROTECT, related_name="receipt", editable=False, verbose_name=_("topup")
    )
    organization = models.ForeignKey(
        "accounts.ClientOrganization", on_delete=models.PROTECT, related_name="+", verbose_name=_("organization")
    )
    organization_name = models.CharField(max_length=200, verbose_name=_("organization name"))
    currency = models.CharField(max_length=3, choices=FiatCurrency.choices, verbose_name=_("currency"))
    amount = models.BigIntegerField(
        help_text=_("Paid, tax included, in the currency's smallest unit."), verbose_name=_("amount")
    )
    tax_name = models.CharField(max_length=40, blank=True, verbose_name=_("tax name"))
    tax_rate_bp = models.PositiveIntegerField(
        default=0, help_text=_("Basis points (1000 = 10%)."), verbose_name=_("tax rate bp")
    )
    tax_amount = models.BigIntegerField(default=0, help_text=_("Included in `amount`."), verbose_name=_("tax amount"))
    ppt_amount = models.BigIntegerField(verbose_name=_("ppt amount"))
    ppt_per_unit = models.DecimalField(max_digits=24, decimal_places=12, verbose_name=_("ppt per unit"))
    transfer_id = models.CharField(max_length=64, verbose_name=_("transfer id"))
    issued_at = models.DateTimeField(editable=False, verbose_name=_("issued at"))

    class Meta:
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")
        ordering = ["-issued_at", "-id"]
        indexes = [models.Index(fields=["organization", "-issued_at"], name="payments_receipt_client_idx")]
        constraints = [
            models.UniqueConstraint(fields=["year", "sequence"], name="payments_receipt_number_once"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_receipt_amount_positive"),
            models.CheckConstraint(
                condition=Q(tax_amount__gte=0) & Q(tax_amount__lte=F("amount")), name="payments_receipt_tax_within"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ReceiptImmutable(self.number)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ReceiptImmutable(self.number)
