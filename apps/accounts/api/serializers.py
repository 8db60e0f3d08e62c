"""Input and output shapes of the identity API. Small payloads: the app runs on slow mobile data."""

from rest_framework import serializers

from apps.accounts.api.fields import OptionalPhoneNumberField, PhoneNumberField
from apps.accounts.choices import Language
from apps.accounts.models import ApiKey, ClientOrganization, DeviceSession, User
from apps.core.serializer_fields import StrictBooleanField, StrictCharField, StrictEmailField


class PhoneInput(serializers.Serializer):
    phone = PhoneNumberField()


class OtpIssuedOutput(serializers.Serializer):
    expires_in = serializers.IntegerField(help_text="Seconds until the code expires.")
    resend_after = serializers.IntegerField(help_text="Seconds before another code may be requested.")


class OtpVerifyInput(serializers.Serializer):
    phone = PhoneNumberField()
    code = serializers.RegexField(r"^[0-9]{6}$", max_length=6)
    device_name = StrictCharField(max_length=100, required=False, allow_blank=True, default="")


class UserOutput(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "phone", "display_name", "preferred_language", "did", "evm_address", "reputation_score"]
        read_only_fields = fields


class ProfileInput(serializers.Serializer):
    display_name = StrictCharField(max_length=100, required=False, allow_blank=True)
    preferred_language = serializers.ChoiceField(choices=Language.choices, required=False)


class TokenPairOutput(serializers.Serializer):
    access = StrictCharField()
    refresh = StrictCharField()


class LoginOutput(TokenPairOutput):
    user = UserOutput()


class RefreshInput(serializers.Serializer):
    refresh = StrictCharField(max_length=2000)


class SessionOutput(serializers.ModelSerializer):
    current = serializers.SerializerMethodField()

    class Meta:
        model = DeviceSession
        fields = ["id", "name", "created_at", "last_used_at", "current"]

    def get_current(self, session: DeviceSession) -> bool:
        current = getattr(self.context.get("user"), "device_session", None)
        return current is not None and current.pk == session.pk


class ChallengeOutput(serializers.Serializer):
    nonce = StrictCharField()
    message = StrictCharField(help_text="Sign exactly this text.")
    expires_at = serializers.DateTimeField()


class DidBindInput(serializers.Serializer):
    did = StrictCharField(max_length=200)
    signature = StrictCharField(max_length=200, help_text="Ed25519 signature of the challenge message, base64.")


class WalletChallengeInput(serializers.Serializer):
    address = StrictCharField(max_length=42)


class WalletBindInput(serializers.Serializer):
    message = StrictCharField(max_length=2000)
    signature = StrictCharField(max_length=200)


class ClientInput(serializers.Serializer):
    name = StrictCharField(max_length=200)
    contact_email = StrictEmailField(required=False, allow_blank=True, default="")
    contact_phone = OptionalPhoneNumberField(required=False, allow_blank=True, default="")
    verification_codes = StrictBooleanField(
        required=False, default=False, help_text="Append a code recipients can check at /api/verify/{code}."
    )
    low_balance_threshold = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        allow_null=True,
        default=None,
        help_text="A balance.low webhook event when spendable PPT falls under this, in 10⁻⁶ PPT (null: never).",
    )


class ClientOutput(serializers.ModelSerializer):
    class Meta:
        model = ClientOrganization
        fields = [
            "id",
            "name",
            "contact_email",
            "contact_phone",
            "verification_codes",
            "low_balance_threshold",
            "created_at",
            "is_blocked",
        ]


class ApiKeyInput(serializers.Serializer):
    name = StrictCharField(max_length=100)
    rate_per_second = serializers.IntegerField(min_value=1, max_value=10_000, required=False, allow_null=True)
    rate_per_day = serializers.IntegerField(min_value=1, max_value=100_000_000, required=False, allow_null=True)


class ApiKeyOutput(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at", "rate_per_second", "rate_per_day"]


class ApiKeyCreatedOutput(ApiKeyOutput):
    secret = StrictCharField(help_text="Shown once. Store it now: it cannot be shown again.")

    class Meta(ApiKeyOutput.Meta):
        fields = [*ApiKeyOutput.Meta.fields, "secret"]
