"""Recognising a one-time code: a message that carries a short number next to a word that names it a code.

"Your ABA code is 482913", "OTP: 5521", "លេខកូដផ្ទៀងផ្ទាត់របស់អ្នកគឺ ៤៨២៩១៣" are codes; "Order #1042 is ready" is not
(no code word), nor is "Use code SUMMER for 10% off" (no number of code length). Whoever sends such a message sees
the code, so it goes only to providers trusted enough (apps.messaging.routes).
"""

import re

from apps.messaging.filtering.text import normalize

_CODE_NUMBER = re.compile(r"(?<![0-9])[0-9]{4,8}(?![0-9])|(?<![0-9])[0-9]{3}[ -][0-9]{3}(?![0-9])")
_CODE_WORDS = re.compile(
    r"\b(?:otp|code|passcode|pin|verification|verify|one[- ]time|tac|password)\b"
    r"|លេខកូដ|កូដ|ផ្ទៀងផ្ទាត់|លេខសម្ងាត់|ពាក្យសម្ងាត់"
)


def looks_like_code(text: str) -> bool:
    """True when the message reads as a one-time code (English or Khmer)."""
    if not text:
        return False
    plain = normalize(text)  # Khmer digits (០-៩), often used for codes, read as ASCII ones
    return bool(_CODE_NUMBER.search(plain)) and bool(_CODE_WORDS.search(plain))
