"""What the audit log writes in place of a phone number: every E.164 number in a payload, wherever it stands, becomes
`hash:<keyed hash>`; nothing else changes."""

import pytest

from apps.audit.pseudonyms import pseudonymise, search_term_e164
from apps.core.crypto import blind_index

NUMBER = "+85512345678"
MARKER = "hash:" + blind_index(NUMBER)


def test_numbers_become_their_keyed_hash_wherever_they_stand():
    payload = {
        "phone": NUMBER,
        "repr": f"{NUMBER} (owner) in Angkor Coffee",
        "values": {"contact_phone": NUMBER, "numbers": [NUMBER, "+14155552671"]},
        "count": 85512345678,  # a number, not a phone number's text
    }
    assert pseudonymise(payload) == {
        "phone": MARKER,
        "repr": f"{MARKER} (owner) in Angkor Coffee",
        "values": {"contact_phone": MARKER, "numbers": [MARKER, "hash:" + blind_index("+14155552671")]},
        "count": 85512345678,
    }


@pytest.mark.parametrize(
    "text",
    [
        "+0a1b2c3d4e5f60",  # an erased account's stand-in
        "MCowBQYDK2VwAyEA+12345678abc/Q==",  # base64: "+" inside a word
        "+1234567",  # too short for E.164
        "erased:" + blind_index(NUMBER),
        MARKER,
        "amount +5000",
    ],
)
def test_what_is_not_a_number_stays(text):
    assert pseudonymise({"value": text}) == {"value": text}


def test_none_stays_none():
    assert pseudonymise(None) is None


@pytest.mark.parametrize("typed", ["012 345 678", "+855 12 345 678", "85512345678", "0 12-345-678", NUMBER])
def test_staff_type_a_number_in_any_common_form(typed):
    assert search_term_e164(typed) == NUMBER


@pytest.mark.parametrize("typed", ["provider.sim_added", "42", "12345", "+855 1", "abc 012 345 678"])
def test_other_search_terms_are_not_numbers(typed):
    assert search_term_e164(typed) is None
