"""Reputation: outcomes nudge it, strikes take points off, and matching follows it across PROVIDER_MIN_REPUTATION."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.messaging.tests.test_concurrency import run_together
from apps.providers.choices import Carrier
from apps.providers.models import Provider, Sim
from apps.providers.services import (
    provider_reputation_outcome,
    provider_reputation_penalty,
    providers_reputation_outcomes,
)
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db
POSTGRESQL = connection.vendor == "postgresql"


def state(provider: Provider) -> tuple[int, bool]:
    reputation = Provider.objects.values_list("reputation", flat=True).get(pk=provider.pk)
    return reputation, Sim.objects.get(provider=provider).matchable


def test_crossing_the_minimum_takes_the_sims_in_and_out_of_matching(settings):
    provider = provider_with_sim(Carrier.SMART, reputation=settings.PROVIDER_MIN_REPUTATION - 1)
    assert state(provider) == (299, False)
    provider_reputation_outcome(provider_id=provider.pk, outcome="delivered")  # 299 + round(701 * 0.02)
    assert state(provider) == (313, True)
    provider_reputation_penalty(provider_id=provider.pk, points=150)
    assert state(provider) == (163, False)
    provider_reputation_penalty(provider_id=provider.pk, points=500)
    assert state(provider) == (0, False)  # never below the minimum of the scale


def test_a_nudge_that_crosses_nothing_is_one_statement(django_assert_num_queries):
    provider = provider_with_sim(Carrier.SMART, reputation=500)
    # SQLite cannot return the value before an UPDATE: it reads it first.
    with django_assert_num_queries(1 if POSTGRESQL else 2):
        provider_reputation_outcome(provider_id=provider.pk, outcome="failed", count=True)
    assert state(provider) == (485, True)
    assert Provider.objects.values_list("jobs_delivered", "jobs_failed").get(pk=provider.pk) == (0, 1)


def test_outcomes_are_counted_only_when_asked():
    provider = provider_with_sim(Carrier.SMART, reputation=500)
    provider_reputation_outcome(provider_id=provider.pk, outcome="delivered", count=True)
    provider_reputation_outcome(provider_id=provider.pk, outcome="delivered")  # e.g. a confirmed canary's job
    assert Provider.objects.values_list("jobs_delivered", "jobs_failed").get(pk=provider.pk) == (1, 0)


def test_an_unknown_provider_changes_nothing():
    provider_reputation_outcome(provider_id=999_999, outcome="delivered", count=True)
    provider_reputation_penalty(provider_id=999_999, points=10)
    assert not Provider.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not POSTGRESQL, reason="row locks under real concurrency: PostgreSQL")
def test_concurrent_nudges_each_start_from_the_last_one(settings):
    """Each UPDATE reads the value it replaces under the row lock: none is lost, and the one that crosses the
    minimum is seen to cross it, whichever order they run in."""
    workers = 12
    provider = provider_with_sim(Carrier.SMART, reputation=settings.PROVIDER_MIN_REPUTATION - 20)
    alone = provider_with_sim(Carrier.SMART, reputation=settings.PROVIDER_MIN_REPUTATION - 20)
    for _ in range(workers):
        provider_reputation_outcome(provider_id=alone.pk, outcome="delivered")
    run_together(lambda: provider_reputation_outcome(provider_id=provider.pk, outcome="delivered", count=True), workers)
    assert state(provider) == state(alone)
    assert state(provider)[1] is True
    assert Provider.objects.get(pk=provider.pk).jobs_delivered == workers


STEPS = [("delivered", True), ("failed", True), ("timeout", False), ("delivered", True), ("canary_confirmed", False)]


def test_several_providers_walk_as_each_outcome_alone_would(settings):
    """`providers_reputation_outcomes` (a settle batch's providers): every step of each provider's walk rounds as one
    outcome at a time does, the counters count, a crossing of the minimum is synced, an unknown provider changes
    nothing — in one statement on PostgreSQL."""
    low = settings.PROVIDER_MIN_REPUTATION - 1
    walked = [provider_with_sim(Carrier.SMART, reputation=500), provider_with_sim(Carrier.SMART, reputation=low)]
    alone = [provider_with_sim(Carrier.SMART, reputation=500), provider_with_sim(Carrier.SMART, reputation=low)]
    steps = {walked[0].pk: STEPS, walked[1].pk: [("delivered", True)], 999_999: [("failed", True)]}
    with CaptureQueriesContext(connection) as statements:
        providers_reputation_outcomes(outcomes=steps)
    walks = [query["sql"] for query in statements if "UPDATE providers_provider" in query["sql"]]
    # SQLite walks each provider on its own (after reading its row); the SIM's sync for the crossing comes after.
    assert len(walks) == (1 if POSTGRESQL else 3), walks
    for provider, outcomes in zip(alone, [STEPS, [("delivered", True)]], strict=True):
        for outcome, count in outcomes:
            provider_reputation_outcome(provider_id=provider.pk, outcome=outcome, count=count)
    counted = ("reputation", "jobs_delivered", "jobs_failed")
    for mine, theirs in zip(walked, alone, strict=True):
        assert state(mine) == state(theirs)
        assert Provider.objects.values_list(*counted).get(pk=mine.pk) == (
            Provider.objects.values_list(*counted).get(pk=theirs.pk)
        )
    assert state(walked[1]) == (313, True)  # crossed the minimum: its SIM matchable again
    assert Provider.objects.values_list("jobs_delivered", "jobs_failed").get(pk=walked[0].pk) == (2, 1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not POSTGRESQL, reason="row locks under real concurrency: PostgreSQL")
def test_concurrent_batches_of_several_providers_lose_no_step():
    """Batches that walk the same providers at once each start from the last one's values (the rows locked in id
    order before the walk): nothing is lost, and no two deadlock."""
    workers = 8
    walked = [provider_with_sim(Carrier.SMART, reputation=400) for _ in range(3)]
    alone = [provider_with_sim(Carrier.SMART, reputation=400) for _ in range(3)]
    batch = {walked[0].pk: STEPS[:2], walked[1].pk: STEPS, walked[2].pk: STEPS[3:]}
    for _ in range(workers):
        for provider, outcomes in zip(alone, batch.values(), strict=True):
            for outcome, count in outcomes:
                provider_reputation_outcome(provider_id=provider.pk, outcome=outcome, count=count)
    run_together(lambda: providers_reputation_outcomes(outcomes=batch), workers)
    for mine, theirs in zip(walked, alone, strict=True):
        assert Provider.objects.values_list("reputation", "jobs_delivered", "jobs_failed").get(pk=mine.pk) == (
            Provider.objects.values_list("reputation", "jobs_delivered", "jobs_failed").get(pk=theirs.pk)
        )
