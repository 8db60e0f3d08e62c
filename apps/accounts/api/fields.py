"""The phone number field every API input uses, with its format stated in the schema."""

from drf_spectacular.utils import extend_schema_field

from apps.accounts.phone import PHONE_MAX_LENGTH, PHONE_PATTERN
from apps.core.serializer_fields import StrictCharField

PHONE_DESCRIPTION = (
    "A phone number as people type it (`012 345 678`, `+855 12 345 678`). A number in this format can still be "
    "refused: `phone_invalid` (no such number), `phone_not_mobile`, `phone_region_not_allowed`."
)


@extend_schema_field(
    {"type": "string", "pattern": PHONE_PATTERN, "maxLength": PHONE_MAX_LENGTH, "description": PHONE_DESCRIPTION}
)
class PhoneNumberField(StrictCharField):
    """The text as typed; `apps.accounts.phone.normalize_phone` (in the service) checks and normalises it, with a
    code of its own for each way a number is refused, so the field itself checks only the length."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("max_length", PHONE_MAX_LENGTH)
        super().__init__(**kwargs)


@extend_schema_field(
    {
        "type": "string",
        "pattern": f"^$|{PHONE_PATTERN}",
        "maxLength": PHONE_MAX_LENGTH,
        "description": f"Empty, or: {PHONE_DESCRIPTION}",
    }
)
class OptionalPhoneNumberField(PhoneNumberField):
    """A phone number that may be left empty."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)
