"""The top-up API's shapes. Amounts are taken as given (string or number) and checked by the service, which answers
each mistake with its own stable code."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.serializer_fields import QueryIntegerField
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
    status = serializers.ChoiceField(choices=TopUpStatus.choices, required=False)


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
