"""Body and recipient checks: each failure has its own stable code, as the send API will return it."""

import pytest
from django.utils import translation

from apps.accounts.tests.factories import UserFactory
from apps.messaging import services
from apps.messaging.choices import Encoding, OptOutSource
from apps.messaging.errors import (
    BodyControlCharacters,
    BodyEmpty,
    BodyInvalidUnicode,
    BodyTooManySegments,
    RecipientBlocked,
    RecipientOptedOut,
)
from apps.messaging.validation import validate_body, validate_recipient


@pytest.mark.parametrize("body", ["", "   ", "\n\n", None])
def test_empty_body(body):
    with pytest.raises(BodyEmpty) as caught:
        validate_body(body)
    assert (caught.value.code, caught.value.status_code) == ("body_empty", 400)


@pytest.mark.parametrize("char", ["\x00", "\x07", "\t", "\x1b", "\x7f", "\x85", "\f"])
def test_control_characters_are_refused(char):
    with pytest.raises(BodyControlCharacters) as caught:
        validate_body(f"Your code{char} is 1234")
    assert caught.value.code == "body_control_characters"
    assert caught.value.details == {"position": 9, "character": f"U+{ord(char):04X}"}


def test_newlines_are_allowed_and_line_endings_normalised():
    checked = validate_body("Line one\r\nLine two\rLine three\nend")
    assert checked.body == "Line one\nLine two\nLine three\nend"
    assert (checked.encoding, checked.segments) == (Encoding.GSM7, 1)


def test_lone_surrogate_is_refused():
    with pytest.raises(BodyInvalidUnicode) as caught:
        validate_body("code \ud83d")
    assert caught.value.code == "body_invalid_unicode"


def test_khmer_body_reports_encoding_and_segments():
    body = "សួស្តី! ការណាត់ជួបរបស់អ្នកនៅមន្ទីរពេទ្យកាល់ម៉ែត នៅថ្ងៃស្អែក ម៉ោង ៩ ព្រឹក។ សូមមកមុន ១៥ នាទី។"
    checked = validate_body(body)
    assert checked.encoding == Encoding.UCS2
    assert checked.units == len(body)
    assert checked.segments == 2


def test_too_many_segments_uses_the_setting(settings):
    settings.MESSAGE_MAX_SEGMENTS = 2
    validate_body("a" * 306)
    with pytest.raises(BodyTooManySegments) as caught:
        validate_body("a" * 300 + "€" * 4)  # 304 characters but 308 septets
    assert caught.value.code == "body_too_many_segments"
    assert caught.value.details == {"max_segments": 2, "segments": 3, "encoding": "gsm7"}


def test_too_many_segments_default_is_ten():
    validate_body("ក" * 670)
    with pytest.raises(BodyTooManySegments):
        validate_body("ក" * 671)


def test_huge_body_is_refused_without_counting():
    with pytest.raises(BodyTooManySegments) as caught:
        validate_body("a" * 1_000_000)
    assert caught.value.details == {"max_segments": 10, "characters": 1_000_000}


@pytest.mark.django_db
def test_recipient_is_normalised():
    phone = validate_recipient("012 345 678")
    assert phone.e164 == "+85512345678"


@pytest.mark.django_db
def test_opted_out_recipient_is_unprocessable():
    services.opt_out_add(phone="+85512345678", source=OptOutSource.STOP_KEYWORD)
    with pytest.raises(RecipientOptedOut) as caught:
        validate_recipient("012345678")
    assert (caught.value.code, caught.value.status_code) == ("recipient_opted_out", 422)


@pytest.mark.django_db
def test_blocked_recipient_is_unprocessable():
    services.blocked_recipient_add(phone="+85512345678", reason="complaint", actor=UserFactory(is_staff=True))
    with pytest.raises(RecipientBlocked) as caught:
        validate_recipient("+855 12 345 678")
    assert (caught.value.code, caught.value.status_code) == ("recipient_blocked", 422)


@pytest.mark.django_db
def test_invalid_recipient_keeps_the_phone_code():
    from apps.accounts.phone import PhoneInvalid

    with pytest.raises(PhoneInvalid):
        validate_recipient("12")


@pytest.mark.parametrize(
    ("error", "khmer"),
    [(BodyEmpty, "សារមិនមានខ្លឹមសារទេ។"), (RecipientOptedOut, "អ្នកទទួលបានសុំឈប់ទទួលសារពីបណ្ដាញ PeerPower ហើយ។")],
)
def test_messages_are_translated_to_khmer(error, khmer):
    with translation.override("km"):
        assert str(error().message) == khmer
    with translation.override("en"):
        assert str(error().message) != khmer
