"""The top-up API's shapes. Amounts are taken as given (string or number) and checked by the service, which answers
each mistake with its own stable code."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.serializer_fields import QueryChoiceField, QueryIntegerField
from apps.payments.choices import FiatCurrency, TopUpMethod, TopUpStatus
from apps.payments.services import AMOUNT_PATTERN


@extend_schema_field({"oneOf": [{"type": "string", "pattern": AMOUNT_PATTERN.pattern}, {"type": "number"}]})
class AmountField(serializers.JSONField):
    """Taken as sent; the service checks it and answers each mistake with its own code (`amount_*`)."""


@extend_schema_field({"type": "string", "enum": FiatCurrency.values})
class CurrencyField(serializers.CharField):
    """Checked by the service, which answers `currency_unsupported` (not DRF's generic invalid choice)."""


class TopUpCreateSerializer(serializers.Serializer):
    amount = AmountField(help_text='In whole units of the currency: "10.50" (USD, 2 places) or "40000" (KHR).')
    currency = CurrencyField(max_length=8)
    method = serializers.ChoiceField(choices=TopUpMethod.choices, default=TopUpMethod.CHECKOUT)
    organization = serializers.IntegerField(
        required=False, min_value=1, help_text="The client organisation, for a member of several."
    )


class TopUpQuerySerializer(serializers.Serializer):
    organization = QueryIntegerField(required=False, min_value=1)
    status = QueryChoiceField(choices=TopUpStatus.choices, required=False)


class MoneySerializer(serializers.Serializer):
    amount = serializers.IntegerField(help_text="In the smallest unit (riel, US cents, 10⁻⁶ PPT).")
    decimal = serializers.CharField()


class RateSerializer(serializers.Serializer):
    ppt_per_unit = serializers.CharField(help_text="PPT for one USD or one riel, as quoted when the top-up was made.")
    rate_id = serializers.IntegerField()


class TopUpSerializer(serializers.Serializer):
    """`apps.payments.representation.topup_output`, documented."""

    id = serializers.CharField()
    organization = serializers.IntegerField()
    status = serializers.ChoiceField(choices=TopUpStatus.choices)
    method = serializers.ChoiceField(choices=TopUpMethod.choices)
    amount = MoneySerializer()
    currency = serializers.CharField()
    ppt = MoneySerializer(help_text="PPT issued when Baray confirms the payment.")
    rate = RateSerializer()
    checkout_url = serializers.CharField(help_text="Where the payer pays.")
    khqr = serializers.CharField(help_text="ABA KHQR string (method aba_khqr), else empty.")
    deeplink = serializers.CharField(help_text="ABA Mobile deeplink (method aba_khqr), else empty.")
    failure_reason = serializers.CharField()
    created_at = serializers.CharField()
    expires_at = serializers.CharField()
    settled_at = serializers.CharField(allow_null=True)


class BarayWebhookSerializer(serializers.Serializer):
    encrypted_order_id = serializers.CharField()


class DocumentQuerySerializer(serializers.Serializer):
    organization = QueryIntegerField(required=False, min_value=1)
    lang = serializers.ChoiceField(choices=[("km", "Khmer"), ("en", "English")], required=False)


class UsageQuerySerializer(serializers.Serializer):
    organization = QueryIntegerField(required=False, min_value=1)
    # `from` and `to` are read by the service (its own stable codes); declared here for the reference.
    vars()["from"] = serializers.DateField(required=False, help_text="YYYY-MM-DD, included (Phnom Penh).")
    to = serializers.DateField(required=False, help_text="YYYY-MM-DD, included (Phnom Penh).")


class TaxSerializer(serializers.Serializer):
    name = serializers.CharField()
    rate_bp = serializers.IntegerField(help_text="Basis points (1000 = 10%).")
    amount = MoneySerializer(help_text="Included in the amount paid.")


class ReceiptSerializer(serializers.Serializer):
    """`apps.payments.representation.receipt_output`, documented."""

    number = serializers.CharField()
    topup = serializers.CharField()
    organization = serializers.IntegerField()
    organization_name = serializers.CharField()
    amount = MoneySerializer()
    currency = serializers.CharField()
    amount_text = serializers.CharField(help_text="As printed (Khmer).")
    tax = TaxSerializer(allow_null=True)
    ppt = MoneySerializer()
    ppt_per_unit = serializers.CharField()
    transfer_id = serializers.CharField()
    issued_at = serializers.CharField()
    links = serializers.DictField(child=serializers.CharField())


class PptMovesSerializer(serializers.Serializer):
    held = serializers.IntegerField()
    captured = serializers.IntegerField()
    released = serializers.IntegerField()


class StatusCountSerializer(serializers.Serializer):
    messages = serializers.IntegerField()
    segments = serializers.IntegerField()


class UsageDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    messages = serializers.IntegerField()
    segments = serializers.IntegerField()
    by_status = serializers.DictField(child=StatusCountSerializer())
    ppt = PptMovesSerializer()


class UsageTotalsSerializer(serializers.Serializer):
    messages = serializers.IntegerField()
    segments = serializers.IntegerField()
    ppt = PptMovesSerializer()


class UsageSerializer(serializers.Serializer):
    vars()["from"] = serializers.DateField()
    to = serializers.DateField()
    timezone = serializers.CharField()
    days = UsageDaySerializer(many=True)
    totals = UsageTotalsSerializer()


class StatementSerializer(serializers.Serializer):
    """`apps.payments.representation.statement_output`: amounts in 10⁻⁶ PPT."""

    month = serializers.CharField()
    organization = serializers.IntegerField()
    vars()["from"] = serializers.CharField()
    to = serializers.CharField()
    opening_balance = serializers.IntegerField()
    top_ups = serializers.IntegerField()
    charges_captured = serializers.IntegerField()
    adjustments = serializers.IntegerField()
    other = serializers.IntegerField()
    closing_balance = serializers.IntegerField()
    holds_placed = serializers.IntegerField()
    holds_released = serializers.IntegerField()
    holds_open_at_close = serializers.IntegerField()
    reconciles = serializers.BooleanField()
