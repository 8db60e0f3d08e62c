"""The wallet API's shapes: amounts as integers in the ledger's smallest unit, each with its decimal string."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.serializer_fields import QueryIntegerField
from apps.tokens.choices import LedgerCode, Reason, TransferKind, TransferStatus
from apps.tokens.selectors import amount_decimal, signed_amount


class AmountSerializer(serializers.Serializer):
    amount = serializers.IntegerField(help_text="In the ledger's smallest unit (10⁻⁶ PPT, riel, US cents).")
    decimal = serializers.CharField(help_text='The same amount with the ledger\'s decimal places, e.g. "1.500000".')


def amount_data(amount: int, scale: int) -> dict:
    return {"amount": amount, "decimal": amount_decimal(amount, scale)}


class WalletQuerySerializer(serializers.Serializer):
    ledger = serializers.ChoiceField(choices=LedgerCode.choices, default=LedgerCode.PPT)
    organization = QueryIntegerField(
        required=False, min_value=1, help_text="The client organisation's wallet, for a member of several."
    )


class WalletSerializer(serializers.Serializer):
    ledger = serializers.CharField()
    scale = serializers.IntegerField(help_text="Decimal places of the smallest unit.")
    owner = serializers.ChoiceField(choices=["client", "provider"])
    organization = serializers.IntegerField(allow_null=True)
    available = AmountSerializer(help_text="Spendable now: posted credits less posted and held debits.")
    pending_in = AmountSerializer(help_text="Coming in, not posted yet (rewards in their verification window).")
    pending_out = AmountSerializer(help_text="Held for going out (charges of messages in flight, payouts).")


class TransactionQuerySerializer(WalletQuerySerializer):
    reason = serializers.ChoiceField(choices=Reason.choices, required=False)
    since = serializers.DateTimeField(required=False, help_text="From this instant (inclusive).")
    until = serializers.DateTimeField(required=False, help_text="Before this instant.")


class TransactionSerializer(serializers.Serializer):
    """One transfer as the wallet's owner sees it: positive amounts came in, negative went out."""

    id = serializers.CharField()
    at = serializers.DateTimeField(source="created_at")
    reason = serializers.ChoiceField(choices=Reason.choices)
    kind = serializers.ChoiceField(choices=TransferKind.choices)
    status = serializers.ChoiceField(choices=TransferStatus.choices)
    amount = serializers.SerializerMethodField()
    decimal = serializers.SerializerMethodField()
    message_id = serializers.IntegerField(allow_null=True)

    @extend_schema_field(serializers.IntegerField(help_text="Signed, in the smallest unit."))
    def get_amount(self, transfer: object) -> int:
        return signed_amount(transfer, self.context["account_id"])

    @extend_schema_field(serializers.CharField())
    def get_decimal(self, transfer: object) -> str:
        return amount_decimal(signed_amount(transfer, self.context["account_id"]), self.context["scale"])


class WithdrawalQuerySerializer(serializers.Serializer):
    organization = serializers.IntegerField(
        required=False, min_value=1, help_text="The client organisation's wallet, for a member of several."
    )


class WithdrawalCreateSerializer(serializers.Serializer):
    amount = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, help_text="PPT in the ledger's smallest unit (10⁻⁶ PPT): 10000000 is 10 PPT."
    )
    organization = serializers.IntegerField(
        required=False, min_value=1, help_text="The client organisation's wallet, for a member of several."
    )


class WithdrawalSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    amount = AmountSerializer()
    address = serializers.CharField(
        help_text="The EVM address the PPT goes to (yours, bound with Sign-In with Ethereum)"
    )
    state = serializers.ChoiceField(
        choices=["requested", "batched", "settled", "failed"],
        help_text="`requested` (booked: the amount is held), `batched` (in a settlement transaction, not final yet), "
        "`settled` (final on chain), `failed` (the transaction reverted: the amount is back in your wallet).",
    )
    tx_hash = serializers.CharField(allow_null=True, help_text="The settlement transaction's hash, once signed.")
    tx_state = serializers.CharField(
        allow_null=True, help_text="`signed`, `sent`, `mined` (not final yet), `confirmed`, `reverted`, `dropped`."
    )
    block_number = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    settled_at = serializers.DateTimeField(allow_null=True, help_text="When it became settled or failed.")
