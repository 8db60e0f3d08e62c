"""The content filter on the labelled corpus: precision and recall per split, language and category.

Prints figures; the CI test `apps/messaging/tests/test_filter_corpus.py` asserts the targets. Run from the project
root:

    .venv/bin/python benchmarks/content_filter_corpus.py [--rules-only] [--cross-validate] [--misses SPLIT]

The filter is compiled from the starter rules the data migrations seed (what a fresh database has) with the
shipped statistical model (`apps/messaging/filtering/data/spam_model.json`), thresholds hold 50 / reject 100.
The model is fitted on every split but those named in ``corpus.UNSEEN_SPLITS`` (a round's new splits while they
are measured; none between rounds), which are never used to choose anything: their rows are the figures for new
wording (the previous rounds' sealed splits are training data since they were scored). To score a new split once,
name it there and run with ``--misses <split>``.
`--rules-only` leaves the model out. `--cross-validate` (needs scikit-learn) gives the out-of-fold figures of the
fitted splits: each message scored by the model of the fold that did not see it (five folds, a template's fills and
each hand-written split in one fold), at the threshold chosen on all folds' scores, as the shipped model's is
(`apps/messaging/corpus/training.py`). `--misses` lists the spam let through and the legitimate messages held,
with their reasons.
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
from apps.messaging.filtering.engine import ContentFilter  # noqa: E402
from apps.messaging.filtering.model import shipped_model  # noqa: E402
from apps.messaging.filtering.starter import starter_domains, starter_terms  # noqa: E402

HOLD, REJECT = 50, 100


def print_report(outcomes: list[corpus.Outcome]) -> None:
    print("\n".join(corpus.report(outcomes)))
    for split in corpus.SPLITS:
        group = corpus.figures(o for o in outcomes if o.sample.split == split)
        if group.spam + group.legit:
            verdict = "met" if group.meets_targets() else "NOT met"
            print(f"targets on the {split} split (spam stopped ≥ 98 %, legitimate held ≤ 0.5 %): {verdict}")


def cross_validated(content_filter: ContentFilter) -> list[corpus.Outcome]:
    from apps.messaging.corpus.training import cross_validate, fitted_samples  # scikit-learn

    samples = fitted_samples()
    outcomes = []
    for sample, model in cross_validate(content_filter, samples):
        content_filter.model = model
        decision = content_filter.check(sample.text, hold_score=HOLD, reject_score=REJECT)
        outcomes.append(corpus.Outcome(sample, decision.action, decision.score, tuple(decision.codes)))
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules-only", action="store_true", help="without the statistical model")
    parser.add_argument("--cross-validate", action="store_true", help="k-fold figures of the whole protocol")
    parser.add_argument("--misses", choices=[*corpus.SPLITS, "all"], help="list the filter's mistakes in a split")
    args = parser.parse_args()
    model = None if args.rules_only else shipped_model()
    content_filter = ContentFilter(terms=starter_terms(), domains=starter_domains(), model=model)

    def check(text: str) -> object:
        return content_filter.check(text, hold_score=HOLD, reject_score=REJECT)

    samples = corpus.load()
    start = time.perf_counter()
    outcomes = corpus.evaluate(check, samples)
    elapsed = time.perf_counter() - start
    spam = sum(sample.label == corpus.SPAM for sample in samples)
    print(f"{len(samples)} messages ({spam} spam, {len(samples) - spam} legitimate), hold {HOLD} / reject {REJECT}")
    print(f"model: {'none' if model is None else f'{len(model.weights)} weights, threshold {model.threshold}'}")
    print(f"one pass: {elapsed / len(samples) * 1e6:.1f} µs per message (timing: benchmarks/content_filter.py)\n")
    print_report(outcomes)
    if args.cross_validate:
        print("\nCross-validation over the fitted splits, 5 grouped folds (rules + each fold's model)")
        print_report(cross_validated(content_filter))
    if args.misses:
        print(f"\nMistakes in the {args.misses} split")
        for outcome in outcomes:
            if args.misses != "all" and outcome.sample.split != args.misses:
                continue
            if outcome.stopped != (outcome.sample.label == corpus.SPAM):
                print(f"  {outcome.sample.id:28} {outcome.score:4} {','.join(outcome.codes):40} {outcome.sample.text}")


if __name__ == "__main__":
    main()
