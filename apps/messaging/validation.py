"""Checks the send API runs on a client's message before storing it. Each failure raises its own coded error
(`apps.messaging.errors`), so a client can tell exactly what to fix."""

import re
from dataclasses import dataclass

from django.conf import settings

from apps.accounts.phone import Phone, normalize_phone
from apps.messaging.choices import Encoding, RecipientBlockReason
from apps.messaging.errors import (
    BodyControlCharacters,
    BodyEmpty,
    BodyInvalidUnicode,
    BodyTooManySegments,
    RecipientBlocked,
    RecipientOptedOut,
)
from apps.messaging.segments import GSM7_PART, count_segments
from apps.messaging.selectors import recipient_block_reason

# C0 and C1 control characters except the line feed (Unicode category Cc).
CONTROL_CHARACTER = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
# Half of a surrogate pair on its own: JSON can carry one ("\ud83d"), but no phone or database can store it.
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True)
class CheckedBody:
    body: str  # line endings normalised to "\n"; this is what is stored and sent
    encoding: Encoding
    segments: int
    units: int


def validate_body(body: str, *, max_segments: int | None = None) -> CheckedBody:
    """Check a message body and count its segments. `max_segments` defaults to the MESSAGE_MAX_SEGMENTS setting.

    Windows (CRLF) and old Mac (CR) line endings become a line feed, so a client's newline is never mistaken for
    a control character nor counted twice.
    """
    if max_segments is None:
        max_segments = settings.MESSAGE_MAX_SEGMENTS
    body = (body or "").replace("\r\n", "\n").replace("\r", "\n")
    if not body.strip():
        raise BodyEmpty()
    if match := LONE_SURROGATE.search(body):
        raise BodyInvalidUnicode(details={"position": match.start()})
    if match := CONTROL_CHARACTER.search(body):
        raise BodyControlCharacters(details={"position": match.start(), "character": f"U+{ord(match.group()):04X}"})
    if len(body) > max_segments * GSM7_PART:
        # Longer than the most a message of max_segments parts can carry in any encoding: no need to count.
        raise BodyTooManySegments(details={"max_segments": max_segments, "characters": len(body)})
    count = count_segments(body)
    if count.segments > max_segments:
        raise BodyTooManySegments(
            details={"max_segments": max_segments, "segments": count.segments, "encoding": count.encoding}
        )
    return CheckedBody(body=body, encoding=count.encoding, segments=count.segments, units=count.units)


def validate_recipient(raw: str) -> Phone:
    """Normalise the recipient's number (phone_invalid, phone_not_mobile… on failure) and refuse one that opted
    out of the network or that staff blocked (422 recipient_opted_out / recipient_blocked)."""
    phone = normalize_phone(raw)
    refuse_blocked(phone.e164, recipient_block_reason(phone.e164))
    return phone


def refuse_blocked(e164: str, reason: str | None) -> None:
    """Raise the coded error for a recipient's block reason (from `recipient_block_reason(s)`), if it has one."""
    if reason == RecipientBlockReason.OPTED_OUT:
        raise RecipientOptedOut(details={"to": e164})
    if reason == RecipientBlockReason.BLOCKED:
        raise RecipientBlocked(details={"to": e164})
