"""The content filter decides on every corpus message exactly as recorded (`apps/messaging/corpus/verdicts.py`), so
work on its speed cannot change a decision unnoticed: what it reads of each message, what its rules decide, what it
decides with the shipped model and the model's score.

The recorded decisions with the model stand for the model file they were recorded with. With another model file (a
refit), the decisions are compared with the model's readable scoring instead: the rules' decision, topped up to
the hold score when `SpamModel.score` over `features` reaches the threshold — which also covers corpus messages
added since the recording.
"""

import pytest

from apps.messaging import corpus
from apps.messaging.choices import FilterAction
from apps.messaging.corpus import verdicts
from apps.messaging.filtering.engine import FilterDecision, Reason, by_words_alone
from apps.messaging.filtering.model import MODEL_FILE, shipped_model
from apps.messaging.filtering.starter import starter_filter

HOLD, REJECT = verdicts.HOLD_SCORE, verdicts.REJECT_SCORE


@pytest.fixture(scope="module")
def recorded():
    return verdicts.load_recorded()


@pytest.fixture(scope="module")
def samples():
    return {sample.id: sample for sample in corpus.load()}


@pytest.fixture(scope="module")
def rules_filter():
    return starter_filter()


@pytest.fixture(scope="module")
def content_filter():
    return starter_filter(shipped_model())


def test_the_recording_covers_the_corpus_it_was_made_on(recorded, samples):
    assert len(recorded["messages"]) >= 6000
    assert set(recorded["messages"]) <= set(samples)


def test_every_message_is_read_and_decided_by_the_rules_as_recorded(recorded, samples, rules_filter):
    changed = [
        message_id
        for message_id, (reading, _, _) in recorded["messages"].items()
        if verdicts.reading_digest(rules_filter, samples[message_id].text) != reading
    ]
    assert changed == []


def test_every_decision_and_model_score_is_as_recorded(recorded, samples, content_filter):
    if recorded["model_sha256"] != verdicts.model_digest(MODEL_FILE):
        pytest.skip("the model file was refitted since the recording: the next test compares with its scoring")
    changed, scored = [], []
    for message_id, (_, decision, score) in recorded["messages"].items():
        text = samples[message_id].text
        if verdicts.decision_digest(content_filter, text) != decision:
            changed.append(message_id)
        analysis = content_filter.analyse(text)
        outside = content_filter.outside_links(analysis.links)
        if abs(content_filter.model.score_reading(analysis.tokens, outside, analysis.normalized) - score) > 1e-9:
            scored.append(message_id)
    assert changed == []
    assert scored == []


def _readable_decision(rules_filter, model, text: str) -> FilterDecision:
    """The send path's decision, built from the rules' decision and the model's readable scoring."""
    decision = rules_filter.check(text, hold_score=HOLD, reject_score=REJECT)
    analysis = rules_filter.analyse(text)
    found = rules_filter.model_features(analysis)
    if decision.score >= HOLD:
        if decision.score >= REJECT or not by_words_alone(decision.reasons):
            return decision
        if model.score(found, analysis.normalized, whole=True) >= model.veto:
            return decision
        clear = Reason("classifier_clear", HOLD - 1 - decision.score, ())
        return FilterDecision(action=FilterAction.ALLOW, score=HOLD - 1, reasons=(*decision.reasons, clear))
    if model.score(found, analysis.normalized) < model.threshold:
        return decision
    reason = Reason("classifier", HOLD - decision.score, model.strongest(found, analysis.normalized))
    return FilterDecision(action=FilterAction.HOLD, score=HOLD, reasons=(*decision.reasons, reason))


def test_every_decision_is_what_the_model_s_readable_scoring_gives(samples, rules_filter, content_filter):
    model = content_filter.model
    changed = [
        sample.id
        for sample in samples.values()
        if content_filter.check(sample.text, hold_score=HOLD, reject_score=REJECT)
        != _readable_decision(rules_filter, model, sample.text)
    ]
    assert changed == []
