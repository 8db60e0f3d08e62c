"""Phone numbers as Cambodians type them, normalised to E.164 with `phonenumbers`.

`012 345 678`, `+855 12 345 678`, `85512345678` and `0 12-345-678` are all +85512345678. Each way a number can
be refused has its own error code, so the app can tell the user exactly what to fix.
"""

import hashlib
import re
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from phonenumbers import PhoneNumber, PhoneNumberType, carrier

from apps.core.errors import ValidationFailed

MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
# The types phonenumbers knows a carrier for (as `carrier.name_for_number` decides).
CARRIER_TYPES = {*MOBILE_TYPES, PhoneNumberType.PAGER}
# What a typed number may look like (the API schema states it): an optional +, then digits, spaces, dots, dashes and
# brackets. phonenumbers alone would also read letters ("1-800-FLOWERS") and other punctuation.
PHONE_PATTERN = r"^\+?[0-9 ().-]{6,31}$"
PHONE_FORMAT = re.compile(PHONE_PATTERN)
PHONE_MAX_LENGTH = 32
# A Cambodian number already written the canonical way, "+855" or the trunk "0" then a national number of 8 or 9
# digits not starting with 0: what clients' systems send nearly always. For these, `phonenumbers.parse` (most of the
# cost of a number, ~10 µs) can only give country code 855 and that national number, so it is skipped (see
# `_canonical_cambodian`); anything else goes through `parse`.
CANONICAL_CAMBODIAN = re.compile(r"(?:\+855|(0))([1-9][0-9]{7,8})")


class PhoneInvalid(ValidationFailed):
    code = "phone_invalid"
    default_message = _("This is not a valid phone number.")


class PhoneNotMobile(ValidationFailed):
    code = "phone_not_mobile"
    default_message = _("This phone number is not a mobile number.")


class PhoneRegionNotAllowed(ValidationFailed):
    code = "phone_region_not_allowed"
    default_message = _("Phone numbers from this country are not accepted.")


@dataclass(frozen=True)
class Phone:
    e164: str
    region: str
    carrier: str  # as phonenumbers knows it from the number range ("Smart", "Cellcard", "Metfone"...), or ""


def normalize_phone(
    raw: str,
    *,
    require_mobile: bool = True,
    allowed_regions: list[str] | None = None,
) -> Phone:
    """Parse and validate `raw`. `allowed_regions` defaults to PHONE_ALLOWED_REGIONS; pass [] to allow any."""
    if allowed_regions is None:
        allowed_regions = settings.PHONE_ALLOWED_REGIONS
    text = (raw or "").strip()
    national = _canonical_national(text)
    if national is not None and CLASS_TABLE_IN_USE:
        # A canonical Cambodian number's type and carrier by its class (`cambodian_class`), without the patterns.
        region, e164 = "KH", "+855" + national
        kind, name = cambodian_class(national)
    else:
        number = PhoneNumber(country_code=855, national_number=int(national)) if national else _parse(raw, text)
        # The number's type, matched against its region's patterns once: `is_valid_number` (a type other than
        # UNKNOWN), the mobile check and `carrier.name_for_number` would each match it again, and matching is most
        # of the cost of a number on the send path (every bulk recipient pays it).
        region = phonenumbers.region_code_for_number(number)
        kind = phonenumbers.number_type(number) if region else PhoneNumberType.UNKNOWN
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        name = carrier.name_for_valid_number(number, "en") if kind in CARRIER_TYPES else ""
    if kind == PhoneNumberType.UNKNOWN:
        raise PhoneInvalid(details={"phone": raw})
    if allowed_regions and region not in allowed_regions:
        raise PhoneRegionNotAllowed(details={"region": region, "allowed": list(allowed_regions)})
    if require_mobile and kind not in MOBILE_TYPES:
        raise PhoneNotMobile(details={"phone": raw})
    return Phone(e164=e164, region=region, carrier=name)


def _canonical_cambodian(text: str) -> PhoneNumber | None:
    """What `phonenumbers.parse` gives for a canonical Cambodian number (`CANONICAL_CAMBODIAN`), built directly; None
    for any other text. "+855…" is read with country code 855 whatever the default region; "0…" only when the
    default region is Cambodia, where parse strips the national prefix "0" (it keeps it only when the rest would
    not look like a number and the whole would, and no Cambodian number begins with 0). The type, region and
    carrier are then decided by phonenumbers as for any number (a test compares both paths on many numbers)."""
    national = _canonical_national(text)
    return None if national is None else PhoneNumber(country_code=855, national_number=int(national))


def _canonical_national(text: str) -> str | None:
    """The national number of a canonical Cambodian number (see `_canonical_cambodian`), or None."""
    match = CANONICAL_CAMBODIAN.fullmatch(text)
    if match is None or (match.group(1) and settings.PHONE_DEFAULT_REGION != "KH"):
        return None
    return match.group(2)


# The type and carrier of a Cambodian national number of 8 or 9 digits depend only on its length and its first
# CLASS_DIGITS digits. Read off phonenumbers' own metadata (9.0.43): every alternative of Cambodia's type patterns
# fixes at most the first four digits and then takes any digits up to a length (the longest fixed part:
# fixed line `234[56]`, mobile `(2[3-6]|3[2-6]|4[2-4]|[5-7][2-5])48`), and the carrier prefixes of +855 are at most
# four national digits long (`8557548` the longest). Matching the ~11 patterns costs ~5 µs a number; a class's
# answer is worked out by phonenumbers the first time a number of that class is seen and then looked up (at most
# 2 × 9,000 classes). The reading holds only for the metadata it was made on: their fingerprint
# (`cambodian_metadata_fingerprint`) is pinned here, and on any other metadata (a phonenumbers upgrade that changes
# Cambodia's ranges or carriers) the table is not used — numbers go through the patterns as before, and a test
# fails until the reading is checked again and the fingerprint updated. `test_phone.py` compares the table with
# phonenumbers for every class.
CLASS_DIGITS = 4
CAMBODIAN_METADATA_FINGERPRINT = "b22640d652d66e2465ec88cdadbd59d9d2a39ffa4c209bcadfee9a0e429797de"
_CLASSES: dict[tuple[int, str], tuple[int, str]] = {}


def cambodian_metadata_fingerprint() -> str:
    """A digest of what decides a Cambodian number's type, region and carrier in phonenumbers: the region's number
    patterns, the regions of +855, and the carrier prefixes that can match a +855 number."""
    from phonenumbers import PhoneMetadata
    from phonenumbers.carrierdata import CARRIER_DATA

    metadata = PhoneMetadata.metadata_for_region("KH")
    descriptions = [
        getattr(metadata, name)
        for name in (
            "general_desc",
            "premium_rate",
            "toll_free",
            "shared_cost",
            "voip",
            "personal_number",
            "pager",
            "uan",
            "voicemail",
            "fixed_line",
            "mobile",
        )
    ]
    carriers = sorted(
        (prefix, sorted(names.items()))
        for prefix, names in CARRIER_DATA.items()
        if prefix.startswith("855") or "855".startswith(prefix)
    )
    facts = [
        [None if desc is None else (desc.national_number_pattern, desc.possible_length) for desc in descriptions],
        metadata.same_mobile_and_fixed_line_pattern,
        phonenumbers.region_codes_for_country_code(855),
        carriers,
    ]
    return hashlib.sha256(repr(facts).encode()).hexdigest()


CLASS_TABLE_IN_USE = cambodian_metadata_fingerprint() == CAMBODIAN_METADATA_FINGERPRINT


def cambodian_class(national: str) -> tuple[int, str]:
    """The phonenumbers type and English carrier name ("" where it names none) of the Cambodian national number
    `national` (8 or 9 digits, not starting with 0), by its class: what phonenumbers gave the first number of that
    length and those first CLASS_DIGITS digits."""
    key = (len(national), national[:CLASS_DIGITS])
    known = _CLASSES.get(key)
    if known is None:
        number = PhoneNumber(country_code=855, national_number=int(national))
        kind = phonenumbers.number_type(number)
        known = _CLASSES[key] = (kind, carrier.name_for_valid_number(number, "en") if kind in CARRIER_TYPES else "")
    return known


def _parse(raw: str, text: str) -> PhoneNumber:
    """`text` (stripped `raw`) through `phonenumbers.parse`, after the format check; PhoneInvalid if it fails."""
    if not PHONE_FORMAT.fullmatch(text):
        raise PhoneInvalid(details={"phone": raw})
    digits = "".join(ch for ch in text if ch.isdigit())
    # "85512345678" typed without the plus: a leading country code, not a national number.
    if text and not text.startswith(("+", "0")) and digits.startswith("855") and len(digits) >= 11:
        text = "+" + digits
    try:
        return phonenumbers.parse(text, settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise PhoneInvalid(details={"phone": raw}) from None
