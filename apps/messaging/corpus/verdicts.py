"""The content filter's verdict on every corpus message, recorded, so a change made for speed can be shown to decide
exactly as before (`apps/messaging/tests/test_filter_verdicts.py`).

Per message (by id), three things, each compared whole:

* ``reading``: a digest of what the filter read (its words, links and normalised text) and of the rules' decision
  alone (action, score, every reason with its weight and matches). Neither depends on the statistical model.
* ``decision``: a digest of the decision with the shipped model (what the send path returns).
* ``model``: the model's score of the message (rounded to 1e-10), whether or not the rules left it to
  the model.

The file also names the model file's SHA-256 digest: a refitted model changes the last two, and the test then
compares the decision with the model's readable scoring (`SpamModel.score` over `features`) instead. Record again
only when the filter is meant to decide differently (new rules, a new corpus split, a refitted model):

    .venv/bin/python -m apps.messaging.corpus.verdicts
"""

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from apps.messaging.corpus import Sample

VERDICTS_FILE = Path(__file__).resolve().parent / "verdicts.json"
HOLD_SCORE, REJECT_SCORE = 50, 100
MODEL_DECIMALS = 10


def _digest(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def reading_digest(rules_filter: Any, text: str) -> str:
    """What the filter read of `text` and what its rules alone decide (`rules_filter` has no model)."""
    analysis = rules_filter.analyse(text)
    read = [list(analysis.tokens), [[link.text, link.host] for link in analysis.links], analysis.normalized]
    decision = rules_filter.check(text, hold_score=HOLD_SCORE, reject_score=REJECT_SCORE)
    return _digest([read, decision.as_dict()])


def decision_digest(content_filter: Any, text: str) -> str:
    return _digest(content_filter.check(text, hold_score=HOLD_SCORE, reject_score=REJECT_SCORE).as_dict())


def model_score(content_filter: Any, text: str) -> float:
    """The model's score by its readable path: every feature listed, then weighed."""
    analysis = content_filter.analyse(text)
    return content_filter.model.score(content_filter.model_features(analysis), analysis.normalized)


def model_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record(samples: list[Sample]) -> dict[str, Any]:
    from apps.messaging.filtering.model import MODEL_FILE, shipped_model
    from apps.messaging.filtering.starter import starter_filter

    rules_filter, content_filter = starter_filter(), starter_filter(shipped_model())
    return {
        "model_sha256": model_digest(MODEL_FILE),
        "messages": {
            sample.id: [
                reading_digest(rules_filter, sample.text),
                decision_digest(content_filter, sample.text),
                round(model_score(content_filter, sample.text), MODEL_DECIMALS),
            ]
            for sample in samples
        },
    }


def write(path: Path = VERDICTS_FILE) -> int:
    from apps.messaging.corpus import load

    recorded = record(list(load()))
    # One message a line: a change shows as the lines of the messages it touched.
    lines = [f"{json.dumps(key)}: {json.dumps(value)}" for key, value in recorded["messages"].items()]
    body = ",\n".join(lines)
    path.write_text(
        f'{{"model_sha256": "{recorded["model_sha256"]}",\n"messages": {{\n{body}\n}}}}\n', encoding="utf-8"
    )
    return len(lines)


def load_recorded(path: Path = VERDICTS_FILE) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.test")
    import django

    django.setup()
    # Another file to record into (to compare two versions of the filter) may be named as the one argument.
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else VERDICTS_FILE
    print(f"{write(target)} messages recorded in {target}")
