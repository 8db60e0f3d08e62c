"""Phone numbers as Cambodians type them; each refusal with its own code."""

import pytest

from apps.accounts.phone import PhoneInvalid, PhoneNotMobile, PhoneRegionNotAllowed, normalize_phone


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
