"""The content filter on the labelled corpus: precision and recall per split, language and category.

Prints figures; the CI test `apps/messaging/tests/test_filter_corpus.py` asserts the targets. Run from the project
root:

    .venv/bin/python benchmarks/content_filter_corpus.py [--misses train|test|all]

The filter is compiled from the starter rules the data migrations seed (what a fresh database has), thresholds
hold 50 / reject 100. `--misses` lists the spam let through and the legitimate messages held, with their reasons.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.test")

import django  # noqa: E402

django.setup()

from apps.messaging import corpus  # noqa: E402
from apps.messaging.filtering.starter import starter_filter  # noqa: E402

HOLD, REJECT = 50, 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--misses",
        choices=["train", "test", "fresh", "unseen", "holdout", "all"],
        help="list the filter's mistakes in a split",
    )
    args = parser.parse_args()
    content_filter = starter_filter()

    def check(text: str) -> object:
        return content_filter.check(text, hold_score=HOLD, reject_score=REJECT)

    samples = corpus.load()
    start = time.perf_counter()
    outcomes = corpus.evaluate(check, samples)
    elapsed = time.perf_counter() - start
    spam = sum(sample.label == corpus.SPAM for sample in samples)
    print(f"{len(samples)} messages ({spam} spam, {len(samples) - spam} legitimate), hold {HOLD} / reject {REJECT}")
    print(f"one pass: {elapsed / len(samples) * 1e6:.1f} µs per message (timing: benchmarks/content_filter.py)\n")
    print("\n".join(corpus.report(outcomes)))
    for split in ("train", "test", "fresh", "unseen", "holdout"):
        group = corpus.figures(o for o in outcomes if o.sample.split == split)
        verdict = "met" if group.meets_targets() else "NOT met"
        print(f"targets on the {split} split (spam stopped ≥ 98 %, legitimate held ≤ 0.5 %): {verdict}")
    if args.misses:
        print(f"\nMistakes in the {args.misses} split")
        for outcome in outcomes:
            if args.misses != "all" and outcome.sample.split != args.misses:
                continue
            if outcome.stopped != (outcome.sample.label == corpus.SPAM):
                print(f"  {outcome.sample.id:28} {outcome.score:4} {','.join(outcome.codes):40} {outcome.sample.text}")


if __name__ == "__main__":
    main()
