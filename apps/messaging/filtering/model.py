"""The statistical part of the content filter: a linear score over the words the rules already read and the text.

The term rules catch the phrasings staff wrote down; the model scores wording nobody listed, from what spam and
legitimate messages of the corpus have in common. It reads the same tokens the rules do (Khmer segmented by the
dictionary segmenter, so no second pass over the text): each word and each pair of neighbouring words, with every
digit read as 0 (so amounts, phone numbers and dates weigh as their shape, not their value); the character
trigrams of each Khmer word and the character four-grams of each English word of five letters or more (with its
start and end marked), so a spelling or a compound the corpus never had still weighs by its parts; and whether the
message has a link, the link's top-level domain, its second-level domain under ``.kh`` (``com.kh``, ``gov.kh``:
registered names, which scam sites seldom have) and whether its host has a hyphen; and what the message asks for
(`intent_features`: a code, a call back, a phone number, a fee to be paid for a prize or a loan).

A second block reads what the words cannot: the message's whole normalised text (digits as 0, whitespace runs as
one space) as character 2-, 3- and 4-grams, across word boundaries and without the segmenter, so Khmer spelled or
glued in ways the dictionary does not know, "new number, send money"-shaped wording, and the look of a message with
no link, number or offer word still weigh by their parts.

The score is a linear SVM's over the TF-IDF of the features present in each block (`SpamModel`): a margin. Scoring
is dictionary look-ups and sums, so it runs in plain Python without scikit-learn, which only the build needs
(`apps/messaging/corpus/training.py`, `manage.py build_spam_model`). The model file (`data/spam_model.json`) holds
each feature's weight × idf and idf², the bias, each block's damping, the gate and the threshold, chosen by
cross-validation: a message whose score reaches the threshold is held (`FilterDecision` reason ``classifier``).
"""

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, reduce
from itertools import chain, pairwise, repeat
from operator import or_
from pathlib import Path

from apps.messaging.filtering.text import Link

MODEL_FILE = Path(__file__).resolve().parent / "data" / "spam_model.json"
# Every digit read as 0 (tokens are normalised: Khmer digits are ASCII already). `str.translate` costs a fraction of
# a regular-expression substitution, and the model's features are on every message's path.
_ZERO = str.maketrans("123456789", "000000000")
# The same for a whole message on the send path: on text that is not all ASCII `str.translate` looks up every
# character in its table (~6 µs for 80 Khmer characters), a substitution only finds the digits (~1.4 µs).
_NONZERO_DIGIT = re.compile("[1-9]")
KHMER_GRAM = 3
ENGLISH_GRAM = 4
ENGLISH_GRAM_MIN_LENGTH = 5
# A word's character n-grams, by word: words recur from message to message, and slicing them is most of the
# model's cost. Bounded; emptied whole when full (as the filter's segmented runs are).
_GRAMS_KEPT = 8192
_grams: dict[str, tuple[str, ...]] = {}
# The character model's grams: every run of 2 to 4 characters of each piece of the message (`char_pieces`).
CHAR_GRAM_MIN, CHAR_GRAM_MAX = 2, 4
# How many of the weightiest features a `classifier` reason names for the staff reviewing the hold.
SHOWN_FEATURES = 3


def word_grams(word: str) -> tuple[str, ...]:
    """A word's character n-grams: trigrams of a Khmer word ("#" before each), four-grams of an English word of
    five letters or more with its start and end marked ("%" before each); none for anything else."""
    grams = _grams.get(word)
    if grams is None:
        if "\u1780" <= word[0] <= "\u17ff":
            grams = tuple("#" + word[i : i + KHMER_GRAM] for i in range(len(word) - KHMER_GRAM + 1))
        elif word.isascii() and word.isalpha():
            grams = (latin_skeleton(word),) if len(word) >= SKELETON_MIN_LENGTH else ()
            if len(word) >= ENGLISH_GRAM_MIN_LENGTH:
                marked = f"^{word}$"
                grams += tuple("%" + marked[i : i + ENGLISH_GRAM] for i in range(len(marked) - ENGLISH_GRAM + 1))
        else:
            grams = ()
        if len(_grams) >= _GRAMS_KEPT:
            _grams.clear()
        _grams[word] = grams
    return grams


# Khmer written in Latin script has no standard spelling: one writer's "kchey" is another's "khchei" or "kjey",
# "phnhae" is "pnhaer", "luy" is "lui" or "loy", "tngai" is "tgnai". A Latin word of three letters or more also
# reads as its skeleton ("~kcV"): aspirate digraphs as their plain consonant (kh → k, ph → p, th → t, ch and j → c),
# "nh" and "ny" as n, "gn" as "ng", every run of vowels (y and w included) as one "V", doubled letters once. English
# words get one too; it weighs what the corpus gives it. Seventh round, by cross-validation (RESULTS.md).
SKELETON_MIN_LENGTH = 3
_SKELETON_DIGRAPHS = (
    ("chh", "c"),
    ("kh", "k"),
    ("ph", "p"),
    ("th", "t"),
    ("ch", "c"),
    ("j", "c"),
    ("nh", "n"),
    ("gn", "ng"),
    ("ny", "n"),
    ("bh", "b"),
    ("dh", "d"),
)
_SKELETON_VOWELS = re.compile(r"[aeiouyw]+")
_SKELETON_DOUBLES = re.compile(r"(.)\1+")


def latin_skeleton(word: str) -> str:
    """The spelling-independent form of a Latin-script word (see `_SKELETON_DIGRAPHS`), marked with "~"."""
    for digraph, plain in _SKELETON_DIGRAPHS:
        word = word.replace(digraph, plain)
    return "~" + _SKELETON_VOWELS.sub("V", _SKELETON_DOUBLES.sub(r"\1", word))


def char_grams(text: str) -> set[str]:
    """The distinct character 2- to 4-grams of a text."""
    found: set[str] = set()
    for size in range(CHAR_GRAM_MIN, CHAR_GRAM_MAX + 1):
        found.update(text[i : i + size] for i in range(len(text) - size + 1))
    return found


def char_pieces(normalized: str) -> list[str]:
    """The pieces the character block reads of a normalised message, its digits as 0 (amounts and phone numbers
    weigh by their shape): each chunk between runs of whitespace, and across each run the three characters either
    side of it as one space ("night market" → "night", "market", "ght mar")."""
    chunks = _NONZERO_DIGIT.sub("0", normalized).split()
    return chunks + [f"{left[-3:]} {right[:3]}" for left, right in pairwise(chunks)]


def piece_grams(piece: str) -> set[str]:
    """A piece's distinct 2- to 4-grams: of a chunk, all; of a piece across a space, those holding the space (the
    others are its chunks')."""
    grams = char_grams(piece)
    return {gram for gram in grams if " " in gram} if " " in piece else grams


def char_features(normalized: str) -> list[str]:
    """The character block's features of a normalised message: each piece's grams (`char_pieces`), a gram counted
    once per piece it is in. Counting per piece, not once per message, lets the send path keep each piece's total
    (`_CharReadings`) and add a message up from about twenty of them instead of merging a few hundred grams."""
    return [gram for piece in char_pieces(normalized) for gram in piece_grams(piece)]


_HOST_SEPARATORS = re.compile(r"[.\-_]+")


def host_words(host: str) -> list[str]:
    """The words of a host's name before its top-level domain: "netflix-kh-renew.site" → netflix, kh, renew."""
    return [word for word in _HOST_SEPARATORS.split(host.rpartition(".")[0]) if word]


def link_features(links: Iterable[Link], tokens: Iterable[str] = ()) -> list[str]:
    """What the model reads of a message's (outside) links: each link, its top-level domain, the second level of a
    .kh one, a hyphen, the words of its host, and once whether a host names a word of the message itself (a
    brand's or a service's name: "Netflix: update your payment at netflix-kh-renew.site" — an official domain of
    that brand is not an outside link)."""
    found: list[str] = []
    names: set[str] = set()
    for link in links:
        host = link.host
        found.append("<link>")
        labels = host.rsplit(".", 2)
        found.append("<tld:" + labels[-1] + ">")
        if labels[-1] == "kh" and len(labels) == 3:
            found.append("<kh2:" + labels[-2] + ">")
        if "-" in host:
            found.append("<link-hyphen>")
        words = host_words(host)
        found.extend(dict.fromkeys("<host:" + word.translate(_ZERO) + ">" for word in words))
        names.update(word for word in words if len(word) >= 3)
    if names and _names_a_word(names, tokens):
        found.append("<link-names-word>")
    return found


def _names_a_word(host_words: set[str], tokens: Iterable[str]) -> bool:
    """A host word is a word of the message (of 3 letters or more), or holds one of 4 or more ("kh-netflixplus")."""
    words = {token for token in tokens if len(token) >= 3}
    if host_words & words:
        return True
    return any(word in host_word for host_word in host_words for word in words if len(word) >= 4)


# What a message asks for, beyond its words: a code (OTP, PIN) together with a verb of telling or sending ("send us
# the code", "ប្រាប់លេខកូដ") — and whether a "never"/"do not" is there too, as in a bank's own warning; a request to
# call or reply back; a phone number. Read from the set of the message's words, so the order they come in does not
# matter (Khmer and English put them differently).
_CODE_WORDS = frozenset({"code", "codes", "otp", "pin", "cvv", "passcode", "លេខកូដ", "កូដ", "លេខសម្ងាត់"})
_TELL_WORDS = frozenset(
    {
        "send",
        "tell",
        "read",
        "give",
        "forward",
        "reply",
        "share",
        "confirm",
        "ប្រាប់",
        "ផ្ញើ",
        "អាន",
        "ឆ្លើយតប",
        "ផ្តល់",
        "ចែករំលែក",
    }
)
_KHMER_CODE = "កូដ"
_NEVER_WORDS = frozenset({"never", "not", "don", "dont", "កុំ", "មិន", "មិនដែល", "មិនត្រូវ"})
_BACK_WORDS = frozenset({"back", "ត្រឡប់មក", "មកវិញ", "ត្រឡប់"})
_CALL_WORDS = frozenset({"call", "ring", "phone", "reply", "ទូរស័ព្ទ", "ខល", "ឆ្លើយតប"})
# The advance-fee shape: a prize, a loan or a job that must first be paid for ("pay the $35 registration fee",
# "បង់ថ្លៃដឹក"), against a brand's "winners never pay any fee" (with a "never" word, as above). Khmer compounds
# glue the word to its neighbour ("ឈ្នះរង្វាន់", "ថ្លៃដឹកជញ្ជូន"), so the Khmer stems count inside words.
_PRIZE_WORDS = frozenset(
    "won win wins winner winners winning prize prizes reward rewards jackpot lucky gift congratulations".split()
)
_KHMER_PRIZE = ("រង្វាន់", "ឈ្នះ", "កាដូ")
_LOAN_WORDS = frozenset("loan loans credit lend borrow approved salary job hiring".split())
_KHMER_LOAN = ("កម្ចី", "ឥណទាន", "ខ្ចី", "ប្រាក់ខែ", "ការងារ")
_FEE_WORDS = frozenset(
    "fee fees tax taxes customs deposit charge charges clearance handling insurance registration".split()
)
_KHMER_FEE = ("ថ្លៃ", "ពន្ធ", "កក់")


# Cambodia's landline area codes: a landline is 0, one of these and six digits ("023 880 880", a business's
# hotline); any other number is a mobile one, what a scam gives to call, text or pay. The model reads digits as 0,
# so only this feature tells the two apart.
_LANDLINE_AREAS = frozenset("23 24 25 26 32 33 34 35 36 42 43 44 52 53 54 55 62 63 64 65 72 73 74 75".split())
_MOBILE, _LANDLINE = 1, 2


def _number_kind(digits: str) -> int:
    """`_MOBILE` or `_LANDLINE` for a Cambodian phone number (0 + 8–9 digits, or 855 + 8–9), 0 for anything else."""
    if digits.startswith("0"):
        national = digits[1:]
    elif digits.startswith("855"):
        national = digits[3:]
    else:
        return 0
    if not 8 <= len(national) <= 9:
        return 0
    return _LANDLINE if len(national) == 8 and national[:2] in _LANDLINE_AREAS else _MOBILE


def phone_numbers(tokens: Sequence[str]) -> int:
    """The kinds of Cambodian phone numbers in a message (`_MOBILE` | `_LANDLINE`), from digit groups that together
    make one ("012 345 678")."""
    kinds = 0
    run = ""
    for token in tokens:
        if token.isdigit():
            run += token
        elif token and run:  # most words follow a word: no digits to look at
            kinds |= _number_kind(run)
            run = ""
    return kinds | _number_kind(run)


# _DIGITS: a number that can begin a phone number (0…, 855…): most messages have numbers, few have those, and only
# they need the phone-number scan.
_CODE, _TELL, _NEVER, _BACK, _CALL, _DIGITS, _PRIZE, _LOAN, _FEE = 1, 2, 4, 8, 16, 32, 64, 128, 256
_flags: dict[str, int] = {}


def _contains(token: str, stems: tuple[str, ...]) -> bool:
    return "\u1780" <= token[0] <= "\u17ff" and any(stem in token for stem in stems)


def token_flags(token: str) -> int:
    """Which of the word lists above a token is in, as bits (`_CODE`…), so a message's are one OR per token."""
    flags = _flags.get(token)
    if flags is None:
        # The segmenter may glue "កូដ" to the next word ("កូដដែល"): a Khmer code word counts inside words too.
        flags = (
            (_CODE if token in _CODE_WORDS or _KHMER_CODE in token else 0)
            | (_TELL if token in _TELL_WORDS else 0)
            | (_NEVER if token in _NEVER_WORDS else 0)
            | (_BACK if token in _BACK_WORDS else 0)
            | (_CALL if token in _CALL_WORDS else 0)
            | (_DIGITS if token.isdigit() and token.startswith(("0", "855")) else 0)
            | (_PRIZE if token in _PRIZE_WORDS or _contains(token, _KHMER_PRIZE) else 0)
            | (_LOAN if token in _LOAN_WORDS or _contains(token, _KHMER_LOAN) else 0)
            | (_FEE if token in _FEE_WORDS or _contains(token, _KHMER_FEE) else 0)
        )
        if len(_flags) >= _GRAMS_KEPT:
            _flags.clear()
        _flags[token] = flags
    return flags


def intent_features(tokens: Sequence[str]) -> list[str]:
    """The message-level features of what a message asks for (see `_CODE_WORDS`)."""
    flags = 0
    for token in tokens:
        flags |= token_flags(token)
    return intents(flags, phone_numbers(tokens) if flags & _DIGITS else 0)


def intents(flags: int, phones: int) -> list[str]:
    """`intent_features` of a message whose tokens' `token_flags` OR to `flags` and whose `phone_numbers` are
    `phones`."""
    found: list[str] = []
    if flags & _CODE and flags & _TELL:
        found.append("<ask-code-never>" if flags & _NEVER else "<ask-code>")
    if phones:
        found.append("<phone>")
        if phones & _MOBILE:
            found.append("<phone-mobile>")
        if phones & _LANDLINE:
            found.append("<phone-landline>")
    if flags & _BACK and flags & _CALL:
        found.append("<call-back-phone>" if phones else "<call-back>")
    if flags & _FEE:
        never = "-never" if flags & _NEVER else ""
        if flags & _PRIZE:
            found.append(f"<prize-fee{never}>")
        if flags & _LOAN:
            found.append(f"<loan-fee{never}>")
    return found


def features(tokens: Iterable[str], links: Iterable[Link]) -> list[str]:
    """The model's features of a message, from the filter's reading of it (`ContentFilter.analyse`)."""
    tokens = [token for token in tokens if token]
    words = [token.translate(_ZERO) for token in tokens]
    found = words + [f"{first} {second}" for first, second in pairwise(words)]
    for token in tokens:
        found.extend(word_grams(token))
    return found + link_features(links, tokens) + intent_features(tokens)


Weight = complex  # a feature's weight × its idf (the real part) and its idf² (the imaginary part): see `SpamModel`


@dataclass(frozen=True)
class SpamModel:
    """A linear model over the TF-IDF of the features present (each counted once), in two blocks: the word features
    (`weights`) and the character grams (`char_weights`; a word and a gram may be spelled alike). Each block of a
    message's vector holds each feature's idf, divided by the block's length, and the score is the bias plus the
    weights of the vector: ``bias + Σ(weight × idf) / √(Σ(idf²) + damping)`` per block (the damping keeps a short
    message's few features from weighing as much as a long one's many). A margin, not a log-odds. The build scales
    each feature by its log-count ratio before fitting (`training.NB_SMOOTHING`); the ratio is folded into the weight
    here, so scoring does not see it.

    Each feature of the vocabulary is kept as one complex number, its weight × idf and its idf² (`Weight`), so the
    send path adds a block's features up in one `sum` and reads both parts at once. Every feature the model was
    fitted on counts in its block's length, weighed or not, so the vocabulary is kept whole.

    Reading a message's character grams costs several times its words, so the character block is read only when
    the bias and the word block alone reach `gate` (chosen by cross-validation so that below it no message was held
    by the two together: most legitimate messages stay below it); below the gate the score is that alone, too low
    to hold.

    `veto`: a hold the rules make by the message's words alone (their terms and a contact) is released when the
    model's score, both blocks read whatever the gate, is below it (see `ContentFilter.check`); chosen by
    cross-validation so that out of fold no spam the rules held that way scored below it. The rules hold few
    messages, so reading both blocks for those costs little, and the gate need not stay under the veto."""

    weights: dict[str, Weight]
    bias: float
    threshold: float
    char_weights: dict[str, Weight] = field(default_factory=dict)
    gate: float = -math.inf
    veto: float = -math.inf
    # Added to each block's Σ idf² before its square root (see `training.DAMPING`).
    word_damping: float = 0.0
    char_damping: float = 0.0
    # What the send path keeps (`score_reading`), per token and per piece of text: the weights its features have,
    # looked up once; not compared, not in the file.
    _readings: "_TokenReadings" = field(init=False, compare=False, repr=False)
    _char_readings: "_CharReadings" = field(init=False, compare=False, repr=False)
    _intent_readings: "_IntentReadings" = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_readings", _TokenReadings(self.weights))
        object.__setattr__(self, "_char_readings", _CharReadings(self.char_weights))
        object.__setattr__(self, "_intent_readings", _IntentReadings(self.weights))

    def word_score(self, words: complex) -> float:
        """The bias and the word block, from the sum of the message's word features' `Weight`s."""
        return self.bias + _block(words, self.word_damping)

    def _with_chars(self, word_score: float, chars: complex) -> float:
        return word_score + _block(chars, self.char_damping)

    def score(self, found: Iterable[str], normalized: str = "", *, whole: bool = False) -> float:
        """The score of a message whose word features are `found` and whose normalised text (as `normalize` gives
        it) is `normalized`: the readable form of `score_reading`."""
        word_score = self.word_score(sum(map(self.weights.get, set(found), repeat(0j)), 0j))
        if not self.char_weights or (word_score < self.gate and not whole):
            return word_score
        grams = char_features(normalized)
        return self._with_chars(word_score, sum(map(self.char_weights.get, grams, repeat(0j)), 0j))

    def score_reading(
        self, tokens: Sequence[str], links: Iterable[Link], normalized: str = "", *, whole: bool = False
    ) -> float:
        """`score(features(tokens, links), normalized)`, cheaper: the send path's way (tests check they agree).
        `whole` reads the character block whatever the gate: the veto's reading (`ContentFilter.check`), since the
        gate was chosen for holds only.

        Each token's reading is one look-up (`_TokenReadings`) that gives its features with their weights and the
        word pairs it can start; the readings are split, merged (each feature once, as a dict key) and summed by
        built-ins, with no Python step per token and no look-up in the model's weights per feature."""
        present: dict[str, Weight] = {}
        flags = 0
        read = [token for token in tokens if token] if "" in tokens else tokens
        if read:
            words, weighted, token_flag_bits, pairs = zip(*map(self._readings.__getitem__, read), strict=True)
            present.update(chain.from_iterable(weighted))
            # Each word's pairs (second word → (pair, weight)) asked for the word after it.
            present.update(filter(None, map(dict.get, pairs, words[1:])))
            flags = reduce(or_, token_flag_bits)
        if links:
            present.update(self._weighed(link_features(links, read)))
        if flags:
            present.update(self._intent_readings[flags, phone_numbers(tokens) if flags & _DIGITS else 0])
        word_score = self.word_score(sum(present.values(), 0j))
        if not self.char_weights or (word_score < self.gate and not whole):
            return word_score
        return self._with_chars(word_score, self._char_total(normalized))

    def _weighed(self, found: Iterable[str]) -> list[tuple[str, Weight]]:
        weights = self.weights
        return [(feature, weights[feature]) for feature in found if feature in weights]

    def _char_total(self, normalized: str) -> complex:
        """The character block's sum of `Weight`s: its pieces' kept sums (`_CharReadings`)."""
        return sum(map(self._char_readings.__getitem__, char_pieces(normalized)), 0j)

    def strongest(self, found: Iterable[str], normalized: str = "") -> tuple[str, ...]:
        """The features that pushed the score up most, for the staff reviewing a hold (not on the allow path): word
        features as they are, character grams quoted (as "'ឆាត'"), each weighed by its share of the score."""
        words = {feature: self.weights[feature] for feature in set(found) if feature in self.weights}
        grams: dict[str, Weight] = {}
        if self.char_weights and normalized:
            chars = self.char_weights
            for gram in char_features(normalized):
                if gram in chars:
                    grams[f"'{gram}'"] = grams.get(f"'{gram}'", 0j) + chars[gram]
        present: dict[str, float] = {}
        for block, damping in ((words, self.word_damping), (grams, self.char_damping)):
            length = math.sqrt(sum(block.values(), 0j).imag + damping) or 1.0
            present.update((feature, weight.real / length) for feature, weight in block.items())
        top = sorted((f for f, w in present.items() if w > 0), key=lambda f: (-present[f], f))
        return tuple(top[:SHOWN_FEATURES])

    def as_json(self) -> str:
        """The file form: each feature as [weight × idf, idf²], rounded, sorted keys, so the same corpus always
        gives the same bytes."""

        def table(weights: dict[str, Weight]) -> dict[str, list[float]]:
            return {f: [round(w.real, 5), round(w.imag, 4)] for f, w in sorted(weights.items())}

        document: dict[str, object] = {
            "bias": round(self.bias, 5),
            "threshold": round(self.threshold, 4),
            "weights": table(self.weights),
        }
        if self.char_weights:
            document["char_weights"] = table(self.char_weights)
            document["gate"] = round(self.gate, 4)
            document["char_damping"] = round(self.char_damping, 4)
        document["word_damping"] = round(self.word_damping, 4)
        if self.veto > -math.inf:
            document["veto"] = round(self.veto, 4)
        return json.dumps(document, ensure_ascii=False, indent=0, sort_keys=True, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "SpamModel":
        document = json.loads(text)
        return cls(
            weights={f: complex(*pair) for f, pair in document["weights"].items()},
            bias=document["bias"],
            threshold=document["threshold"],
            char_weights={f: complex(*pair) for f, pair in document.get("char_weights", {}).items()},
            gate=document.get("gate", -math.inf),
            veto=document.get("veto", -math.inf),
            word_damping=document.get("word_damping", 0.0),
            char_damping=document.get("char_damping", 0.0),
        )


def _block(total: complex, damping: float) -> float:
    """A block's part of the score from the sum of its features' `Weight`s: Σ(weight × idf) / √(Σ idf² + damping)."""
    length = total.imag + damping
    return total.real / math.sqrt(length) if length > 0 else 0.0


Weighed = tuple[tuple[str, Weight], ...]  # features that have a weight, with it
_NO_PAIRS: dict[str, tuple[str, Weight]] = {}


class _TokenReadings(dict[str, tuple[str, Weighed, int, dict[str, tuple[str, Weight]]]]):
    """Token → (its word with digits as 0, its features that have a weight (the word, its character n-grams) with
    their weights, its `token_flags`, the weighted word pairs its word starts: next word → (pair, weight)); read on a
    miss (`__missing__`) and kept; emptied whole when full, like `_grams`."""

    def __init__(self, weights: dict[str, Weight]) -> None:
        super().__init__()
        self._weights = weights
        # A pair feature is two words (no word holds a space) joined by one space.
        self._pairs: dict[str, dict[str, tuple[str, Weight]]] = {}
        for feature, weight in weights.items():
            if feature.count(" ") == 1:
                first, second = feature.split(" ")
                self._pairs.setdefault(first, {})[second] = (feature, weight)

    def __missing__(self, token: str) -> tuple[str, Weighed, int, dict[str, tuple[str, Weight]]]:
        weights = self._weights
        word = token.translate(_ZERO)
        found = (word, *word_grams(token))
        weighted = tuple((feature, weights[feature]) for feature in dict.fromkeys(found) if feature in weights)
        reading = (word, weighted, token_flags(token), self._pairs.get(word, _NO_PAIRS))
        if len(self) >= _GRAMS_KEPT:
            self.clear()
        self[token] = reading
        return reading


class _CharReadings(dict[str, Weight]):
    """A piece of a message (`char_pieces`) → the sum of its grams' `Weight`s; read on a miss and kept (templates
    repeat their words and the words' neighbours), emptied whole when full."""

    def __init__(self, weights: dict[str, Weight]) -> None:
        super().__init__()
        self._weights = weights

    def __missing__(self, piece: str) -> Weight:
        reading = sum(map(self._weights.get, piece_grams(piece), repeat(0j)), 0j)
        if len(self) >= _GRAMS_KEPT:
            self.clear()
        self[piece] = reading
        return reading


class _IntentReadings(dict[tuple[int, int], Weighed]):
    """(A message's `token_flags` OR'ed, its `phone_numbers`) → its intent features that have a weight, with their
    weights (`intents`): read on a miss and kept; at most 4 × 2⁹ of them."""

    def __init__(self, weights: dict[str, Weight]) -> None:
        super().__init__()
        self._weights = weights

    def __missing__(self, key: tuple[int, int]) -> Weighed:
        weights = self._weights
        reading = tuple((feature, weights[feature]) for feature in intents(*key) if feature in weights)
        self[key] = reading
        return reading


@lru_cache(maxsize=1)
def shipped_model() -> SpamModel | None:
    """The model in the repository, or None when the file is missing (the rules then work alone)."""
    if not MODEL_FILE.exists():
        return None
    return SpamModel.from_json(MODEL_FILE.read_text(encoding="utf-8"))
