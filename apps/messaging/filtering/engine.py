"""The content filter: a compiled term dictionary and link rules, applied to one message at a time.

`ContentFilter` is built from plain specs (no database), so the benchmark and the admin's "try the filter" page
use exactly what the send path uses; `apps.messaging.filtering.runtime` builds it from the admin-edited tables.

Scoring (each reason is reported with its stable code and weight; the score is their sum):

* ``term_<category>``: the weights of the dictionary terms found, per category. A term is a sequence of words;
  at each position the longest term wins and its words are not matched again, so "online casino" is not also
  counted as "casino". Khmer words come from the maximal-matching segmenter, English words are split on anything
  that is not a letter or digit. A single-word English term also matches its plural with "s".
* ``blocked_domain`` / ``link_shortener``: a link to a domain (or a subdomain of one) staff listed, with the
  rule's weight, each rule counted once.
* ``lookalike_domain``: a link whose host imitates a bank's or wallet's brand ("aba-verify.xyz", "ab4bank.top")
  without being one of its official domains.
* ``ip_address_url``: a link to a bare IP address; no bank or business sends those.
* ``app_download``: a link to an Android app's file (``.apk``), not on an official domain: an app installed from
  outside the store is how "security apps" and "new banking apps" take over a phone; brands point to the store.
* ``phishing_pattern``: a link (not to an official domain) together with a credential word (PIN, password,
  code…), more if urgency words come with them: the shape of "URGENT: verify your PIN at http://…".
* ``lure_contact``: a link (not to an official domain), a Telegram handle or a phone number in a message that already
  offers money, credit, bets or adult content (a term of those categories): the spam's call to action. Alone,
  neither a contact nor a light term such as "loan" or "reward" holds a message; together they weigh more. A link
  under Cambodia's registered second-level domains (``.com.kh``, ``.gov.kh``…) is a brand's own page, no lure.
* ``code_request``: the message asks its reader to tell, read out, share, forward or give someone a code, OTP, PIN or
  password, carries no code of its own and says nowhere "never", "do not" (or Khmer "កុំ", "មិន"…): the shape of
  "our agent will call you, read him the code you receive". A brand's own code message carries its code and
  tells the reader *not* to share it; a delivery code to give the courier is in the message.
* A warning: a message without a link of its own that warns about scams (``WARNING_MARKERS``: "be careful of",
  "does not lend", "ប្រយ័ត្ន", "ក្លែងក្លាយ"…) has its offer terms and its contact weighed 0 — a bank's or regulator's
  warning names the offer it warns about and gives a hotline, which is no call to answer the offer. A brand's prize
  that says the winner pays nothing ("no need to pay", "មិនចាំបាច់បង់ប្រាក់") counts the same way.
* A prize claimed in person: a message without a link or contact of its own that sends its reader somewhere with an
  identity card (``IN_PERSON_CLAIM``: "ID card", "with your ID", "passport", "អត្តសញ្ញាណប័ណ្ណ"…) has its prize
  words (the scam category's terms) weighed 0 — a brand's own draw result; a scam wants a fee, a code or a click
  from afar. So has a prize whose every link is the brand's own page (an official domain or a registered ``.kh``
  name) when prizes are its only offer; its contact still counts. A loan falling due (``REPAYMENT_DUE``: "due",
  "overdue", "ដល់ថ្ងៃបង់"…) without a link or contact of its own has its loan words weighed 0 — a lender's reminder
  naming its own product ("your Quick Loan is due 14/12").
* ``repetition``: a character repeated eight times or more (not digits), or one word making up a large share of
  the message.
* ``classifier``: the statistical model (`model.py`) scores the message at or above its threshold while the rules
  above score it below the hold score: its weight tops the score up to the hold score, so the model holds what
  the rules let through but never turns a hold into a reject (rejecting stays with rules staff can read). Its
  matches are the words that weighed most.
* ``classifier_clear``: the rules hold the message (not reject it) by its words alone — terms and a contact,
  nothing about a link, a code or repetition — while the model scores it under its veto (`SpamModel.veto`, far
  below its threshold: no spam held that way scored so low out of fold): a negative weight brings the score to
  just under the hold score and the message goes. Brands' draw results, regulators' warnings and lenders' own
  reminders name offers the way spam does; the model reads the rest of their words. A term meant to hold whatever
  the model says is weighed at the reject score.

Outcome: `reject` at or above the reject score, `hold` at or above the hold score, else `allow`.
"""

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from itertools import chain, compress
from typing import Any

from apps.messaging.choices import DomainRuleKind, FilterAction, TermCategory, TermLanguage
from apps.messaging.filtering.khmer import KhmerSegmenter, base_khmer_words
from apps.messaging.filtering.model import SpamModel, features
from apps.messaging.filtering.text import PIECE, Link, extract_links, is_khmer_piece, normalize, read_word

LOOKALIKE_WEIGHT = 80
MIN_LABEL_AS_BRAND = 5
IP_ADDRESS_URL_WEIGHT = 60
APP_DOWNLOAD_WEIGHT = 60
# A link to an Android package: its path or its name ends in ".apk" (before any query or fragment).
APP_FILE = re.compile(r"\.apk(?:[?#]|$)")
PHISHING_LINK_CREDENTIAL_WEIGHT = 30
PHISHING_LINK_CREDENTIAL_URGENCY_WEIGHT = 60
REPETITION_WEIGHT = 30
CODE_REQUEST_WEIGHT = 50
# A message that names no code ("code", "otp", "pin", "password", កូដ, សម្ងាត់: tested in `check` before any
# pattern) is not asked for one.
_CODE_NOUN = r"(?:codes?|otp|pin|passcode|password|លេខកូដ|កូដ|លេខសម្ងាត់|ពាក្យសម្ងាត់)"
# A verb of handing something over, then a code's name in the same sentence: English, Khmer written in Latin letters
# ("prab code" — tell the code; "phjer code mok" — send the code here, in its usual spellings) and Khmer (ប្រាប់
# tell, អាន read, ចែករំលែក share, បញ្ជូន forward, ផ្តល់ give, ផ្ញើ…មក send to us). "Send" alone is not one: brands
# write "we will send you a code" ("yerng nung phjer code tov bong").
_LATIN_SEND = r"(?:phjer|pnhaer|pnher|phnhaer|phnher|phnhae|pnhae|phnheu)"
CODE_REQUEST = re.compile(
    r"\b(?:tell|read(?:\s+out)?|give|share|forward|provide|say|reply\s+with|confirm|prab)\b"
    rf"[^.!?។\n]{{0,40}}?{_CODE_NOUN}"
    rf"|\b{_LATIN_SEND}\b[^.!?\n]{{0,40}}?{_CODE_NOUN}[^.!?\n]{{0,30}}?\bmok\b"
    rf"|\b{_LATIN_SEND}\s+mok\b[^.!?\n]{{0,30}}?{_CODE_NOUN}"
    rf"|(?:ប្រាប់|អាន|ចែករំលែក|បញ្ជូន|ផ្តល់|ផ្ញើ.{{0,20}}?មក)[^.!?។\n]{{0,25}}?{_CODE_NOUN}"
)
# A negation: brands' code messages and warnings say not to share ("never share", "កុំប្រាប់", Latin-script "kom
# prab"), and a request that says "not" anywhere is left to the model rather than risk them. Latin-script "ot" and
# "min" count only just before a verb ("ot del sour", "min trov prab"): alone they also read "no problem" ("ot ey
# te") and "minutes".
CODE_REQUEST_NEGATION = re.compile(
    r"\b(?:never|not|don't|do not|no one|nobody|anyone|kom|kum)\b|n't|កុំ|មិន|ហាម|គ្មាន"
    r"|\b(?:ot|min)\s+(?:del|dael|deil|trov|tro|dail|ban\s+)?\s*(?:sour|suor|sou|som|sum|prab|share|tell|ask)\b"
)
# A request whose only code name is "pin", not "your PIN", in a message that speaks of a map ("can you share a pin or
# tell me a landmark", "a landmark or pin for your house"): a courier's or a driver's, not a PIN's (thirty-second
# round, from sealed41's and sealed51's couriers).
_OTHER_CODE_NOUN = re.compile(r"codes?\b|otp|passcode|password|កូដ|សម្ងាត់|\byour\s+pin\b|\bpin\s+(?:code|number)")
MAP_WORDS = re.compile(r"\b(?:landmark|location|map|maps|gps)\b|ទីតាំង")
# A code of its own: four to eight digits standing alone (not a group of a spaced phone number, "097 812 4450"; an
# unspaced one is longer): the message gives a code, it asks for none.
_OWN_CODE = re.compile(r"(?<![0-9])(?<![0-9][ -])[0-9]{4,8}(?![0-9])(?![ -][0-9])")
LURE_CONTACT_WEIGHT = 20
# A Cambodian phone number (0 and 8-9 digits, spaced or not) or an @handle (not an e-mail address): how spam asks
# to be answered.
CONTACT = re.compile(r"(?<![\d@\w])(?:\+?855|0)\s?\d{2}\s?\d{3}\s?\d{3,4}(?!\d)|(?<!\w)@\w[\w.]{3,}")
# Cambodia's registered second-level domains: a name under them is given only against a business licence or a
# ministry's letter, so a link to one ("metfone.com.kh", "luckysupermarket.com.kh") is a brand's own page, not a
# scammer's call to action; the brands link them from their own lucky-draw results. (A look-alike or phishing link
# under them still counts in those rules.)
REGISTERED_KH_DOMAINS = ("com.kh", "gov.kh", "org.kh", "edu.kh", "net.kh", "per.kh", "mil.kh")
# Term categories whose terms offer something: with a contact (see above) they make a `lure_contact`.
LURE_CATEGORIES = frozenset(
    f"term_{category}"
    for category in (TermCategory.SCAM, TermCategory.LOAN_SHARK, TermCategory.GAMBLING, TermCategory.ADULT)
)

# A warning about scams: a bank, wallet, regulator or the police naming the offer ("be careful of SMS offering quick
# loans", "គ្មានធនាគារណាផ្តល់កម្ចីតាម Telegram") uses the offer's own words and gives a hotline. Without a link of
# its own to follow, such a message is a warning, not an offer: its offer terms and its contact weigh 0 (and, like
# every reason of weight 0, are not reported). Spam that borrows a warning's words
# ("beware of fake lenders, we are real: apply at …") keeps its weight once it carries a link; the model reads it
# either way. Fifth round, by the rules alone on the fitted splits (RESULTS.md).
WARNING_MARKERS = re.compile(
    r"\b(?:beware|be careful|careful|fake|scams?|scammers?|fraudsters?|never asks?|never charges?|never sends?|"
    r"will never|"
    r"does not lend|do not lend|doesn't lend|are not lenders|is not us|not from us|only licensed)\b"
    r"|ប្រយ័ត្ន|ក្លែងក្លាយ|ក្លែងជា|ក្លែងបន្លំ|ព្រមាន|ជនខិលខូច|មិនដែលសុំ|មិនដែលស្នើ|មិនផ្តល់កម្ចី|គ្មានធនាគារ"
    # "A scam", but not an offer's "no scam" ("គ្មានការបោកប្រាស់").
    r"|(?<!គ្មានការ)(?<!មិន)បោកប្រាស់"
    # The same in Latin-script Khmer: "proyat" (beware), "kleng klay" (fake), "ot del sour" (never asks), "bok bras"
    # (a scam).
    r"|\b(?:proyat|prayat|broyat|(?:brong|prong)\s+(?:brong|prong)|kl(?:e|a|ae)ng\s*kl(?:ay|aoy|oy|uon|uan|oun)|"
    r"(?:ot|min)\s+(?:del|dael|deil)\s+(?:sour|suor|sou|som)|(?:bok|bauk|bouk)\s*(?:bras|pras))\b"
    # A brand's own prize or offer saying the reader pays nothing ("no need to pay anything", "មិនចាំបាច់បង់ប្រាក់",
    # "min trov bong luy"): the advance fee is what a prize scam is for, so with no link of its own to follow, it
    # weighs as a warning does. Sixteenth round, from sealed16's and sealed17's held draw results (RESULTS.md).
    r"|\b(?:no need to pay|(?:do not|don't|does not|doesn't) (?:need|have) to pay|"
    r"no fees? (?:is |are )?(?:needed|required|charged))\b"
    r"|មិនចាំបាច់បង់|មិនត្រូវបង់|គ្មានការបង់ថ្លៃ"
    r"|\b(?:ot|min)\s+(?:trov|trauv|tro|chambach|chambac)\s+(?:bong|bang|bung)\b"
)

# A warning that names the scam's own link: it quotes the scam ("texts saying 'account suspended, verify at
# aba-secure-kh.com' are fake": a quotation opened after a space, a colon, a bracket or the start and closed before
# anything but a letter) or disowns the link (DISOWNED_LINK: "that site is not ours", "a fake text", "we never send
# links", "កុំចុច"). When the message warns (WARNING_MARKERS) and every outside link is quoted, or it disowns them,
# the links are the scam's, not the sender's: the link rules do not weigh them (but for a domain staff blocked) and
# the message counts as having no link of its own; the model still reads them. Banks' warnings naming a look-alike
# site were held or refused in five of the first six splits written from sealed20's brief (RESULTS.md, the
# seventeenth to twenty-third rounds).
QUOTATION = re.compile(r"(?:^|(?<=[\s:(\[]))[\"'“‘«]([^\"“”«»\n]{3,300}?)[\"'”’»](?![^\W\d_])")
DISOWNED_LINK = re.compile(
    r"\b(?:(?:is|are) not ours|not our (?:site|website|page|link)s?|(?:site|website|page|link)s? (?:is|are) fake|"
    r"fake (?:site|website|page|link|text|sms|message)s?|(?:do not|don't) click|"
    r"(?:never|do not|don't|does not|doesn't) (?:send|sends|share|shares) (?:any |you )?(?:[a-z]+ )?links?)\b"
    r"|កុំចុច|មិនមែនជាគេហទំព័ររបស់យើង|មិនមែនពី"
    # The same in Latin-script Khmer: "kom chuch" (don't click), "min del pnhae link" (we never send links).
    r"|\b(?:kom|kum)\s+(?:chuch|chouch|chuoch)\b"
    r"|\b(?:min|ot)\s+(?:del|dael|deil)\s+(?:pnhae|phjer|pnher|phnhae|phnher|pheu|pheur)\s+link"
)

# A prize or offer claimed in person: a brand's own draw result sends the winner to a shop or a counter with an
# identity card ("visit any Smart Shop with your ID card", "មកទទួលនៅបញ្ជរ … ជាមួយអត្តសញ្ញាណប័ណ្ណ"); a scam wants
# a fee, a code or a click from afar, so it gives a contact. With no contact and no link of its own, such a message's
# prize words (the scam category's terms) weigh nothing; the model still reads it.
PRIZE_TERMS = f"term_{TermCategory.SCAM}"
IN_PERSON_CLAIM = re.compile(r"\b(?:id card|identity card|national id|passport|with your id)\b|អត្តសញ្ញាណប័ណ្ណ|លិខិតឆ្លងដែន")
# A lender's own repayment reminder names its product the way an offer does ("your Quick Loan is due 14/12",
# "កម្ចីរបស់អ្នក ដល់ថ្ងៃបង់"): a loan already taken, falling due. With no contact and no link of its own, its loan
# words weigh nothing; the model still reads it. An unsolicited loan wants an answer, so it gives a number, a handle
# or a link. Twenty-fourth round: ACLEDA's "Quick Loan … due … Loan Repayment" reminder (sealed23) was released only
# by the model's veto, which the log-count ratios moved (RESULTS.md).
LOAN_TERMS = f"term_{TermCategory.LOAN_SHARK}"
REPAYMENT_DUE = re.compile(
    # "due" but not "due to"; an offer's "daily repayment" or "easy instalments" is no loan falling due.
    r"\b(?:due|overdue)\b(?! to\b)|ដល់ថ្ងៃបង់|ដល់កាលកំណត់បង់|ហួសកាលកំណត់"
)

# Khmer runs this filter already segmented are kept, by run: clients send from templates, so the same runs (an OTP's
# words around its code) come back message after message, and segmenting is the filter's costliest step. The words
# of other scripts are kept with them (`_ReadPieces`), numbers not. Bounded in number and length (long runs seldom
# repeat); emptied whole when full, cheaper than an LRU's bookkeeping per look-up.
SEGMENTED_RUNS_KEPT = 8192
SEGMENTED_RUN_MAX_LENGTH = 120
# Numbers of up to three digits (days, hours, quantities, small amounts) recur and are at most 1,110 in ASCII: kept
# with the words, they save a Python call each (about three in four of the numbers messages hold). Longer ones are
# mostly codes and would push out what recurs.
KEPT_NUMBER_MAX_LENGTH = 3
# Repetition: a run of one character (not a digit or space), or one word that is both frequent and a large share.
REPEATED_CHARACTER = re.compile(r"([^\s0-9])\1{7,}")
# Any character eight times in a row, spaces and digits too: a run `REPEATED_CHARACTER` finds is one of these, and
# this scan costs about a third of that one (no character class to test at each position), so the exact scan runs
# only on the few messages that have such a run.
ANY_REPEATED_CHARACTER = re.compile(r"(.)\1\1\1\1\1\1\1", re.DOTALL)
REPEATED_WORD_MIN_COUNT = 4
REPEATED_WORD_MIN_SHARE = 0.3

# Words that look-alike domains put next to a brand ("aba-verify", "wingpay", "acledakh").
LOOKALIKE_BAIT = frozenset(
    "bank pay kh online login verify secure support app mobile service card account update help care wallet".split()
)
# Digits and letter pairs that imitate letters in host names; "1" is read both as "l" and as "i".
_HOST_LEET_L = str.maketrans("01345", "oleas")
_HOST_LEET_I = str.maketrans("01345", "oieas")
_HOST_LABEL_SEPARATOR = re.compile(r"[.\-_]")
# A brand this long counts inside any label ("myababankonline"); shorter ones only with a bait word.
LONG_BRAND = 6


class _ReadPieces(dict[str, tuple[str, ...]]):
    """Piece (a `PIECE` match: a Khmer run or a word) → the words the filter reads in it, kept as read.

    A Khmer run's words come from the segmenter, the filter's costliest step; a word's from `read_word`. Looked up
    through `dict.__getitem__`, so a kept piece costs no Python call; `__missing__` reads one not kept. Numbers
    longer than KEPT_NUMBER_MAX_LENGTH (codes, amounts, phone numbers: seldom the same twice) and Khmer runs longer
    than SEGMENTED_RUN_MAX_LENGTH are read each time and not kept, so they do not push out what recurs."""

    def __init__(self, segment_khmer: Callable[[str], list[str]]) -> None:
        super().__init__()
        self._segment_khmer = segment_khmer

    def __missing__(self, piece: str) -> tuple[str, ...]:
        # Numbers first: most pieces not kept are numbers (a Khmer run never is one: Khmer digits are ASCII by
        # now), and this is the only Python step they cost.
        if piece.isdigit():
            words = (piece,)
            if len(piece) > KEPT_NUMBER_MAX_LENGTH:
                return words
        elif is_khmer_piece(piece):
            words = tuple(self._segment_khmer(piece))
            if len(piece) > SEGMENTED_RUN_MAX_LENGTH:
                return words
        else:
            words = (read_word(piece),)
        if len(self) >= SEGMENTED_RUNS_KEPT:
            self.clear()  # one thread may clear what another just added: only a miss later
        self[piece] = words
        return words


@dataclass(frozen=True)
class TermSpec:
    term: str
    language: str  # TermLanguage
    category: str  # TermCategory
    weight: int


@dataclass(frozen=True)
class DomainSpec:
    domain: str
    kind: str  # DomainRuleKind
    weight: int
    brand: str = ""


@dataclass(frozen=True)
class Reason:
    code: str
    weight: int
    matches: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "weight": self.weight, "matches": list(self.matches)}


@dataclass(frozen=True)
class FilterDecision:
    action: FilterAction
    score: int
    reasons: tuple[Reason, ...] = field(default=())

    @property
    def codes(self) -> list[str]:
        return [reason.code for reason in self.reasons]

    def as_dict(self) -> dict[str, Any]:
        return {"action": str(self.action), "score": self.score, "reasons": [r.as_dict() for r in self.reasons]}


# The decision on most messages: allowed, nothing found. Immutable, so one instance serves them all.
_NOTHING_FOUND = FilterDecision(action=FilterAction.ALLOW, score=0)


@dataclass(frozen=True)
class Analysis:
    """What the filter read in a message: its words (as segmented) and links."""

    tokens: tuple[str, ...]
    links: tuple[Link, ...]
    # The whole message as `normalize` gives it (links included): what the model's character part reads.
    normalized: str = ""


class ContentFilter:
    """A compiled dictionary. Immutable once built; one instance serves every thread of a process."""

    def __init__(
        self,
        *,
        terms: Iterable[TermSpec],
        domains: Iterable[DomainSpec],
        khmer_words: Iterable[str] | None = None,
        khmer_segment: Callable[[str], list[str]] | None = None,
        model: SpamModel | None = None,
    ) -> None:
        """`khmer_words` defaults to the shipped word lists. `khmer_segment` replaces the dictionary segmenter
        (the benchmark passes khmer-nltk's); terms are then split by it too. Without `model` the rules work
        alone."""
        self.model = model
        terms = [replace(term, term=" ".join(normalize(term.term).split())) for term in terms]
        terms = [term for term in terms if term.term]
        khmer_weights: dict[str, int] = {}
        for term in terms:
            if term.language == TermLanguage.KHMER:
                for word in term.term.split():
                    khmer_weights[word] = max(khmer_weights.get(word, 0), term.weight)
        if khmer_segment is None:
            words = base_khmer_words() if khmer_words is None else frozenset(khmer_words)
            self.segmenter: KhmerSegmenter | None = KhmerSegmenter(words | khmer_weights.keys(), khmer_weights)
            khmer_segment = self.segmenter.segment
        else:
            self.segmenter = None
        self._segment_khmer = khmer_segment
        # Belongs to this compiled filter: new rules (a new dictionary) start with none.
        self._segmented = _ReadPieces(khmer_segment)

        # First word → [(words of the term, term)], longest first, for the longest match at each position.
        self._terms_by_first_word: dict[str, list[tuple[tuple[str, ...], TermSpec]]] = defaultdict(list)
        for term in terms:
            words = self._words(term.term)
            if not words:
                continue
            self._terms_by_first_word[words[0]].append((words, term))
            if term.language == TermLanguage.ENGLISH and len(words) == 1 and not words[0].endswith("s"):
                self._terms_by_first_word[words[0] + "s"].append(((words[0] + "s",), term))
        for candidates in self._terms_by_first_word.values():
            candidates.sort(key=lambda candidate: -len(candidate[0]))
        # A message holding none of these words has no term to find (one look-up per word, in C).
        self._first_words = self._terms_by_first_word.keys()

        domains = list(domains)
        self._listed_domains = {rule.domain: rule for rule in domains if rule.kind != DomainRuleKind.OFFICIAL}
        self._official_domains = {rule.domain for rule in domains if rule.kind == DomainRuleKind.OFFICIAL}
        self._brands = {rule.brand for rule in domains if rule.kind == DomainRuleKind.OFFICIAL and rule.brand}
        # The official domains' own first labels ("ababank", "acledabank") are imitated as often as the brands;
        # short ones ("nbc") are too common elsewhere to compare with, so only the brand staff gave counts there.
        labels = {domain.split(".")[0] for domain in self._official_domains}
        self._brand_labels = {label for label in labels if len(label) >= MIN_LABEL_AS_BRAND} | self._brands
        # A host label that imitates a brand: the brand itself, or the brand with a bait word before or after it
        # ("aba-verify" → "abaverify"), looked up at once; or, for a long brand, holding it anywhere.
        self._brand_parts = self._brand_labels | {
            joined for brand in self._brand_labels for bait in LOOKALIKE_BAIT for joined in (brand + bait, bait + brand)
        }
        self._long_brands = tuple(sorted(brand for brand in self._brand_labels if len(brand) >= LONG_BRAND))

    # --- reading a message ---------------------------------------------------------------------------------------

    def _words(self, normalized: str) -> tuple[str, ...]:
        # Each piece's words from what is kept (`_ReadPieces`): the look-ups and the joining run in C, one Python
        # call per piece not seen before.
        return tuple(chain.from_iterable(map(self._segmented.__getitem__, PIECE.findall(normalized))))

    def analyse(self, text: str) -> Analysis:
        normalized = normalize(text)
        links, rest = extract_links(normalized)
        return Analysis(tokens=self._words(rest), links=tuple(links), normalized=normalized)

    def outside_links(self, links: Iterable[Link]) -> tuple[Link, ...]:
        """The links not to an official domain: the only ones the link rules and the model weigh."""
        return tuple(link for link in links if not self._is_official(link.host))

    def model_features(self, analysis: Analysis) -> list[str]:
        """What the statistical model reads of a message: its words, and its links except official ones (a bank's
        own link is no sign of spam, however often spam carries links)."""
        return features(analysis.tokens, self.outside_links(analysis.links))

    # --- deciding ------------------------------------------------------------------------------------------------

    def check(self, text: str, *, hold_score: int, reject_score: int) -> FilterDecision:
        # `analyse`'s reading without its object, and each rule only when what it needs is there: most messages
        # have no link and no term, and then no rule but repetition has anything to weigh.
        normalized = normalize(text)
        links, rest = extract_links(normalized)
        tokens = self._words(rest)
        if self._first_words.isdisjoint(tokens):
            reasons: list[Reason] = []
            matched_categories: set[str] = set()
        else:
            reasons, matched_categories = self._term_reasons(tokens)
        outside_links: tuple[Link, ...] = ()
        own_links: tuple[Link, ...] = ()  # the outside links the rules weigh: not the scam's a warning names
        lure = not LURE_CATEGORIES.isdisjoint(matched_categories)
        if links:
            outside_links = self.outside_links(links)
            link_reasons = self._link_reasons(links) + self._phishing_reasons(outside_links, matched_categories)
            # Read for a warning naming its links only when they would weigh (most messages' links do not).
            if (link_reasons or lure) and _names_scam_links(normalized, outside_links):
                # A domain staff blocked counts wherever it is named.
                reasons += [reason for reason in link_reasons if reason.code == "blocked_domain"]
            else:
                reasons += link_reasons
                own_links = outside_links
        if lure:
            reasons += self._lure_reasons(text, own_links)
        reasons += self._repetition_reasons(text, tokens)
        # What a code is called, tested inline (a generator over the names costs more than the tests themselves).
        if (
            "code" in normalized
            or "otp" in normalized
            or "pin" in normalized
            or "កូដ" in normalized
            or ("password" in normalized or "សម្ងាត់" in normalized)
        ):
            reasons += _code_request_reasons(normalized)
        if lure:
            if not own_links:
                reasons = _discount_warning(reasons, normalized)
            if links and all(self._is_official(link.host) or _under_registered_kh(link.host) for link in links):
                reasons = _discount_own_page(reasons)
        if reasons:
            reasons = [reason for reason in reasons if reason.weight > 0]
            score = sum(reason.weight for reason in reasons)
        else:
            score = 0
        model = self.model
        if model is not None and score < hold_score:
            model_score = model.score_reading(tokens, outside_links, normalized)
            if model_score >= model.threshold:
                strongest = model.strongest(features(tokens, outside_links), normalized)
                reasons.append(Reason("classifier", hold_score - score, strongest))
                score = hold_score
        elif model is not None and score < reject_score and by_words_alone(reasons):
            # Held by its words alone (terms and a contact) while the model finds it plainly legitimate: released.
            if model.score_reading(tokens, outside_links, normalized, whole=True) < model.veto:
                reasons.append(Reason("classifier_clear", hold_score - 1 - score, ()))
                score = hold_score - 1
        if score >= reject_score:
            action = FilterAction.REJECT
        elif score >= hold_score:
            action = FilterAction.HOLD
        elif not reasons:
            return _NOTHING_FOUND
        else:
            action = FilterAction.ALLOW
        return FilterDecision(action=action, score=score, reasons=tuple(reasons))

    def _term_reasons(self, tokens: tuple[str, ...]) -> tuple[list[Reason], set[str]]:
        """The reasons of weight for the terms found, and the codes of every category found: credential words weigh
        0 and make no reason (most messages' only term is "code"), but the phishing rule looks for them."""
        found: dict[str, dict[str, int]] = defaultdict(dict)  # category → term → weight (each term once)
        index = self._terms_by_first_word
        # Only the positions of words a term starts with (found in C), in order; a term's words are not matched
        # again, so a position inside the last term found is passed over.
        free = 0
        for position in compress(range(len(tokens)), map(index.__contains__, tokens)):
            if position < free:
                continue
            for words, term in index[tokens[position]]:
                if tokens[position : position + len(words)] == words:
                    found[term.category][term.term] = term.weight
                    free = position + len(words)
                    break
        reasons = [
            Reason(code=f"term_{category}", weight=weight, matches=tuple(sorted(terms)))
            for category, terms in sorted(found.items())
            if (weight := sum(terms.values())) > 0
        ]
        return reasons, {f"term_{category}" for category in found}

    def _link_reasons(self, links: tuple[Link, ...]) -> list[Reason]:
        listed: dict[str, DomainSpec] = {}
        lookalikes: list[str] = []
        ip_hosts: list[str] = []
        apps: list[str] = []
        for link in links:
            host = link.host
            if not host:
                continue
            if link.is_ip_address:
                ip_hosts.append(host)
                continue
            if self._is_official(host):
                continue
            if APP_FILE.search(link.text):
                apps.append(link.text)
            rule = self._listed_rule(host)
            if rule is not None:
                listed[rule.domain] = rule
            if self._imitates_brand(host):
                lookalikes.append(host)
        reasons: list[Reason] = []
        for code, kind in (("blocked_domain", DomainRuleKind.BLOCKED), ("link_shortener", DomainRuleKind.SHORTENER)):
            rules = [rule for rule in listed.values() if rule.kind == kind]
            if rules:
                weight = sum(rule.weight for rule in rules)
                reasons.append(Reason(code=code, weight=weight, matches=tuple(sorted(r.domain for r in rules))))
        if lookalikes:
            reasons.append(Reason("lookalike_domain", LOOKALIKE_WEIGHT, tuple(sorted(set(lookalikes)))))
        if ip_hosts:
            reasons.append(Reason("ip_address_url", IP_ADDRESS_URL_WEIGHT, tuple(sorted(set(ip_hosts)))))
        if apps:
            reasons.append(Reason("app_download", APP_DOWNLOAD_WEIGHT, tuple(sorted(set(apps)))))
        return reasons

    def _phishing_reasons(self, links: tuple[Link, ...], categories: set[str]) -> list[Reason]:
        if not links or f"term_{TermCategory.CREDENTIAL}" not in categories:
            return []
        if f"term_{TermCategory.URGENCY}" in categories:
            return [Reason("phishing_pattern", PHISHING_LINK_CREDENTIAL_URGENCY_WEIGHT, ("link+credential+urgency",))]
        return [Reason("phishing_pattern", PHISHING_LINK_CREDENTIAL_WEIGHT, ("link+credential",))]

    def _lure_reasons(self, text: str, links: tuple[Link, ...]) -> list[Reason]:
        contacts = {link.host for link in links if not _under_registered_kh(link.host)}
        if not contacts:
            contacts = {match.group() for match in CONTACT.finditer(text)}
        return [Reason("lure_contact", LURE_CONTACT_WEIGHT, tuple(sorted(contacts)))] if contacts else []

    def _repetition_reasons(self, text: str, tokens: tuple[str, ...]) -> list[Reason]:
        matches: list[str] = []
        # Most messages have no run of one character: the cheap scan spares them the exact one.
        if ANY_REPEATED_CHARACTER.search(text) and (run := REPEATED_CHARACTER.search(text)):
            matches.append(run.group()[:16])
        # No word can come back more often than the repeats there are (tokens less distinct tokens, plus one), and
        # fewer among the words counted here than among all tokens: most messages have few, and then the words are
        # neither listed nor counted (a Counter, the costlier part).
        if len(tokens) - len(set(tokens)) + 1 < REPEATED_WORD_MIN_COUNT:
            words = []
        else:
            words = [token for token in tokens if len(token) > 1 and not token.isdigit()]
        needed = max(REPEATED_WORD_MIN_COUNT, REPEATED_WORD_MIN_SHARE * len(words))
        if len(words) >= REPEATED_WORD_MIN_COUNT and len(words) - len(set(words)) + 1 >= needed:
            word, count = Counter(words).most_common(1)[0]
            if count >= REPEATED_WORD_MIN_COUNT and count >= REPEATED_WORD_MIN_SHARE * len(words):
                matches.append(word)
        return [Reason("repetition", REPETITION_WEIGHT, tuple(matches))] if matches else []

    # --- domains -------------------------------------------------------------------------------------------------

    def _is_official(self, host: str) -> bool:
        # The host or a parent domain of it is official: one set look-up per dot.
        official = self._official_domains
        if host in official:
            return True
        dot = host.find(".")
        while dot != -1:
            if host[dot + 1 :] in official:
                return True
            dot = host.find(".", dot + 1)
        return False

    def _listed_rule(self, host: str) -> DomainSpec | None:
        # The host and each parent domain: "x.bit.ly" is bit.ly's.
        labels = host.split(".")
        for index in range(len(labels) - 1):
            rule = self._listed_domains.get(".".join(labels[index:]))
            if rule is not None:
                return rule
        return None

    def _imitates_brand(self, host: str) -> bool:
        if not self._brand_labels:
            return False
        for skeleton in {host.translate(_HOST_LEET_L), host.translate(_HOST_LEET_I)}:
            skeleton = skeleton.replace("rn", "m").replace("vv", "w")
            parts = _HOST_LABEL_SEPARATOR.split(skeleton)
            for part in parts[:-1]:  # the last label is the top-level domain
                if part in self._brand_parts:
                    return True
                for brand in self._long_brands:
                    if brand in part:  # "ababank" inside "myababankonline"
                        return True
        return False


def _code_request_reasons(normalized: str) -> list[Reason]:
    # The message's own code first: most messages that name a code carry one (a brand's code message), and this
    # scan costs a fraction of the request's pattern.
    if _OWN_CODE.search(normalized):
        return []
    request = CODE_REQUEST.search(normalized)
    if request is None or CODE_REQUEST_NEGATION.search(normalized):
        return []
    asked = request.group()
    if "pin" in asked and not _OTHER_CODE_NOUN.search(asked) and MAP_WORDS.search(normalized):
        return []  # a courier's "share a pin or a landmark": a map's pin
    return [Reason("code_request", CODE_REQUEST_WEIGHT, (asked[:40],))]


def by_words_alone(reasons: Iterable[Reason]) -> bool:
    """Every reason is a term category's or a contact beside an offer: nothing about links, codes or repetition."""
    return all(reason.code.startswith("term_") or reason.code == "lure_contact" for reason in reasons)


def _names_scam_links(normalized: str, links: tuple[Link, ...]) -> bool:
    """The message warns about scams and disowns `links` or quotes every one of them (see QUOTATION)."""
    if not links or not WARNING_MARKERS.search(normalized):
        return False
    if DISOWNED_LINK.search(normalized):
        return True
    quoted = [match.group(1) for match in QUOTATION.finditer(normalized)]
    return all(any(link.text in quotation for quotation in quoted) for link in links)


def _under_registered_kh(host: str) -> bool:
    return any(host.endswith("." + domain) for domain in REGISTERED_KH_DOMAINS)


def _discount_own_page(reasons: list[Reason]) -> list[Reason]:
    """The reasons with the prize words weighed 0 when prizes are the only offer (every link being the brand's own
    page: the caller checks); unchanged otherwise. A contact stays a contact.

    An official domain, or a name under Cambodia's registered second-level domains (which needs a business licence),
    is the brand's own page: its draw result points there for the winners' list ("Winner list: cocacola.com.kh");
    a scam wants the click on a page of its own. The model still reads the message. Sixteenth round, from the draw
    results sealed16 to sealed18 held (RESULTS.md)."""
    offers = {reason.code for reason in reasons if reason.code in LURE_CATEGORIES}
    if offers != {PRIZE_TERMS}:
        return reasons
    return [replace(reason, weight=0) if reason.code == PRIZE_TERMS else reason for reason in reasons]


def _discount_warning(reasons: list[Reason], normalized: str) -> list[Reason]:
    """The reasons with the offer terms and the contact weighed 0 when the message warns about scams (see
    WARNING_MARKERS); when it gives no contact, with the prize words weighed 0 when it sends its reader in person
    with an identity document (IN_PERSON_CLAIM) and the loan words when a loan falls due (REPAYMENT_DUE); unchanged
    otherwise."""
    if not WARNING_MARKERS.search(normalized):
        if any(reason.code == "lure_contact" for reason in reasons):
            return reasons
        # A prize claimed in person: only the prize words (a loan "with just your ID card" is the offer itself); a
        # loan falling due: only the loan words.
        discounted = {
            code
            for code, wording in ((PRIZE_TERMS, IN_PERSON_CLAIM), (LOAN_TERMS, REPAYMENT_DUE))
            if wording.search(normalized)
        }
        if not discounted:
            return reasons
        return [replace(reason, weight=0) if reason.code in discounted else reason for reason in reasons]
    return [
        replace(reason, weight=0) if reason.code in LURE_CATEGORIES or reason.code == "lure_contact" else reason
        for reason in reasons
    ]
