"""Building the content filter's statistical model from the corpus, and measuring it honestly.

Protocol (what was chosen on what; the figures are in `benchmarks/RESULTS.md`):

* The model is fitted on the ``train``, ``test`` and ``fresh`` splits only.
* The features and the regularisation (`C`) were chosen by template-grouped cross-validation on the splits up to
  ``unseen`` and by the ``unseen`` score of a model fitted on the three above; the threshold is chosen on
  ``unseen`` (the validation split) by `choose_threshold`, with the rules in front as on the send path.
* ``holdout`` and ``blind`` are never used to fit or choose anything: they give the figures for new wording.
  ``blind`` was written by hand after the model's design and before any filter was scored on it.
* `cross_validate` repeats the whole protocol (fit, choose the threshold on an inner validation part, score) in k
  folds over the corpus without the ``blind`` split, grouping the three messages of each template in one fold so
  a template's wording is never both fitted and scored.

Fitting needs scikit-learn (a development dependency); scoring does not (`apps.messaging.filtering.model`). The
fit is deterministic: the same corpus and scikit-learn version give the same file, which a test checks.
"""

import math
from collections.abc import Sequence

from apps.messaging.corpus import LEGIT, SPAM, Sample, load
from apps.messaging.filtering.engine import ContentFilter
from apps.messaging.filtering.model import SpamModel

TRAINING_SPLITS = ("train", "test", "fresh")
VALIDATION_SPLIT = "unseen"
SEALED_SPLITS = ("holdout", "blind")
# Chosen by cross-validation (see the module docstring): stronger regularisation generalised no better.
REGULARISATION_C = 1.0
# A feature seen in fewer training messages than this is dropped: it would only memorise one message.
MIN_MESSAGES = 2
# The threshold is the smallest multiple of this step above every legitimate validation message's score.
THRESHOLD_STEP = 0.25
FOLDS = 5


def _message_features(content_filter: ContentFilter, sample: Sample) -> list[str]:
    return content_filter.model_features(content_filter.analyse(sample.text))


def fit(content_filter: ContentFilter, samples: Sequence[Sample]) -> tuple[dict[str, float], float]:
    """Weights and bias of a logistic regression over the samples' features (present or not)."""
    from sklearn.feature_extraction.text import CountVectorizer  # development dependency: only building needs it
    from sklearn.linear_model import LogisticRegression

    vectorizer = CountVectorizer(
        analyzer=lambda sample: _message_features(content_filter, sample), binary=True, min_df=MIN_MESSAGES
    )
    matrix = vectorizer.fit_transform(samples)
    labels = [sample.label == SPAM for sample in samples]
    regression = LogisticRegression(C=REGULARISATION_C, max_iter=5000)
    regression.fit(matrix, labels)
    weights = {
        feature: float(weight)
        for feature, weight in zip(vectorizer.get_feature_names_out(), regression.coef_[0], strict=True)
        if round(float(weight), 4) != 0
    }
    return weights, float(regression.intercept_[0])


def choose_threshold(
    content_filter: ContentFilter, weights: dict[str, float], bias: float, validation: Sequence[Sample]
) -> float:
    """The smallest step above the score of every legitimate validation message: on the validation split the
    model holds no legitimate message."""
    model = SpamModel(weights=weights, bias=bias, threshold=math.inf)
    scores = [model.score(_message_features(content_filter, sample)) for sample in validation if sample.label == LEGIT]
    highest = max(scores, default=0.0)
    return (math.floor(highest / THRESHOLD_STEP) + 1) * THRESHOLD_STEP


def build_model(content_filter: ContentFilter, samples: Sequence[Sample] | None = None) -> SpamModel:
    """The shipped model: fitted on the training splits, threshold from the validation split."""
    samples = load() if samples is None else samples
    training = [sample for sample in samples if sample.split in TRAINING_SPLITS]
    validation = [sample for sample in samples if sample.split == VALIDATION_SPLIT]
    weights, bias = fit(content_filter, training)
    threshold = choose_threshold(content_filter, weights, bias, validation)
    return SpamModel(weights=weights, bias=bias, threshold=threshold)


def template_of(sample: Sample) -> str:
    """The template a message was filled from ("spam-prize-km-train-01-2" → "spam-prize-km-train-01")."""
    return sample.id.rsplit("-", 1)[0]


def cross_validate(content_filter: ContentFilter, samples: Sequence[Sample]) -> list[tuple[Sample, SpamModel]]:
    """Each sample with the model that never saw its template: fitted on the other folds' training part, the
    threshold chosen on their validation part (every fourth template of them)."""
    templates = sorted({template_of(sample) for sample in samples})
    fold_of = {template: index % FOLDS for index, template in enumerate(templates)}
    scored: list[tuple[Sample, SpamModel]] = []
    for fold in range(FOLDS):
        rest = [sample for sample in samples if fold_of[template_of(sample)] != fold]
        rest_templates = sorted({template_of(sample) for sample in rest})
        inner_validation = set(rest_templates[3::4])
        training = [sample for sample in rest if template_of(sample) not in inner_validation]
        validation = [sample for sample in rest if template_of(sample) in inner_validation]
        weights, bias = fit(content_filter, training)
        model = SpamModel(weights, bias, choose_threshold(content_filter, weights, bias, validation))
        scored.extend((sample, model) for sample in samples if fold_of[template_of(sample)] == fold)
    return scored
