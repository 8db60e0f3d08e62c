"""The labelled corpus (apps/messaging/corpus) through the filter a fresh database has: the issue's targets hold.

Figures per category and language: `benchmarks/content_filter_corpus.py`, recorded in `benchmarks/RESULTS.md`.
"""

import pytest
from django.conf import settings

from apps.messaging import corpus
from apps.messaging.corpus.training import FITTED_SPLITS
from apps.messaging.filtering.runtime import build_content_filter

pytestmark = pytest.mark.django_db

# The model is fitted on every split but those named in `corpus.UNSEEN_SPLITS` (`apps/messaging/corpus/training.py`),
# so the spam target holds on each fitted split: they are the filter's own training data, and these tests catch a
# change that unlearns it. The starter rules alone hold two of their legitimate messages (below); the model itself
# holds at most the target's share.
# An unseen split is written and committed before the filter is changed and never used to choose anything: it
# measures the filter on new wording. Its bounds are the figures measured on its one scoring (RESULTS.md), so they
# only catch regressions; anything chosen for one of its messages makes it a tuned split, and new wording must then
# be written to measure again. Split: (share of spam stopped at least, share of legitimate messages held at most),
# one entry per unseen split (none between rounds). sealed6 (195/200, 0/222) and sealed7 (192/200, 0/222), each
# scored once in its round, are training data since the eighth; sealed8 (182/200 and 4/222 on its one scoring, after
# the eighth round) since the ninth; sealed9 (183/200 and 2/222 on its one scoring, after the ninth round) since the
# tenth; sealed10 (194/200 and 5/222 on its one scoring, after the tenth round) since the eleventh; sealed11 (200/200
# and 2/222 after the eleventh round) and sealed12 (190/200 and 1/222 with the eleventh round's filter, 192/200 after
# a link-reading fix found among its misses) since the twelfth; sealed13 (187/200 and 1/222 with the eleventh round's
# filter, 189/200 and 1/222 after the twelfth) since the thirteenth; sealed14 (by two more writers from the same
# brief: 195/200 and 3/222 with the twelfth round's filter, 196/200 and 3/222 after the thirteenth) since the
# fourteenth; sealed15 (195/200 and 2/222 before and after the fourteenth round, 194/200 and 1/222 once masked digits
# were no longer read as the adult term "xxx") since the fifteenth. sealed16, by two more writers from the same
# brief: 192/200 and 4/222 with the fourteenth round's filter, 193/200 and 4/222 on its one scoring after the
# fifteenth (the ceiling is 4/222 rounded up to a tenth of a percent). The sixteenth round replaced the model (one
# linear SVM over TF-IDF, chosen out of fold) with sealed16 still unseen: 197/200 and 4/222 with it; sealed17 (two
# more writers): 196/200 and 2/222 with the fifteenth round's filter, 198/200 and 2/222 on its scoring after the
# sixteenth. Then three rules for brands' own draw results (a winner who pays nothing, "with your ID", a prize whose
# every link is the brand's own page) from the draw results sealed16 and sealed17 held and sealed18's (199/200 and
# 2/222 before them) — all three now tuned — and scored once on sealed19 (two more writers): 195/200 and 4/222
# before, 195/200 and 1/222 after. sealed16 to sealed19 are training data since the seventeenth round, which was
# scored once on sealed20 (two more writers): 194/200 and 3/222 with the sixteenth round's filter, 193/200 and 1/222
# after; training data since the eighteenth, which was scored once on sealed21 (two more writers): 195/200 and 2/222
# with the seventeenth round's filter, 196/200 and 4/222 after; training data since the nineteenth, which was scored
# once on sealed22 (two more writers): 193/200 and 3/222; training data since the twentieth, which was scored once
# on sealed23 (two more writers): 196/200 and 5/222, four of the five held by the rules; training data since the
# twenty-first, which was scored once on sealed24 (two more writers): 198/200 and 2/222, both banks' warnings naming
# a look-alike site held by the link rules; training data since the twenty-second, which was scored once on
# sealed25 (two more writers): 196/200 and 2/222; training data since the twenty-third, which was scored once on
# sealed26 (two more writers): 198/200 and 2/222; training data since the twenty-fourth, which was scored once on
# sealed27 and sealed28 together (four more writers): 198/200 and 1/222, 198/200 and 3/222 (the twenty-third round's
# filter: 197/200 and 1/222, 197/200 and 2/222); training data since the twenty-fifth, which was scored once on
# sealed29 and sealed30 together (four more writers): 195/200 and 2/222, 199/200 and 0/222 (the twenty-third round's
# filter: 195/200 and 3/222, 197/200 and 2/222); training data since the twenty-sixth, which was scored once on
# sealed31 to sealed34 together (eight more writers): 195/200 and 2/222, 198/200 and 5/222, 196/200 and 1/222,
# 197/200 and 0/222; training data since the twenty-seventh, which was scored once on sealed35 to sealed38 together
# (eight more writers): 197/200 and 2/222, 199/200 and 3/222, 197/200 and 3/222, 198/200 and 1/222; training data
# since the twenty-eighth, which was scored once on sealed39 to sealed42 together (eight more writers, a brief
# rewritten from the same headings): 192/200 and 3/222, 191/200 and 3/222, 194/200 and 2/222, 192/200 and 5/222 (the
# twenty-seventh round's filter: 192/200 and 3/222, 188/200 and 4/222, 194/200 and 2/222, 192/200 and 4/222);
# training data since the twenty-ninth, which was scored once on sealed43 to sealed46 together (eight more writers):
# 198/200 and 0/222, 197/200 and 2/222, 193/200 and 1/222, 193/200 and 2/222 (the twenty-eighth round's filter:
# 195/200 and 2/222, 194/200 and 5/222, 193/200 and 4/222, 191/200 and 5/222); training data since the thirtieth,
# which was scored once on sealed47 to sealed50 together (eight more writers): 199/200 and 3/222, 196/200 and 0/222,
# 197/200 and 2/222, 197/200 and 1/222 (the twenty-ninth round's filter: 196/200 and 2/222, 195/200 and 1/222,
# 195/200 and 2/222, 196/200 and 2/222); training data since the thirty-first, which was scored once on sealed51 to
# sealed54 together (eight more writers): 198/200 and 4/222, 196/200 and 3/222, 197/200 and 1/222, 197/200 and 2/222
# (the thirtieth round's filter: 198/200 and 6/222, 196/200 and 3/222, 199/200 and 2/222, 196/200 and 5/222). The
# ceilings are those shares rounded up to a tenth of a percent); training data since the thirty-second, which was
# scored once on sealed55 to sealed58 together (eight more writers): 197/200 and 2/222, 196/200 and 0/222, 198/200 and
# 1/222, 196/200 and 2/222 (the thirty-first round's filter: 197/200 and 4/222, 196/200 and 0/222, 197/200 and 1/222,
# 195/200 and 2/222; the character block counted per piece and the veto reading both blocks, on the same fitted
# splits: 196/200 and 3/222, 196/200 and 0/222, 198/200 and 1/222, 196/200 and 2/222); training data since the
# thirty-third, which was scored once on sealed59 to sealed62 together (eight more writers): 198/200 and 2/222,
# 195/200 and 4/222, 197/200 and 1/222, 197/200 and 4/222 (the thirty-second round's filter: 195/200 and 2/222,
# 194/200 and 4/222, 196/200 and 2/222, 195/200 and 4/222; with the character block counted per piece: 195/200 and
# 2/222, 194/200 and 4/222, 194/200 and 3/222, 196/200 and 4/222); training data since the thirty-fourth, which was
# scored once on sealed63 to sealed66 together (eight more writers): 194/200 and 6/222, 196/200 and 4/222, 194/200 and
# 4/222, 198/200 and 1/222 (the thirty-third round's filter: 193/200 and 6/222, 195/200 and 4/222, 194/200 and 4/222,
# 196/200 and 1/222); training data since the thirty-fifth, which was scored once on sealed67 to sealed70 together
# (eight more writers): 194/200 and 3/222, 197/200 and 1/222, 197/200 and 3/222, 197/200 and 1/222 (the thirty-fourth
# round's filter: 194/200 and 4/222, 195/200 and 2/222, 197/200 and 4/222, 197/200 and 2/222); training data since
# the thirty-sixth, which was scored once on sealed71 to sealed74 together (eight more writers): 197/200 and 2/222,
# 197/200 and 3/222, 194/200 and 3/222, 196/200 and 1/222 (the thirty-fifth round's filter: 197/200 and 2/222, 197/200
# and 3/222, 195/200 and 3/222, 194/200 and 1/222); training data since the thirty-seventh, which was scored once on
# sealed75 to sealed78 together (eight more writers): 195/200 and 2/222, 195/200 and 0/222, 191/200 and 0/222, 191/200
# and 4/222 (the thirty-sixth round's filter: 195/200 and 2/222, 195/200 and 1/222, 192/200 and 0/222, 190/200 and
# 4/222); training data since the thirty-eighth, which was scored once on sealed79 to sealed82 together (eight more
# writers): 196/200 and 1/222, 197/200 and 1/222, 197/200 and 3/222, 199/200 and 3/222 (the thirty-seventh round's
# filter: 192/200 and 2/222, 196/200 and 1/222, 195/200 and 3/222, 199/200 and 3/222); training data since the
# thirty-ninth, which was scored once on sealed83 to sealed86 together (eight more writers): 198/200 and 1/222,
# 199/200 and 2/222, 196/200 and 2/222, 197/200 and 4/222 (the thirty-eighth round's filter: 198/200 and 1/222,
# 200/200 and 2/222, 196/200 and 2/222, 196/200 and 5/222); training data since the fortieth, which was scored once
# on sealed87 to sealed90 together (eight more writers): 193/200 and 1/222, 193/200 and 1/222, 189/200 and 3/222,
# 191/200 and 3/222 (the thirty-ninth round's filter: 194/200 and 2/222, 195/200 and 3/222, 192/200 and 3/222,
# 191/200 and 2/222); training data since the forty-first, which was scored once on sealed91 to sealed94 together
# (eight more writers): 195/200 and 2/222, 191/200 and 4/222, 199/200 and 1/222, 196/200 and 0/222 (the fortieth
# round's filter: 191/200 and 2/222, 190/200 and 3/222, 197/200 and 1/222, 194/200 and 0/222); training data since
# the forty-second, which was scored once on sealed95 to sealed98 together (eight more writers): 197/200 and 2/222,
# 193/200 and 7/222, 198/200 and 1/222, 199/200 and 0/222 (the forty-first round's filter: 196/200 and 3/222, 193/200
# and 7/222, 197/200 and 1/222, 199/200 and 1/222).
SEALED_BOUNDS: dict[str, tuple[float, float]] = {
    "sealed95": (0.985, 0.01),
    "sealed96": (0.965, 0.032),
    "sealed97": (0.99, 0.005),
    "sealed98": (0.995, 0.0),
}
# Unseen splits committed but not scored yet: they get their bounds from their one scoring, and until then nothing
# here scores them.
AWAITING_SCORING: frozenset[str] = frozenset({"sealed99", "sealed100", "sealed101", "sealed102"})
# The share of the fitted splits' legitimate messages the filter holds (2 of 3,100 when first measured, both the
# rules': sealed3's and written3's Khmer Aeon draw results; the banks' and regulators' loan-scam warnings the rules
# held before go through since the fifth round). 16 of 7,859 in the eighteenth round, all the rules' again: 7 of them
# written14's and 4 written13's scam warnings quoting a scam's words, link or number (look-alikes written for that),
# the others brands' draw results and warnings in the sealed splits. 46 of 19,126 in the thirty-fifth round; 63 of
# 20,090 in the thirty-sixth, where the veto went down to −1.0 (a spam the rules held by its words alone scored between
# −1 and −0.75 out of fold) and so releases fewer of the rules' holds. 76 of 21,058 in the thirty-seventh (sealed71 to
# sealed74 and written25 fitted on, the same veto). 97 of 23,941 in the fortieth (sealed83 to sealed86 and written28
# fitted on), the veto back at −1.0.
FITTED_LEGIT_HELD = 0.0045


@pytest.fixture(scope="module")
def outcomes(django_db_setup, django_db_blocker):
    # Compiled from the migrated tables as the send path compiles it, not taken from this process's cache, which
    # may hold a filter an earlier test compiled from its own (rolled back) rules.
    with django_db_blocker.unblock():
        content_filter = build_content_filter()
    hold, reject = settings.CONTENT_FILTER_HOLD_SCORE, settings.CONTENT_FILTER_REJECT_SCORE
    return corpus.evaluate(lambda text: content_filter.check(text, hold_score=hold, reject_score=reject))


def test_corpus_covers_every_kind_of_message():
    samples = corpus.load()
    assert len(samples) >= 3000
    assert sum(s.split == "written" for s in samples) >= 1500
    assert sum(s.split == "written2" for s in samples) >= 700
    assert sum(s.split == "written3" for s in samples) >= 200
    assert sum(s.split == "written4" for s in samples) >= 100
    assert sum(s.split == "written6" for s in samples) >= 160
    assert sum(s.split == "written7" for s in samples) >= 170
    assert sum(s.split == "written8" for s in samples) >= 200
    assert sum(s.split == "written9" for s in samples) >= 250
    assert sum(s.split == "written10" for s in samples) >= 500
    assert sum(s.split == "written11" for s in samples) >= 600
    assert sum(s.split == "written12" for s in samples) >= 300
    assert sum(s.split == "written13" for s in samples) >= 400
    assert sum(s.split == "written14" for s in samples) >= 450
    assert sum(s.split == "written15" for s in samples) >= 450
    assert sum(s.split == "written16" for s in samples) >= 150
    sealed_sizes = {
        "sealed": (150, 150),
        "sealed2": (180, 200),
        "sealed3": (180, 200),
        "sealed4": (200, 200),
        "sealed5": (200, 200),
        "sealed6": (200, 220),
        "sealed7": (200, 220),
        "sealed8": (200, 220),
        "sealed9": (200, 220),
        "sealed10": (200, 220),
        "sealed11": (200, 220),
        "sealed12": (200, 220),
        "sealed13": (200, 220),
        "sealed14": (200, 220),
        "sealed15": (200, 220),
        "sealed16": (200, 220),
        "sealed17": (200, 220),
        "sealed18": (200, 220),
        "sealed19": (200, 220),
        "sealed20": (200, 220),
        "sealed21": (200, 220),
        "sealed22": (200, 220),
        "sealed23": (200, 220),
        "sealed24": (200, 220),
        "sealed25": (200, 220),
        "sealed26": (200, 220),
        "sealed27": (200, 220),
        "sealed28": (200, 220),
        "sealed29": (200, 220),
        "sealed30": (200, 220),
        "sealed31": (200, 220),
        "sealed32": (200, 220),
        "sealed33": (200, 220),
        "sealed34": (200, 220),
        "sealed35": (200, 220),
        "sealed36": (200, 220),
        "sealed37": (200, 220),
        "sealed38": (200, 220),
        "sealed39": (200, 220),
        "sealed40": (200, 220),
        "sealed41": (200, 220),
        "sealed42": (200, 220),
        "sealed43": (200, 220),
        "sealed44": (200, 220),
        "sealed45": (200, 220),
        "sealed46": (200, 220),
        "sealed47": (200, 220),
        "sealed48": (200, 220),
        "sealed49": (200, 220),
        "sealed50": (200, 220),
        "sealed51": (200, 220),
        "sealed52": (200, 220),
        "sealed53": (200, 220),
        "sealed54": (200, 220),
        "sealed55": (200, 220),
        "sealed56": (200, 220),
        "sealed57": (200, 220),
        "sealed58": (200, 220),
        "sealed59": (200, 220),
        "sealed60": (200, 220),
        "sealed61": (200, 220),
        "sealed62": (200, 220),
        "sealed63": (200, 220),
        "sealed64": (200, 220),
        "sealed65": (200, 220),
        "sealed66": (200, 220),
        "sealed67": (200, 220),
        "sealed68": (200, 220),
        "sealed69": (200, 220),
        "sealed70": (200, 220),
        "sealed71": (200, 220),
        "sealed72": (200, 220),
        "sealed73": (200, 220),
        "sealed74": (200, 220),
        "sealed75": (200, 220),
        "sealed76": (200, 220),
        "sealed77": (200, 220),
        "sealed78": (200, 220),
        "sealed79": (200, 220),
        "sealed80": (200, 220),
        "sealed81": (200, 220),
        "sealed82": (200, 220),
        "sealed83": (200, 220),
        "sealed84": (200, 220),
        "sealed85": (200, 220),
        "sealed86": (200, 220),
        "sealed87": (200, 220),
        "sealed88": (200, 220),
        "sealed89": (200, 220),
        "sealed90": (200, 220),
        "sealed91": (200, 220),
        "sealed92": (200, 220),
        "sealed93": (200, 220),
        "sealed94": (200, 220),
        "sealed95": (200, 220),
        "sealed96": (200, 220),
        "sealed97": (200, 220),
        "sealed98": (200, 220),
        "sealed99": (200, 220),
        "sealed100": (200, 220),
        "sealed101": (200, 220),
        "sealed102": (200, 220),
    }
    for split, (spam, legit) in sealed_sizes.items():
        sealed = [s for s in samples if s.split == split]
        assert len(sealed) >= 400
        assert sum(s.label == corpus.SPAM for s in sealed) >= spam
        assert sum(s.label == corpus.LEGIT for s in sealed) >= legit
        kinds = {(s.label, s.category, s.language) for s in sealed}
        assert kinds == {(s.label, s.category, s.language) for s in samples}
    assert {s.language for s in samples} == {"km", "en", "mixed"}
    assert {s.category for s in samples if s.label == corpus.SPAM} == {
        "prize",
        "phishing",
        "gambling",
        "loan",
        "investment",
        "adult",
    }
    assert {s.category for s in samples if s.label == corpus.LEGIT} == {
        "code",
        "reminder",
        "delivery",
        "appointment",
        "bill",
        "notice",
    }
    assert len({s.id for s in samples}) == len(samples)


@pytest.mark.parametrize("split", [*FITTED_SPLITS, "fitted"])
def test_targets_are_met_on_the_fitted_splits(outcomes, split):
    chosen = [o for o in outcomes if split in (o.sample.split, "fitted") and o.sample.split in FITTED_SPLITS]
    figures = corpus.figures(chosen)
    missed = [o.sample.id for o in chosen if o.sample.label == corpus.SPAM and not o.stopped]
    held = [o for o in chosen if o.sample.label == corpus.LEGIT and o.stopped]
    held_by_model = [o.sample.id for o in held if "classifier" in o.codes]
    assert figures.recall >= corpus.TARGET_SPAM_STOPPED, missed
    assert len(held_by_model) <= corpus.TARGET_LEGIT_HELD * figures.legit, held_by_model
    if split == "fitted":
        assert figures.false_positive_rate <= FITTED_LEGIT_HELD, [o.sample.id for o in held]


def test_every_unseen_split_has_its_measured_bounds():
    assert not set(SEALED_BOUNDS) & AWAITING_SCORING
    assert set(SEALED_BOUNDS) | AWAITING_SCORING == set(corpus.UNSEEN_SPLITS)


@pytest.mark.parametrize("split", sorted(SEALED_BOUNDS))
def test_new_wording_stays_within_its_measured_bounds(outcomes, split):
    figures = corpus.figures(o for o in outcomes if o.sample.split == split)
    spam_floor, legit_ceiling = SEALED_BOUNDS[split]
    assert figures.spam >= 150
    assert figures.recall >= spam_floor
    assert figures.false_positive_rate <= legit_ceiling


def test_no_legitimate_reminder_of_the_fitted_splits_is_held(outcomes):
    # Loan repayment reminders included (none of sealed5's 23 nor sealed6's 21 was held either: RESULTS.md).
    reminders = [o for o in outcomes if o.sample.category == "reminder" and o.sample.split in FITTED_SPLITS]
    assert len(reminders) >= 250
    assert [o.sample.id for o in reminders if o.stopped] == []
