"""Turning an SMS body into what the filter matches on: normalised text, links, and word tokens.

Plain Python, no Django: the word-list build script and the benchmark use it too.
"""

import re
import unicodedata
from dataclasses import dataclass

# Invisible characters that only split what a reader sees as one word: zero-width space, non-joiner, joiner, word
# joiner, BOM, soft hyphen. Khmer writers put U+200B between words as a hint, and spammers put it inside words to
# slip past filters; the filter finds word boundaries itself, so all of them go.
_DROP = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
# The Khmer repetition sign ៗ says "the word again" (ស្អាតៗ, ភ្លាមៗ): the word means the same for the filter, and
# kept, it would glue onto the word's last cluster so a term written without it ("ស្រីក្មេង") is not found in
# "ស្រីក្មេងៗ". Dropped with any space before it.
_REPETITION_SIGN = re.compile(r"\s*\u17d7")
# Khmer digits are matched as ASCII digits.
_KHMER_DIGITS = {0x17E0 + value: str(value) for value in range(10)}
# Cyrillic and Greek letters that look Latin ("cаsino" with a Cyrillic а): read as the Latin letter.
_CONFUSABLES = str.maketrans("аеорсухіјѕԁɡοαν", "aeopcyxijsdgoav")
_TRANSLATION = {**_DROP, **_KHMER_DIGITS, **_CONFUSABLES}
# The same replacements, character by character, made where such a character is: `str.translate` looks every
# character of the text up in the table (~30 ns each, 1.5-4 µs a message), though most messages hold none or one.
_REPLACEMENTS = {
    chr(code): "" if value is None else chr(value) if isinstance(value, int) else value
    for code, value in _TRANSLATION.items()
}
_TRANSLATED = re.compile("[" + "".join(map(re.escape, _REPLACEMENTS)) + "]")
# Subscript DA and subscript TA look the same and are typed interchangeably (សួស្ដី / សួស្តី): one form.
_COENG_DA = "\u17d2\u178a"
_COENG_TA = "\u17d2\u178f"

# The digits a sender masks in a phone or account number ("012xxx789", "097xxxx418", "010 xxx 781", "1234-xxx-89"):
# x's touching a digit, or after a digit (or a masked run) and one separator. They are digits nobody may read, not
# the adult term "xxx" ("XXX videos", "xxx 18+" stay as written): read as MASK, which is no word character.
MASK = "\u2022"
_MASKED_DIGITS = re.compile(r"(?<=[0-9\u2022])x{2,}|(?<=[0-9\u2022][-. ])x{2,}|x{2,}(?=[0-9])")

# Digits standing in for letters in words that also contain letters ("c4sino", "l0an").
_LEET = str.maketrans("0134578", "oieastb")

# A Khmer run: consonants, independent vowels, dependent vowels and signs, COENG, and the repetition sign ៗ.
# Punctuation (។ ៕ …) and the riel sign ៛ end a run.
KHMER_RUN = "\u1780-\u17d3\u17d7\u17dc\u17dd"
_TOKEN = re.compile(rf"(?P<khmer>[{KHMER_RUN}]+)|(?P<word>[^\W_\u1780-\u17ff]+)")
# The same pieces as plain strings (`findall` without groups returns the matches themselves): a Khmer run starts
# with a character of the Khmer block, a word never holds one, so the first character tells which a piece is.
PIECE = re.compile(rf"[{KHMER_RUN}]+|[^\W_\u1780-\u17ff]+")

# Link-ish spans. URL characters are ASCII only, so Khmer text written straight after a link (Khmer has no spaces)
# is not swallowed into it.
_URL_CHARS = r"[a-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]"
# Includes the top-level domains of every starter link shortener (rb.gy, bl.ink, qrco.de…), or a shortener written
# without its scheme would not be read as a link, and the cheap generic ones scam sites favour (.support, .help,
# .rest, .sbs…): a link on a domain missing here is read as words, and weighs nothing as a link.
_TLDS = (
    "com|net|org|info|biz|xyz|top|vip|club|online|site|shop|store|link|click|live|life|app|io|co|me|ly|gl|cc|tk|ml|"
    "ga|cf|gq|ws|asia|kh|sg|th|vn|my|ph|la|cn|ru|us|uk|in|fun|win|bet|casino|loan|money|cash|icu|cyou|buzz|cam|"
    "work|today|pro|tv|to|gd|im|st|id|at|gy|ink|de|"
    "support|help|services|center|world|email|page|one|best|website|space|fit|bid|ltd|cloud|tech|digital|network|"
    "rest|bond|sbs|cfd|monster|quest|lol|mobi|pw|ren|kim|men|hk|tw|jp|kr|au|ca|fr|mobile|finance|bank|credit|"
    "loans|lat|boats|hair|beauty|skin|makeup|autos|homes|yachts|mom|motorcycles|baby|zip|mov|gift|gifts|promo|"
    "deals|sale|vin|team|"
    # Not a top-level domain: an Android app's file name ("aba-shield.apk"), written as a link is, to be installed
    # from outside the store (the engine's `app_download`).
    "apk"
)
# A word character that is not Khmer: what may not touch a host name on either side.
_IN_WORD = r"[^\W\u1780-\u17ff]"
_URL = re.compile(
    rf"(?:https?://|www\.){_URL_CHARS}+"
    # A bare IP address counts as a link only with a port or a path ("1.2.3.4/login"), not as a version number.
    rf"|\b\d{{1,3}}(?:\.\d{{1,3}}){{3}}(?::\d+)?/{_URL_CHARS}*"
    rf"|\b\d{{1,3}}(?:\.\d{{1,3}}){{3}}:\d+"
    # A host name. The look-ahead (its first label is followed by a dot) changes no match: it lets a word with no
    # dot after it fail in one forward scan instead of a label tried at every length. Its edges are `\b` except
    # against Khmer (`_IN_WORD`): Khmer letters are word characters to `\b`, and Khmer is written without spaces,
    # so a host glued to the Khmer around it ("ចុចacleda-update.infoហើយ", or with zero-width spaces, which
    # `normalize` drops) must still be one.
    rf"|(?<!{_IN_WORD})(?=[a-z0-9-]*\.)(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:{_TLDS})(?!{_IN_WORD})"
    rf"(?:[/:?#]{_URL_CHARS}*)?"
)
# Every match of `_URL` contains one of these; most messages contain none, and this cheaper scan lets them skip
# `_URL`, the costliest step after Khmer segmentation.
# Written from the "." on (what precedes it as a look-behind), with "://" tested apart as a substring: a pattern that
# starts with a literal is searched for that character first, so most positions cost no try at all (a seventh of
# the scan `[a-z0-9]\.[a-z]|://|www\.|\d\.\d{1,3}\.\d{1,3}\.\d` costs, which finds the same texts).
_MAYBE_URL = re.compile(r"\.(?:(?<=[a-z0-9]\.)[a-z]|(?<=www\.)|(?<=\d\.)\d{1,3}\.\d{1,3}\.\d)")
_TRAILING_PUNCTUATION = ".,;:!?)]'"
_PATH_START = re.compile(r"[/?#]")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def normalize(text: str) -> str:
    """The form both messages and dictionary terms are compared in: NFC, lower case, invisible characters removed,
    Khmer digits as ASCII, look-alike Cyrillic/Greek letters as Latin, one spelling of subscript TA, no repetition
    sign, the masked digits of a number as MASK."""
    if text.isascii():
        text = text.lower()  # every character the steps below change or drop is outside ASCII
        return _unmask(text) if "xx" in text else text
    text = unicodedata.normalize("NFC", text).lower()
    if _TRANSLATED.search(text):
        text = _TRANSLATED.sub(_replacement, text)  # text.translate(_TRANSLATION)
    if "\u17d7" in text:
        text = _REPETITION_SIGN.sub("", text)
    text = text.replace(_COENG_DA, _COENG_TA)
    return _unmask(text) if "xx" in text else text


def _unmask(text: str) -> str:
    # Twice: a run after another masked run ("012 4xx xxx") is found once the first is replaced.
    return _MASKED_DIGITS.sub(_mask_dots, _MASKED_DIGITS.sub(_mask_dots, text))


def _mask_dots(match: re.Match[str]) -> str:
    return MASK * len(match.group())


def _replacement(match: re.Match[str]) -> str:
    return _REPLACEMENTS[match.group()]


@dataclass(frozen=True)
class Link:
    text: str
    host: str  # lower case, without "www." and port; "" when none could be read

    @property
    def is_ip_address(self) -> bool:
        return bool(_IPV4.match(self.host))


def extract_links(normalized: str) -> tuple[list[Link], str]:
    """The links in a normalised text, and the text with each link replaced by a space."""
    links: list[Link] = []
    # Every match of `_URL` holds a "://" or a match of `_MAYBE_URL` (which holds a "."); the substring tests cost
    # less than its scan, and Khmer text (whose full stop is "។") seldom holds either.
    if "://" not in normalized and ("." not in normalized or not _MAYBE_URL.search(normalized)):
        return links, normalized
    pieces: list[str] = []
    position = 0
    for match in _URL.finditer(normalized):
        raw = match.group().rstrip(_TRAILING_PUNCTUATION)
        links.append(Link(text=raw, host=host_of(raw)))
        pieces.append(normalized[position : match.start()])
        pieces.append(" ")
        position = match.start() + len(raw)
    if not links:
        return links, normalized
    pieces.append(normalized[position:])
    return links, "".join(pieces)


def host_of(url: str) -> str:
    """The host of a link written with or without a scheme: lower case, no port, no leading "www."."""
    rest = url.split("://", 1)[1] if "://" in url else url
    host = _PATH_START.split(rest, maxsplit=1)[0].rsplit("@", 1)[-1].split(":", 1)[0].strip(".").lower()
    return host.removeprefix("www.")


def iter_runs(text: str) -> list[tuple[bool, str]]:
    """Split a normalised, link-free text into (is_khmer, run) pieces; everything else (spaces, punctuation) goes.

    A non-Khmer run is one word: letters and digits of any script. Words that mix letters and digits are read
    with the digits as the letters they imitate ("c4sino" → "casino"), which leaves plain numbers alone.
    """
    runs: list[tuple[bool, str]] = []
    # `findall` builds the (khmer, word) pairs in C: cheaper than a match object and two `group` calls per word,
    # and every message goes through here. One of the pair is "" (each alternative matches at least one character).
    for khmer, word in _TOKEN.findall(text):
        if khmer:
            runs.append((True, khmer))
        else:
            runs.append((False, read_word(word)))
    return runs


def is_khmer_piece(piece: str) -> bool:
    """Whether a `PIECE` match is a Khmer run (else it is a word)."""
    return "\u1780" <= piece[0] <= "\u17ff"


def read_word(word: str) -> str:
    """A non-Khmer word as the filter reads it: with its digits as letters when it mixes both ("c4sino")."""
    if not word.isdigit() and not word.isalpha() and any(char.isdigit() for char in word):
        return word.translate(_LEET)
    return word
