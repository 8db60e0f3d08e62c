"""The statistical part of the content filter: a logistic-regression score over the words the rules already read.

The term rules catch the phrasings staff wrote down; the model scores wording nobody listed, from what spam and
legitimate messages of the corpus have in common. It reads the same tokens the rules do (Khmer segmented by the
dictionary segmenter, so no second pass over the text): each word and each pair of neighbouring words, with every
digit read as 0 (so amounts, phone numbers and dates weigh as their shape, not their value), plus whether the
message has a link and the link's top-level domain. The score is the bias plus the weights of the features present
(each counted once): a log-odds. Scoring is a few dozen dictionary look-ups, so it runs in plain Python without
scikit-learn, which only the build needs (`apps/messaging/corpus/training.py`, `manage.py build_spam_model`).

The model file (`data/spam_model.json`) holds the weights, the bias and the threshold, chosen on the validation
split: a message whose score reaches it is held (`FilterDecision` reason ``classifier``).
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise, repeat
from pathlib import Path

from apps.messaging.filtering.text import Link

MODEL_FILE = Path(__file__).resolve().parent / "data" / "spam_model.json"
# Every digit read as 0 (tokens are normalised: Khmer digits are ASCII already). `str.translate` costs a fraction of
# a regular-expression substitution, and the model's features are on every message's path.
_ZERO = str.maketrans("123456789", "000000000")
# How many of the weightiest features a `classifier` reason names for the staff reviewing the hold.
SHOWN_FEATURES = 3


def features(tokens: Iterable[str], links: Iterable[Link]) -> list[str]:
    """The model's features of a message, from the filter's reading of it (`ContentFilter.analyse`)."""
    words = [token.translate(_ZERO) for token in tokens]
    found = words + [f"{first} {second}" for first, second in pairwise(words)]
    for link in links:
        found.append("<link>")
        found.append("<tld:" + link.host.rsplit(".", 1)[-1] + ">")
    return found


@dataclass(frozen=True)
class SpamModel:
    weights: dict[str, float]
    bias: float
    threshold: float

    def score(self, found: Iterable[str]) -> float:
        """The log-odds of spam: the bias plus the weight of each feature present, counted once."""
        return self.bias + sum(map(self.weights.get, set(found), repeat(0.0)))

    def strongest(self, found: Iterable[str]) -> tuple[str, ...]:
        """The features that pushed the score up most, for the staff reviewing a hold (not on the allow path)."""
        present = {feature: self.weights.get(feature, 0.0) for feature in set(found)}
        top = sorted((f for f, w in present.items() if w > 0), key=lambda f: (-present[f], f))
        return tuple(top[:SHOWN_FEATURES])

    def as_json(self) -> str:
        """The file form: sorted keys and rounded weights, so the same corpus always gives the same bytes."""
        document = {
            "bias": round(self.bias, 4),
            "threshold": round(self.threshold, 4),
            "weights": {feature: round(weight, 4) for feature, weight in sorted(self.weights.items())},
        }
        return json.dumps(document, ensure_ascii=False, indent=0, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "SpamModel":
        document = json.loads(text)
        return cls(weights=document["weights"], bias=document["bias"], threshold=document["threshold"])


@lru_cache(maxsize=1)
def shipped_model() -> SpamModel | None:
    """The model in the repository, or None when the file is missing (the rules then work alone)."""
    if not MODEL_FILE.exists():
        return None
    return SpamModel.from_json(MODEL_FILE.read_text(encoding="utf-8"))
