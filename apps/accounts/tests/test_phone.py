"""Phone numbers as Cambodians type them; each refusal with its own code."""

import random

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType, carrier

from apps.accounts import phone
from apps.accounts.phone import (
    CAMBODIAN_METADATA_FINGERPRINT,
    CARRIER_TYPES,
    CLASS_DIGITS,
    CLASS_TABLE_IN_USE,
    PhoneInvalid,
    PhoneNotMobile,
    PhoneRegionNotAllowed,
    _canonical_cambodian,
    cambodian_class,
    cambodian_metadata_fingerprint,
    normalize_phone,
)


@pytest.mark.parametrize("typed", ["012 345 678", "+855 12 345 678", "85512345678", "0 12-345-678", "(012) 345678"])
def test_common_spellings_normalise_to_e164(typed):
    phone = normalize_phone(typed)
    assert phone.e164 == "+85512345678"
    assert phone.region == "KH"
    assert phone.carrier == "Cellcard"


@pytest.mark.parametrize(("typed", "carrier"), [("010 123 456", "Smart"), ("097 123 4567", "Metfone")])
def test_carrier_is_kept(typed, carrier):
    assert normalize_phone(typed).carrier == carrier


@pytest.mark.parametrize("typed", ["", "hello", "123", "012 345", "+855 12 345 678 999"])
def test_invalid(typed):
    with pytest.raises(PhoneInvalid) as error:
        normalize_phone(typed)
    assert error.value.code == "phone_invalid"


def test_landline_is_not_mobile():
    with pytest.raises(PhoneNotMobile) as error:
        normalize_phone("023 756 789")  # Phnom Penh fixed line
    assert error.value.code == "phone_not_mobile"


def test_a_landline_is_accepted_where_mobiles_are_not_required_and_has_no_carrier():
    phone = normalize_phone("023 756 789", require_mobile=False)
    assert (phone.e164, phone.region, phone.carrier) == ("+85523756789", "KH", "")


def test_a_number_of_no_region_is_invalid_even_when_any_region_is_allowed():
    with pytest.raises(PhoneInvalid):
        normalize_phone("+999 1234 5678", allowed_regions=[])


def test_foreign_number_is_refused_by_default_and_allowed_by_setting(settings):
    with pytest.raises(PhoneRegionNotAllowed) as error:
        normalize_phone("+66 81 234 5678")
    assert error.value.code == "phone_region_not_allowed"
    settings.PHONE_ALLOWED_REGIONS = ["KH", "TH"]
    assert normalize_phone("+66 81 234 5678").e164 == "+66812345678"


def _outcome(typed: str, **options: object) -> tuple:
    """What normalize_phone answers for `typed`: the Phone, or the error's class, code and details (without the typed
    text itself, which differs between the spellings compared)."""
    try:
        return ("ok", normalize_phone(typed, **options))
    except (PhoneInvalid, PhoneNotMobile, PhoneRegionNotAllowed) as error:
        details = {key: value for key, value in (error.details or {}).items() if key != "phone"}
        return (type(error), error.code, details)


def _canonical_and_parsed_spellings(rng: random.Random):
    """Canonical spellings ("+855…", "0…") of numbers across every national prefix of three digits, at both national
    lengths the shortcut takes, each paired with the same number spaced out, which only `phonenumbers.parse` reads."""
    for prefix in range(100, 1000):
        for length in (8, 9):
            for _ in range(2):
                national = f"{prefix}{rng.randrange(10 ** (length - 3)):0{length - 3}d}"
                yield f"+855{national}", f"+855 {national}"
                yield f"0{national}", f"0 {national}"


@pytest.mark.parametrize("require_mobile", [True, False])
def test_canonical_cambodian_numbers_read_without_parse_answer_as_parse_does(require_mobile):
    # Mobile, fixed line, unallocated and invalid ranges, carriers included: the shortcut must agree on every one.
    rng = random.Random(855)
    compared = 0
    seen = set()
    for canonical, spaced in _canonical_and_parsed_spellings(rng):
        assert _canonical_cambodian(canonical) is not None  # the shortcut is taken…
        assert _canonical_cambodian(spaced) is None  # …and the other spelling goes through parse
        outcome = _outcome(canonical, require_mobile=require_mobile)
        assert outcome == _outcome(spaced, require_mobile=require_mobile), canonical
        seen.add(outcome[0] if outcome[0] != "ok" else outcome[1].carrier or "no carrier")
        compared += 1
    assert compared == 900 * 2 * 2 * 2
    # The sample reached valid numbers of each carrier and the refusals, so the comparison meant something.
    assert {"Smart", "Cellcard", "Metfone", "Seatel", PhoneInvalid} <= seen, seen
    assert (PhoneNotMobile in seen) == require_mobile


@pytest.mark.parametrize(
    "typed", ["012345678", "+85512345678", "0123456789", "+855123456789", "0234567890", "+85502345678", "01234567"]
)
def test_the_shortcut_answers_as_parse_for_edge_spellings(typed):
    spaced = typed[:4] + " " + typed[4:]
    assert _outcome(typed) == _outcome(spaced)
    assert _outcome(typed, allowed_regions=[]) == _outcome(spaced, allowed_regions=[])


def test_a_trunk_zero_is_cambodian_only_when_cambodia_is_the_default_region(settings):
    settings.PHONE_DEFAULT_REGION = "TH"
    settings.PHONE_ALLOWED_REGIONS = ["KH", "TH"]
    assert _canonical_cambodian("0812345678") is None
    assert normalize_phone("0812345678").e164 == "+66812345678"  # a Thai mobile, as parse reads it
    assert _outcome("0812345678") == _outcome("08 1234 5678")
    assert normalize_phone("+85512345678").e164 == "+85512345678"  # "+855" is Cambodian whatever the default


def test_the_class_table_is_used_on_the_metadata_it_was_read_from():
    # Fails after a phonenumbers upgrade that changes Cambodia's patterns, regions or carriers: check that a type and
    # carrier still depend on the length and first CLASS_DIGITS digits only (see phone.py), then pin the new digest.
    assert cambodian_metadata_fingerprint() == CAMBODIAN_METADATA_FINGERPRINT
    assert CLASS_TABLE_IN_USE


def _phonenumbers_answer(national: str) -> tuple[int, str]:
    number = phonenumbers.PhoneNumber(country_code=855, national_number=int(national))
    kind = phonenumbers.number_type(number)
    return kind, carrier.name_for_valid_number(number, "en") if kind in CARRIER_TYPES else ""


def test_every_class_answers_as_phonenumbers_for_any_number_of_it(monkeypatch):
    # Every length and first-four-digit class the shortcut takes: the table's answer (made from the class's first
    # number) against phonenumbers' own for the class's lowest, highest and a random number.
    monkeypatch.setattr(phone, "_CLASSES", {})
    rng = random.Random(4)
    kinds = set()
    for length in (8, 9):
        rest = length - CLASS_DIGITS
        for prefix in range(1000, 10000):
            for tail in (f"{rng.randrange(10**rest):0{rest}d}", "0" * rest, "9" * rest):
                national = f"{prefix}{tail}"
                answer = _phonenumbers_answer(national)
                assert cambodian_class(national) == answer, national
                kinds.add(answer)
    assert len(phone._CLASSES) == 2 * 9000
    # Mobile ranges of each carrier, fixed lines, and invalid ranges were all among them.
    names = {name for _, name in kinds}
    assert {"Smart", "Cellcard", "Metfone", "Seatel", "Telecom Cambodia"} <= names
    assert {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.UNKNOWN} <= {k for k, _ in kinds}


@pytest.mark.parametrize("require_mobile", [True, False])
def test_without_the_class_table_numbers_answer_the_same(monkeypatch, require_mobile):
    # The way numbers go on metadata the table was not read from: the patterns, with the same answers.
    rng = random.Random(12)
    typed = [canonical for canonical, _ in _canonical_and_parsed_spellings(rng)][::7]
    with_table = [_outcome(text, require_mobile=require_mobile) for text in typed]
    monkeypatch.setattr(phone, "CLASS_TABLE_IN_USE", False)
    monkeypatch.setattr(phone, "_CLASSES", {})
    assert [_outcome(text, require_mobile=require_mobile) for text in typed] == with_table
    assert phone._CLASSES == {}  # the table was not consulted
