"""Input and output shapes of the providers API: short keys and no nesting beyond what the app uses, since
phones post these over slow mobile data."""

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from django.conf import settings
from rest_framework import serializers

from apps.accounts.api.fields import PhoneNumberField
from apps.core.converters import DATABASE_ID_MAX
from apps.core.serializer_fields import StrictBooleanField, StrictCharField, StrictRegexField
from apps.providers.choices import Availability, Carrier, NetworkType, Platform, ProviderStatus, Province
from apps.providers.models import SIGNAL_LEVEL_MAX, SIM_SLOT_MAX


class SimInputSerializer(serializers.Serializer):
    msisdn = PhoneNumberField()
    slot = serializers.IntegerField(min_value=0, max_value=SIM_SLOT_MAX)
    mcc_mnc = serializers.RegexField(r"^\d{3}-?\d{2,3}$", required=False, allow_blank=True, default="")


# What an FCM registration token is made of, and a version ("1.4.2", "2.0.0-beta+3"): no spaces, so that what the
# schema allows is what the server takes.
FCM_TOKEN_PATTERN = r"^[A-Za-z0-9_:.\-]+$"  # noqa: S105 - a pattern, not a secret
APP_VERSION_PATTERN = r"^[A-Za-z0-9.+_\-]+$"


class DeviceInputSerializer(serializers.Serializer):
    fcm_token = StrictRegexField(FCM_TOKEN_PATTERN, max_length=512)
    platform = serializers.ChoiceField(choices=Platform.choices)
    app_version = StrictRegexField(APP_VERSION_PATTERN, max_length=32)
    installation_id = StrictCharField(
        max_length=200, required=False, default="", help_text="The app install's Firebase installation id."
    )
    seal_key = StrictCharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="This phone's HPKE public key (X25519, base64 of its 32 bytes): pushed jobs then carry their "
        "content sealed to it (`sealed`). Send it with every registration; a registration without it removes it. "
        "Not a key: 400 `seal_key_invalid`.",
    )


class DeviceRegisterInputSerializer(DeviceInputSerializer):
    previous_token = StrictRegexField(FCM_TOKEN_PATTERN, max_length=512, required=False, default="")


class CoordinateField(serializers.DecimalField):
    """Degrees, rounded to the 6 decimal places stored (about 10 cm): a phone's GPS reading has more digits, which
    is not an error (the schema says a number between the bounds, nothing about digits)."""

    def validate_precision(self, value: Decimal) -> Decimal:
        try:
            value = value.quantize(Decimal(1).scaleb(-self.decimal_places), rounding=ROUND_HALF_EVEN)
        except InvalidOperation:  # far too large to round: out of bounds anyway
            self.fail("max_whole_digits", max_whole_digits=self.max_whole_digits)
        return super().validate_precision(value)


class LocationSerializer(serializers.Serializer):
    lat = CoordinateField(max_digits=9, decimal_places=6, min_value=-90, max_value=90, coerce_to_string=False)
    lng = CoordinateField(max_digits=9, decimal_places=6, min_value=-180, max_value=180, coerce_to_string=False)


class RegisterInputSerializer(serializers.Serializer):
    sims = SimInputSerializer(many=True, allow_empty=False)
    device = DeviceInputSerializer()
    province = serializers.ChoiceField(choices=Province.choices, required=False, default="")
    location = LocationSerializer(required=False, allow_null=True, default=None)

    def validate_sims(self, sims: list) -> list:
        if len(sims) > settings.PROVIDER_MAX_SIMS:
            raise serializers.ValidationError(f"At most {settings.PROVIDER_MAX_SIMS} SIMs.", code="sim_limit_reached")
        return sims


class SimCapsInputSerializer(serializers.Serializer):
    id = serializers.IntegerField(min_value=1, max_value=DATABASE_ID_MAX)
    hourly_cap = serializers.IntegerField(min_value=1, allow_null=True, required=False, default=None)
    daily_cap = serializers.IntegerField(min_value=1, allow_null=True, required=False, default=None)


class ProviderUpdateInputSerializer(serializers.Serializer):
    availability = serializers.ChoiceField(choices=Availability.choices, required=False)
    province = serializers.ChoiceField(choices=Province.choices, required=False, allow_blank=True)
    location = LocationSerializer(required=False, allow_null=True)
    sims = SimCapsInputSerializer(many=True, required=False, help_text="Own caps per SIM; null means the default.")


class HeartbeatInputSerializer(serializers.Serializer):
    battery = serializers.IntegerField(min_value=0, max_value=100, required=False, allow_null=True, default=None)
    charging = StrictBooleanField(required=False, allow_null=True, default=None)
    network = serializers.ChoiceField(choices=NetworkType.choices, required=False, default="")
    signal = serializers.IntegerField(
        min_value=0, max_value=SIGNAL_LEVEL_MAX, required=False, allow_null=True, default=None
    )
    sims_ready = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=SIM_SLOT_MAX),
        required=False,
        allow_null=True,
        default=None,
        help_text="Slots whose SIM is in the phone and usable.",
    )
    app_version = StrictRegexField(APP_VERSION_PATTERN, max_length=32, required=False, default="")
    device = serializers.IntegerField(
        min_value=1, max_value=DATABASE_ID_MAX, required=False, allow_null=True, default=None, help_text="Device id."
    )


class CapsOutputSerializer(serializers.Serializer):
    hourly = serializers.IntegerField()
    daily = serializers.IntegerField()
    warming_up = StrictBooleanField()


class SentOutputSerializer(serializers.Serializer):
    hour = serializers.IntegerField()
    day = serializers.IntegerField()


class SimVerifyInputSerializer(serializers.Serializer):
    code = serializers.RegexField(r"^[0-9]{6}$", max_length=6)


class SimOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    msisdn = StrictCharField()
    slot = serializers.IntegerField()
    carrier = serializers.ChoiceField(choices=Carrier.choices)
    carrier_mismatch = StrictBooleanField()
    verified = StrictBooleanField()
    ready = StrictBooleanField()
    hourly_cap = serializers.IntegerField(allow_null=True, help_text="Own cap; null means the default.")
    daily_cap = serializers.IntegerField(allow_null=True)
    caps = CapsOutputSerializer(help_text="The caps in force now (warm-up and maximum applied).")
    sent = SentOutputSerializer(help_text="Messages given to this SIM this local hour and day.")


class ProviderOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ProviderStatus.choices)
    availability = serializers.ChoiceField(choices=Availability.choices)
    chosen_availability = serializers.ChoiceField(choices=Availability.choices)
    province = StrictCharField()
    location = LocationSerializer(allow_null=True)
    reputation = serializers.IntegerField()
    jobs_in_flight = serializers.IntegerField()
    heartbeat_interval = serializers.IntegerField()
    sims = SimOutputSerializer(many=True)


class DeviceOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    platform = serializers.ChoiceField(choices=Platform.choices)
    app_version = StrictCharField()


class HeartbeatOutputSerializer(serializers.Serializer):
    next = serializers.IntegerField(help_text="Seconds until the next heartbeat.")
    jobs = serializers.IntegerField(help_text="Jobs reserved for this phone and not yet reported.")
    availability = serializers.ChoiceField(choices=Availability.choices)
