"""Building the content filter's statistical model from the corpus, and measuring it honestly.

Protocol (what was chosen on what; the figures are in `benchmarks/RESULTS.md`):

* The splits named in `UNSEEN_SPLITS` (none between rounds; a round's new sealed split while it is measured) are
  never used to fit or choose anything. Such a split is written one by one and committed before any filter change
  is scored on it; the benchmark scores it once to give the figures for new wording, and it is fitted on after its
  round (the ``sealed`` to ``sealed15`` splits were, each in turn).
* The model is fitted on every other split (`FITTED_SPLITS`): the templated splits, the ``blind`` split, the
  ``written`` to ``written4`` and ``written6`` to ``written12`` training splits (messages written one by one), and
  ``sealed`` to ``sealed15``.
* The features (`apps.messaging.filtering.model`), the regularisation (`REGULARISATION_C`) and the threshold were
  chosen by grouped cross-validation over those splits only: the three fills of a template always fall in one fold,
  a written message is its own group. `choose_threshold` takes the folds' out-of-fold scores, with the rules in
  front as on the send path, and returns the smallest `THRESHOLD_STEP` at which at most `MAX_LEGIT_HELD` of the
  legitimate messages are held (rules and model together; when the rules alone hold more, the model's own holds).

Fitting needs scikit-learn (a development dependency); scoring does not (`apps.messaging.filtering.model`). The
fit is deterministic: the same corpus and scikit-learn version give the same file, which a test checks.
"""

import math
import re
from collections.abc import Callable, Sequence

from apps.messaging.choices import FilterAction
from apps.messaging.corpus import LEGIT, SPAM, SPLITS, TARGET_LEGIT_HELD, UNSEEN_SPLITS, Sample, load
from apps.messaging.filtering.engine import ContentFilter
from apps.messaging.filtering.model import SpamModel, char_grams, char_text

FITTED_SPLITS = tuple(split for split in SPLITS if split not in UNSEEN_SPLITS)
# Chosen by cross-validation (see the module docstring; third round: 0.5, 1, 4, 8 and 16 did no better).
REGULARISATION_C = 2.0
# A feature seen in fewer training messages than this is dropped: it would only memorise one message.
MIN_MESSAGES = 2
# Weights smaller than this are dropped from the file: they move no score by a visible amount, and each kept
# character n-gram is one more look-up per token on the send path. Third round, by cross-validation: 0.005, 0.01,
# 0.02 and 0.04 stop the same share of spam (95.5-95.6 %); 0.04 keeps 8,823 weights of 17,526.
SMALLEST_WEIGHT = 0.04
# The character model (`apps.messaging.filtering.model`), fourth round, by cross-validation over the fitted splits
# (RESULTS.md): character 2-4-grams at C = 1 (C 0.3 and 3 did no better; 1-3, 2-3 and 3-4-grams worse, 2-5 the
# same at a third more grams), an even mix with the word model, weights below 0.02 dropped (39,169 → about
# 17,000, the same recall), and a word-score gate of -2 log-odds below which the character model is not read
# (93 % of the legitimate messages the rules let through stay below it; in cross-validation no decision changed).
CHAR_REGULARISATION_C = 1.0
CHAR_SMALLEST_WEIGHT = 0.02
MIX = 0.5
GATE = -2.0
THRESHOLD_STEP = 0.25
MAX_LEGIT_HELD = TARGET_LEGIT_HELD
FOLDS = 5
HOLD_SCORE, REJECT_SCORE = 50, 100
# The splits written one message at a time (no template; every split from "blind" on): each message is its own
# group in the folds.
WRITTEN_ONE_BY_ONE = SPLITS[SPLITS.index("blind") :]


def _message_features(content_filter: ContentFilter, sample: Sample) -> list[str]:
    return content_filter.model_features(content_filter.analyse(sample.text))


def _fit_logistic(
    samples: Sequence[Sample], read: Callable[[Sample], list[str]], regularisation: float, smallest: float
) -> tuple[dict[str, float], float]:
    """Weights and bias of a logistic regression over the features `read` gives each sample (present or not),
    dropping features seen in fewer than MIN_MESSAGES samples and weights smaller than `smallest`."""
    from sklearn.feature_extraction.text import CountVectorizer  # development dependency: only building needs it
    from sklearn.linear_model import LogisticRegression

    vectorizer = CountVectorizer(analyzer=read, binary=True, min_df=MIN_MESSAGES)
    matrix = vectorizer.fit_transform(samples)
    labels = [sample.label == SPAM for sample in samples]
    regression = LogisticRegression(C=regularisation, max_iter=5000)
    regression.fit(matrix, labels)
    weights = {
        feature: float(weight)
        for feature, weight in zip(vectorizer.get_feature_names_out(), regression.coef_[0], strict=True)
        if abs(float(weight)) >= smallest
    }
    return weights, float(regression.intercept_[0])


def fit(content_filter: ContentFilter, samples: Sequence[Sample]) -> tuple[dict[str, float], float]:
    """Weights and bias of the word model."""
    return _fit_logistic(
        samples, lambda sample: _message_features(content_filter, sample), REGULARISATION_C, SMALLEST_WEIGHT
    )


def _char_features(content_filter: ContentFilter, sample: Sample) -> list[str]:
    return sorted(char_grams(char_text(content_filter.analyse(sample.text).normalized)))


def fit_chars(content_filter: ContentFilter, samples: Sequence[Sample]) -> tuple[dict[str, float], float]:
    """Weights and bias of the character model: a logistic regression over the character grams present."""
    return _fit_logistic(
        samples, lambda sample: _char_features(content_filter, sample), CHAR_REGULARISATION_C, CHAR_SMALLEST_WEIGHT
    )


# Latin-script Khmer is spelled differently by every writer ("kchey"/"kchei"/"khchey", "phnhae"/"pnhae",
# "luy"/"lui"). Each Latin-script Khmer training message is fitted three times more, respelled by the three sets of
# substitutions below, so the word and character models weigh the spellings the corpus's writers did not use. Only
# fitting sees them: the cross-validation scores originals only, and the respellings of a message are fitted in its
# own fold (`fit_model` makes them from its training samples).
RESPELLINGS = tuple(
    tuple((re.compile(pattern), replacement) for pattern, replacement in substitutions)
    for substitutions in (
        (("kh", "k"), ("ch", "j"), ("ey", "ei"), ("ou", "o"), ("ae", "ai"), ("oy", "ui"), ("ph", "p"), ("th", "t")),
        (("k(?!h)", "kh"), ("j", "ch"), ("ei", "ey"), ("ui", "oy"), ("ea", "ia"), ("or", "o"), ("ng", "g")),
        (("([bcdgkpt])h", r"\1"), ("ou", "u"), ("ea", "e"), ("er", "eu"), ("ai", "ay"), ("nh", "ny"), ("ao", "au")),
    )
)
_LATIN_SHARE = 0.8


_LETTERS = re.compile(r"[A-Za-z]+")


def _respell(piece: str, substitutions: tuple[tuple[re.Pattern[str], str], ...]) -> str:
    # Links and handles are the same whoever writes the message (the filter reads words in lower case).
    if "." in piece.rstrip(".") or "@" in piece or "/" in piece:
        return piece

    def respell(match: re.Match[str]) -> str:
        word = match.group().lower()
        for pattern, replacement in substitutions:
            word = pattern.sub(replacement, word)
        return word

    return _LETTERS.sub(respell, piece)


def respellings(sample: Sample) -> list[Sample]:
    """The respelled copies of a Latin-script Khmer message (language "mixed", mostly Latin letters)."""
    if sample.language != "mixed":
        return []
    letters = [char for char in sample.text if char.isalpha()]
    if not letters or sum(char.isascii() for char in letters) < _LATIN_SHARE * len(letters):
        return []
    copies = []
    for number, substitutions in enumerate(RESPELLINGS, 1):
        text = " ".join(_respell(word, substitutions) for word in sample.text.split(" "))
        if text != sample.text:
            copies.append(Sample(f"{sample.id}~{number}", sample.split, sample.label, sample.category, "mixed", text))
    return copies


def fit_model(content_filter: ContentFilter, samples: Sequence[Sample], threshold: float) -> SpamModel:
    """Both parts fitted on the samples and their respellings, mixed and gated as chosen (see the constants)."""
    samples = [*samples, *(copy for sample in samples for copy in respellings(sample))]
    weights, bias = fit(content_filter, samples)
    char_weights, char_bias = fit_chars(content_filter, samples)
    return SpamModel(
        weights=weights,
        bias=bias,
        threshold=threshold,
        char_weights=char_weights,
        char_bias=char_bias,
        mix=MIX,
        gate=GATE,
    )


def group_of(sample: Sample) -> str:
    """The messages that must stay in one fold: a template's fills ("spam-prize-km-train-01-2" →
    "spam-prize-km-train-01"); a message written one by one is its own group."""
    if sample.split in WRITTEN_ONE_BY_ONE:
        return sample.id
    return sample.id.rsplit("-", 1)[0]


def stopped_by_rules(content_filter: ContentFilter, sample: Sample) -> bool:
    model, content_filter.model = content_filter.model, None
    try:
        decision = content_filter.check(sample.text, hold_score=HOLD_SCORE, reject_score=REJECT_SCORE)
    finally:
        content_filter.model = model
    return decision.action != FilterAction.ALLOW


def out_of_fold_scores(content_filter: ContentFilter, samples: Sequence[Sample]) -> dict[str, float]:
    """Each sample's score by the model fitted on the other folds (groups dealt round-robin in sorted order)."""
    groups = sorted({group_of(sample) for sample in samples})
    fold_of = {group: index % FOLDS for index, group in enumerate(groups)}
    scores: dict[str, float] = {}
    for fold in range(FOLDS):
        training = [sample for sample in samples if fold_of[group_of(sample)] != fold]
        model = fit_model(content_filter, training, threshold=math.inf)
        for sample in samples:
            if fold_of[group_of(sample)] == fold:
                analysis = content_filter.analyse(sample.text)
                scores[sample.id] = model.score(content_filter.model_features(analysis), analysis.normalized)
    return scores


def choose_threshold(content_filter: ContentFilter, samples: Sequence[Sample], scores: dict[str, float]) -> float:
    """The smallest step at which at most MAX_LEGIT_HELD of the legitimate samples are held, counting those the
    rules hold and those whose out-of-fold score reaches the threshold."""
    legit = [sample for sample in samples if sample.label == LEGIT]
    rules_held = [sample for sample in legit if stopped_by_rules(content_filter, sample)]
    budget = math.floor(MAX_LEGIT_HELD * len(legit))
    # When the rules alone already hold more than the budget (brands' own lucky-draw results: "lucky draw" +
    # "winner"), the model cannot undo their holds, and holding none of its own would only give up spam: it then
    # gets the budget for itself.
    allowed = budget - len(rules_held) if len(rules_held) <= budget else budget
    held_ids = {sample.id for sample in rules_held}
    highest = sorted((scores[sample.id] for sample in legit if sample.id not in held_ids), reverse=True)
    # Above the (allowed + 1)-th highest legitimate score: at most `allowed` of them reach it.
    bound = highest[allowed] if allowed < len(highest) else -math.inf
    return (math.floor(bound / THRESHOLD_STEP) + 1) * THRESHOLD_STEP


def fitted_samples(samples: Sequence[Sample] | None = None) -> list[Sample]:
    samples = load() if samples is None else samples
    return [sample for sample in samples if sample.split in FITTED_SPLITS]


def build_model(content_filter: ContentFilter, samples: Sequence[Sample] | None = None) -> SpamModel:
    """The shipped model: fitted on every split but the unseen ones, threshold from cross-validation on them."""
    training = fitted_samples(samples)
    threshold = choose_threshold(content_filter, training, out_of_fold_scores(content_filter, training))
    return fit_model(content_filter, training, threshold)


def cross_validate(content_filter: ContentFilter, samples: Sequence[Sample]) -> list[tuple[Sample, SpamModel]]:
    """Each sample with the model of the fold that did not see it, at the threshold chosen on all folds' scores
    (as the shipped model's is)."""
    scores = out_of_fold_scores(content_filter, samples)
    threshold = choose_threshold(content_filter, samples, scores)
    # A model whose score of its sample is the out-of-fold score: the bias alone, the sample's features weighed 0.
    return [(sample, SpamModel(weights={}, bias=scores[sample.id], threshold=threshold)) for sample in samples]
