"""One-time codes: generation, hashing, and the senders that deliver them.

Codes come from a CSPRNG and are stored only as an HMAC (keyed with SECRET_KEY, salted per code), so a copy of the
database alone does not reveal them. A sender delivers the text; which one is a setting (OTP_SENDER):
- "console": development; logs the text (the only place a code ever appears);
- "memory": tests; keeps sent texts in `MemoryOtpSender.outbox`;
- a dotted path to an `OtpSender` subclass, e.g. the one that sends through the PeerPower network itself.
"""

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.utils import translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext

logger = logging.getLogger("peerpower.otp")

CODE_DIGITS = 6


def generate_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def hash_code(code: str, salt: str) -> str:
    key = hashlib.sha256(f"peerpower-otp:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()


def code_matches(code: str, salt: str, expected_hash: str) -> bool:
    return hmac.compare_digest(hash_code(code, salt), expected_hash)


def otp_text(code: str, *, language: str, ttl_minutes: int) -> str:
    """The SMS text, in the recipient's language (Khmer unless they prefer English)."""
    with translation.override(language):
        return gettext("Your PeerPower code is %(code)s. It expires in %(minutes)d minutes. Never share it.") % {
            "code": code,
            "minutes": ttl_minutes,
        }


@dataclass(frozen=True)
class OtpMessage:
    phone: str
    text: str
    purpose: str


class OtpSender:
    """Delivers an OTP text to a phone. Called after the code is committed; must not raise for delivery
    problems the user can fix by asking again (log them instead)."""

    def send(self, message: OtpMessage) -> None:
        raise NotImplementedError


class ConsoleOtpSender(OtpSender):
    def send(self, message: OtpMessage) -> None:
        # Development only (production refuses this sender): the console is where a developer reads the code.
        logger.warning("OTP for %s (%s): %s", message.phone, message.purpose, message.text)


class MemoryOtpSender(OtpSender):
    outbox: list[OtpMessage] = []

    def send(self, message: OtpMessage) -> None:
        MemoryOtpSender.outbox.append(message)


SENDER_ALIASES = {"console": ConsoleOtpSender, "memory": MemoryOtpSender}


@cache
def _sender_for(name: str) -> OtpSender:
    sender_class = SENDER_ALIASES.get(name) or import_string(name)
    return sender_class()


def get_otp_sender(name: str | None = None) -> OtpSender:
    """The sender named by OTP_SENDER, or by `name` (another sender setting, e.g. OTP_FALLBACK_SENDER)."""
    return _sender_for(name or settings.OTP_SENDER)
