"""How many SMS segments a body takes, counted the way the provider's Android phone will split it.

Encoding
    GSM-7 when every character is in the GSM 03.38 default alphabet or its extension table; the extension
    characters (form feed and ``^ { } \\ [ ~ ] | €``) are sent as an escape plus a septet, so they count 2.
    Anything else (all Khmer, emoji, curly quotes…) makes the whole message UCS-2, counted in UTF-16 code units:
    a character outside the Basic Multilingual Plane (most emoji) counts 2.

Limits
    One segment holds 160 septets (GSM-7) or 70 code units (UCS-2). A longer message is sent in parts that each
    give up room to the concatenation header: 153 septets or 67 code units per part.

Where a part may end (decided here, and why)
    PeerPower's providers send with Android's ``SmsManager.divideMessage``, and the number of parts the phone sends
    is what the carrier charges, so segments are counted by reproducing its split rather than by dividing:

    * GSM-7: an escape pair is never split. When an extension character (2 septets) does not fit in what is left
      of a part, the part ends one septet short and the character starts the next one (Android's
      ``GsmAlphabet.findGsmSeptetLimitIndex``). So 152 × "a" + "€" + 152 × "a" is 306 septets but 3 parts.
    * UCS-2: a part never ends inside a surrogate pair (an emoji is never cut in half), nor inside a grapheme
      cluster: Android's ``SmsMessageBase.findNextUnicodePosition`` moves the cut back to the previous
      ``BreakIterator.getCharacterInstance()`` boundary. For Khmer this matters every time: a part may not end
      between a consonant and its vowel sign, so a long Khmer message often needs more parts than
      ``ceil(units / 67)``. Grapheme boundaries are approximated from ``unicodedata`` (UAX #29's rules for
      combining and spacing marks, ZWJ sequences, emoji modifiers, tags and flag pairs; Hangul and prepend rules
      are left out as no Cambodian message needs them). A single cluster longer than a whole part is cut, as
      Android does, at the last code point that fits.

National language shift tables (Turkish, Indic…) are not used: Cambodian carriers do not enable them.
"""

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from apps.messaging.choices import Encoding

GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67

# GSM 03.38 default alphabet in table order (0x00-0x7F), without 0x1B: that is the escape to the extension table,
# not a character a client can send.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e"  # Δ _ Φ Γ Λ Ω Π Ψ Σ Θ Ξ
    "ÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM7_ALPHABET = GSM7_BASIC | GSM7_EXTENSION

ZERO_WIDTH_JOINER = "\u200d"
ZERO_WIDTH_NON_JOINER = "\u200c"


@dataclass(frozen=True)
class SegmentCount:
    encoding: Encoding
    segments: int
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2


def encoding_of(text: str) -> Encoding:
    return Encoding.GSM7 if GSM7_ALPHABET.issuperset(text) else Encoding.UCS2


def count_segments(text: str) -> SegmentCount:
    """Encoding, number of SMS segments and length in units of `text` (an empty text is still one SMS)."""
    encoding = encoding_of(text)
    # Counted in C (str.count, the UTF-16 encoder) rather than character by character: every message pays this.
    if encoding == Encoding.GSM7:
        units = len(text) + sum(map(text.count, GSM7_EXTENSION))  # an extension character takes 2 septets
        single = GSM7_SINGLE
    else:
        units = len(text.encode("utf-16-le", "surrogatepass")) // 2  # 2 code units beyond the BMP
        single = UCS2_SINGLE
    if units <= single:
        return SegmentCount(encoding=encoding, segments=1, units=units)
    return SegmentCount(encoding=encoding, segments=len(split_parts(text)), units=units)


def split_parts(text: str) -> list[str]:
    """The parts `text` is sent in: one if it fits a single SMS, otherwise as Android's divideMessage cuts it."""
    if encoding_of(text) == Encoding.GSM7:
        sizes = [(char, 2 if char in GSM7_EXTENSION else 1) for char in text]
        if sum(size for _, size in sizes) <= GSM7_SINGLE:
            return [text]
        return _pack(sizes, GSM7_PART)
    clusters = [(cluster, _utf16_units(cluster)) for cluster in grapheme_clusters(text)]
    if sum(size for _, size in clusters) <= UCS2_SINGLE:
        return [text]
    return _pack(clusters, UCS2_PART)


def _pack(pieces: list[tuple[str, int]], limit: int) -> list[str]:
    """Fill parts of at most `limit` units with whole pieces; a piece larger than a part is cut by code points."""
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for piece, size in pieces:
        if used + size > limit and current:
            parts.append("".join(current))
            current, used = [], 0
        if size > limit:
            # A cluster longer than a part (a pile of combining marks): Android cuts it where the part is full.
            for char in piece:
                char_size = _utf16_units(char)
                if used + char_size > limit:
                    parts.append("".join(current))
                    current, used = [], 0
                current.append(char)
                used += char_size
            continue
        current.append(piece)
        used += size
    if current:
        parts.append("".join(current))
    return parts


def _utf16_units(text: str) -> int:
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def grapheme_clusters(text: str) -> list[str]:
    """Split `text` into user-perceived characters, close enough to UAX #29 for SMS (see the module docstring)."""
    clusters: list[str] = []
    previous = ""
    regional_indicators_in_run = 0
    for char in text:
        if clusters and _joins_previous(previous, char, regional_indicators_in_run):
            clusters[-1] += char
        else:
            clusters.append(char)
        regional_indicators_in_run = regional_indicators_in_run + 1 if _is_regional_indicator(char) else 0
        previous = char
    return clusters


def _joins_previous(previous: str, char: str, regional_indicators_before: int) -> bool:
    if previous == "\r" and char == "\n":  # GB3
        return True
    if _is_control(previous) or _is_control(char):  # GB4, GB5
        return False
    if _extends(char):  # GB9, GB9a: marks, ZWJ, emoji modifiers, tags
        return True
    if previous == ZERO_WIDTH_JOINER:  # GB11 (emoji ZWJ sequences), without checking the pictograph
        return True
    # GB12, GB13: regional indicators pair up into flags, counted from the start of their run.
    return _is_regional_indicator(char) and regional_indicators_before % 2 == 1


@lru_cache(maxsize=4096)
def _extends(char: str) -> bool:
    if char in (ZERO_WIDTH_JOINER, ZERO_WIDTH_NON_JOINER):
        return True
    code = ord(char)
    if 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F:  # emoji skin tones, emoji tag sequences
        return True
    return unicodedata.category(char) in ("Mn", "Me", "Mc")


@lru_cache(maxsize=4096)
def _is_control(char: str) -> bool:
    if char in (ZERO_WIDTH_JOINER, ZERO_WIDTH_NON_JOINER):
        return False
    return unicodedata.category(char) in ("Cc", "Zl", "Zp", "Cf") and not 0xE0020 <= ord(char) <= 0xE007F


def _is_regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF
