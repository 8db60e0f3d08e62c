"""Phone numbers never reach the audit log in plain text: each one in an entry's `before`/`after` is written as
`hash:<its keyed hash>` (apps.core.crypto.blind_index of the E.164 number), the marker the deny-list uses too.

Every entry goes through `audit_record`, which pseudonymises its payloads here, so no service has to remember to; a
database copy holds no number, and staff still find the entries about a number by typing it whole (the admin hashes
the searched number). Erasure later turns a person's markers into `erased:<hash>` (apps.audit.redaction).

Numbers are recognised by their form, wherever they appear in a string (a value, an object's name in an admin
edit): services store and pass numbers in E.164 (`+` and 8 to 15 digits), which nothing else in a payload looks like.
"""

import re
from typing import Any

import phonenumbers
from django.conf import settings

from apps.core.crypto import blind_index

HASHED = "hash:"
# E.164: "+", a country code not starting with 0, up to 15 digits; not inside a word or a longer run of digits
# (base64 text has "+" between letters). An erased account's stand-in ("+0" and hex) does not match.
E164_IN_TEXT = re.compile(r"(?<![\w+])\+[1-9][0-9]{7,14}(?!\w)")


def phone_marker(e164: str) -> str:
    """What an audit entry holds in place of the number `e164`."""
    return HASHED + blind_index(e164)


def pseudonymise(data: Any) -> Any:
    """`data` (a JSON payload) with every E.164 number in its strings replaced by its marker; keys stay as they are."""
    if isinstance(data, dict):
        return {key: pseudonymise(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [pseudonymise(value) for value in data]
    if isinstance(data, str) and "+" in data:
        return E164_IN_TEXT.sub(lambda match: phone_marker(match.group()), data)
    return data


def search_term_e164(term: str) -> str | None:
    """The E.164 form of a number staff typed to search the log ("012 345 678", "+855 12 345 678", "85512345678"),
    or None if the term is not a number. (The audit app sits below accounts, so it parses with phonenumbers itself.)"""
    text = term.strip()
    digits = "".join(character for character in text if character.isdigit())
    if not digits or len(digits) < 6 or any(c not in "+0123456789 ().-" for c in text):
        return None
    if not text.startswith(("+", "0")) and digits.startswith("855") and len(digits) >= 11:
        text = "+" + digits
    try:
        number = phonenumbers.parse(text, settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
