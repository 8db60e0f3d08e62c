"""Input and output shapes of the identity API. Small payloads: the app runs on slow mobile data."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.api.fields import OptionalPhoneNumberField, PhoneNumberField
from apps.accounts.choices import Language
from apps.accounts.models import ApiKey, ClientApplication, ClientOrganization, DeviceSession, User
from apps.accounts.services import plan_limits
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


class PlanLimitsOutput(serializers.Serializer):
    key_rate_per_second = serializers.IntegerField(help_text="The highest per-second rate an API key may have.")
    key_rate_per_day = serializers.IntegerField(help_text="The highest daily quota an API key may have.")
    organization_rate_per_day = serializers.IntegerField(help_text="Messages a day across all your keys.")
    max_api_keys = serializers.IntegerField(help_text="Active API keys you may hold.")


class ClientOutput(serializers.ModelSerializer):
    sandboxed = serializers.BooleanField(
        source="is_sandboxed",
        read_only=True,
        help_text="In the sandbox: sends only to members' own numbers, a few a day, until staff approve the "
        "application (docs/sandbox.md).",
    )
    limits = serializers.SerializerMethodField(help_text="Your plan's limits, set by PeerPower staff.")

    @extend_schema_field(PlanLimitsOutput)
    def get_limits(self, organization: ClientOrganization) -> dict:
        return PlanLimitsOutput(plan_limits(organization)).data

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
            "sandboxed",
            "approved_at",
            "limits",
        ]


class ApiKeyInput(serializers.Serializer):
    name = StrictCharField(max_length=100)
    rate_per_second = serializers.IntegerField(min_value=1, max_value=10_000, required=False, allow_null=True)
    rate_per_day = serializers.IntegerField(min_value=1, max_value=100_000_000, required=False, allow_null=True)


class ApiKeyUpdateInput(serializers.Serializer):
    """Any of the fields; a limit set to null is the plan's."""

    name = StrictCharField(max_length=100, required=False)
    rate_per_second = serializers.IntegerField(
        min_value=1,
        max_value=10_000,
        required=False,
        allow_null=True,
        help_text="At most the plan's; null: the plan's.",
    )
    rate_per_day = serializers.IntegerField(
        min_value=1,
        max_value=100_000_000,
        required=False,
        allow_null=True,
        help_text="At most the plan's; null: the plan's.",
    )


class ApiKeyOutput(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at", "rate_per_second", "rate_per_day"]


class ApiKeyCreatedOutput(ApiKeyOutput):
    secret = StrictCharField(help_text="Shown once. Store it now: it cannot be shown again.")

    class Meta(ApiKeyOutput.Meta):
        fields = [*ApiKeyOutput.Meta.fields, "secret"]


class ApplicationInput(serializers.Serializer):
    business_name = StrictCharField(max_length=200, help_text="The registered name of the business.")
    registration_number = StrictCharField(max_length=100, help_text="Its registration number (e.g. with the MoC).")
    use_case = StrictCharField(max_length=2000, help_text="What you send, to whom, and how they agreed to it.")
    sample_messages = serializers.ListField(
        child=StrictCharField(max_length=1000), min_length=1, max_length=10, help_text="1 to 10 example SMS bodies."
    )
    expected_daily_volume = serializers.IntegerField(min_value=1, max_value=100_000_000)


class ApplicationOutput(serializers.ModelSerializer):
    class Meta:
        model = ClientApplication
        fields = [
            "business_name",
            "registration_number",
            "use_case",
            "sample_messages",
            "expected_daily_volume",
            "status",
            "staff_note",
            "submitted_at",
            "decided_at",
        ]
