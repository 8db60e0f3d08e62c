from typing import Any

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from apps.core.models import StaffRow
from apps.payments.choices import ExchangeKind, FiatCurrency, NotificationOutcome, TopUpMethod, TopUpStatus


class ExchangeRate(StaffRow):
    """How many PPT one whole unit of a currency buys (1 USD, 1 riel) from `valid_from` until `valid_until` (open:
    until further notice). Staff set rates; a rate is never edited once a top-up used it — set a new row instead.
    Where validity periods overlap, the one that started last applies."""

    currency = models.CharField(max_length=3, choices=FiatCurrency.choices)
    ppt_per_unit = models.DecimalField(max_digits=24, decimal_places=12, help_text="PPT for one USD or one riel.")

    class Meta:
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

    public_id = models.CharField(max_length=32, unique=True, editable=False)
    organization = models.ForeignKey("accounts.ClientOrganization", on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3, choices=FiatCurrency.choices)
    amount = models.BigIntegerField(help_text="In the currency's smallest unit (riel, US cents).")
    ppt_amount = models.BigIntegerField(help_text="PPT to issue, in the ledger's smallest unit (10⁻⁶ PPT).")
    rate = models.ForeignKey(ExchangeRate, on_delete=models.PROTECT, related_name="topups")
    ppt_per_unit = models.DecimalField(max_digits=24, decimal_places=12)
    method = models.CharField(max_length=10, choices=TopUpMethod.choices, default=TopUpMethod.CHECKOUT)
    status = models.CharField(max_length=10, choices=TopUpStatus.choices, default=TopUpStatus.CREATING)
    failure_reason = models.CharField(max_length=200, blank=True)
    intent_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    checkout_url = models.CharField(max_length=500, blank=True)
    khqr = models.TextField(blank=True)
    deeplink = models.TextField(blank=True)
    transfer_id = models.CharField(max_length=64, blank=True, help_text="The ledger transfer that issued the PPT.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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

    topup = models.ForeignKey(TopUp, null=True, blank=True, on_delete=models.SET_NULL, related_name="exchanges")
    kind = models.CharField(max_length=16, choices=ExchangeKind.choices)
    outcome = models.CharField(max_length=24, choices=NotificationOutcome.choices, blank=True)
    method = models.CharField(max_length=8, blank=True)
    url = models.CharField(max_length=500, blank=True)
    request_body = models.JSONField(default=dict, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["kind", "-created_at"], name="payments_exchange_kind_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.http_status or self.error or self.outcome}"


class ReceiptCounter(models.Model):
    """The last receipt number given in a year. Its row is locked (FOR UPDATE) by the settlement that takes the next
    number, in the settlement's transaction: a rolled-back settlement gives its number back, so numbers have no gaps."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class ReceiptImmutable(Exception):
    """A receipt is never changed or deleted once issued (a correction is a ledger adjustment, not an edit)."""


class Receipt(models.Model):
    """Proof of one paid top-up, issued with its PPT in the same transaction. What it says is copied here when it is
    issued (the organisation's name, the tax rule in force) so it reads the same forever. Never changed or deleted:
    the model refuses it, and on PostgreSQL a trigger does too (migration 0002)."""

    number = models.CharField(max_length=24, unique=True, editable=False)
    year = models.PositiveSmallIntegerField(editable=False)
    sequence = models.PositiveIntegerField(editable=False)
    topup = models.OneToOneField(TopUp, on_delete=models.PROTECT, related_name="receipt", editable=False)
    organization = models.ForeignKey("accounts.ClientOrganization", on_delete=models.PROTECT, related_name="+")
    organization_name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, choices=FiatCurrency.choices)
    amount = models.BigIntegerField(help_text="Paid, tax included, in the currency's smallest unit.")
    tax_name = models.CharField(max_length=40, blank=True)
    tax_rate_bp = models.PositiveIntegerField(default=0, help_text="Basis points (1000 = 10%).")
    tax_amount = models.BigIntegerField(default=0, help_text="Included in `amount`.")
    ppt_amount = models.BigIntegerField()
    ppt_per_unit = models.DecimalField(max_digits=24, decimal_places=12)
    transfer_id = models.CharField(max_length=64)
    issued_at = models.DateTimeField(editable=False)

    class Meta:
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
