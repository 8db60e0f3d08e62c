"""Matching: who is eligible, on-net before cross-carrier, sticky senders, exclusions and caps, and how the work
spreads over many picks (checked statistically)."""

from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import TestCase, override_settings
from django.utils import timezone

from apps.providers.choices import Availability, Carrier, MatchPriority, ProviderStatus
from apps.providers.models import Provider, Sim
from apps.providers.services import (
    capacity_release,
    provider_reputation_penalty,
    provider_scores_set,
    provider_suspend,
    sim_remove,
    sims_resync_matchable,
    sticky_sender_remember,
)
from apps.providers.services.caps import cap_counter, cap_windows
from apps.providers.tests.factories import ProviderFactory, SimFactory, match_one, provider_with_sim

pytestmark = pytest.mark.django_db


def release(assignment, *, sent=True):
    # As the job's own transaction would: the counters are given back once it commits.
    with TestCase.captureOnCommitCallbacks(execute=True):
        capacity_release(
            provider_id=assignment.provider_id,
            sim_id=assignment.sim_id,
            reserved_at=assignment.reserved_at,
            sms_sent=sent,
        )


def test_on_net_provider_is_chosen_before_another_carrier():
    smart = provider_with_sim(Carrier.SMART)
    provider_with_sim(Carrier.METFONE)
    for _ in range(5):
        assignment = match_one(recipient_carrier=Carrier.METFONE)
        assert assignment.carrier == Carrier.METFONE and assignment.cross_carrier is False
        assert assignment.provider_id != smart.pk
        release(assignment)


def test_falls_back_to_another_carrier_and_says_so():
    smart = provider_with_sim(Carrier.SMART)
    assignment = match_one(recipient_carrier=Carrier.CELLCARD)
    assert assignment.provider_id == smart.pk
    assert assignment.cross_carrier is True
    assert assignment.carrier == Carrier.SMART
    assert assignment.sim_id == smart.sims.get().pk


def test_low_priority_waits_for_on_net_capacity_unless_told_otherwise():
    provider_with_sim(Carrier.SMART)
    assert match_one(recipient_carrier=Carrier.CELLCARD, priority=MatchPriority.LOW) is None
    assert match_one(recipient_carrier=Carrier.CELLCARD, allow_cross_carrier=False) is None
    forced = match_one(recipient_carrier=Carrier.CELLCARD, priority=MatchPriority.LOW, allow_cross_carrier=True)
    assert forced is not None and forced.cross_carrier


def test_no_capacity_at_all_returns_nothing():
    assert match_one(recipient_carrier=Carrier.SMART) is None


@pytest.mark.parametrize(
    "make_ineligible",
    [
        pytest.param(lambda p: Provider.objects.filter(pk=p.pk).update(status=ProviderStatus.SUSPENDED), id="status"),
        pytest.param(lambda p: provider_suspend(provider=p, actor=None), id="suspended-by-staff"),
        pytest.param(lambda p: Provider.objects.filter(pk=p.pk).update(availability="offline"), id="offline"),
        pytest.param(lambda p: Provider.objects.filter(pk=p.pk).update(availability="busy"), id="busy"),
        pytest.param(
            lambda p: Provider.objects.filter(pk=p.pk).update(last_heartbeat_at=timezone.now() - timedelta(minutes=4)),
            id="stale-heartbeat",
        ),
        pytest.param(lambda p: provider_reputation_penalty(provider_id=p.pk, points=900), id="fraud-strike"),
        pytest.param(lambda p: Provider.objects.filter(pk=p.pk).update(reputation=100), id="low-reputation-raw"),
        pytest.param(lambda p: sim_remove(sim=p.sims.get(), actor=None), id="sim-removed"),
        pytest.param(lambda p: Provider.objects.filter(pk=p.pk).update(jobs_in_flight=3), id="in-flight-full"),
    ],
)
def test_ineligible_providers_are_never_chosen(make_ineligible):
    provider = provider_with_sim(Carrier.SMART)
    make_ineligible(provider)
    # Some of these bypass the services (raw updates), so `matchable` is stale: the query must still refuse them.
    assert match_one(recipient_carrier=Carrier.SMART) is None


def test_excluded_providers_are_skipped():
    first = provider_with_sim(Carrier.SMART)
    second = provider_with_sim(Carrier.SMART)
    for _ in range(5):
        assignment = match_one(recipient_carrier=Carrier.SMART, exclude_provider_ids=[first.pk])
        assert assignment.provider_id == second.pk
        release(assignment)
    assert match_one(recipient_carrier=Carrier.SMART, exclude_provider_ids=[first.pk, second.pk]) is None


@override_settings(PROVIDER_MAX_JOBS_IN_FLIGHT=2)
def test_in_flight_limit_is_reserved_and_released():
    provider = provider_with_sim(Carrier.SMART)
    first = match_one(recipient_carrier=Carrier.SMART)
    second = match_one(recipient_carrier=Carrier.SMART)
    assert first and second
    assert match_one(recipient_carrier=Carrier.SMART) is None
    provider.refresh_from_db()
    assert provider.jobs_in_flight == 2
    release(first)
    assert match_one(recipient_carrier=Carrier.SMART) is not None


@override_settings(PROVIDER_MAX_JOBS_IN_FLIGHT=2)
def test_a_full_provider_leaves_the_matching_index_until_a_release():
    provider = provider_with_sim(Carrier.SMART)
    sim = provider.sims.get()
    first = match_one(recipient_carrier=Carrier.SMART)
    assert Sim.objects.get(pk=sim.pk).matchable  # room for one more
    match_one(recipient_carrier=Carrier.SMART)
    assert not Sim.objects.get(pk=sim.pk).matchable
    release(first)
    assert Sim.objects.get(pk=sim.pk).matchable


def test_the_sweep_repairs_matchable_flags_that_drifted():
    kept = provider_with_sim(Carrier.SMART)
    dropped = provider_with_sim(Carrier.SMART)
    # Changes made behind the services' backs (or a setting changed): the flags no longer agree.
    Provider.objects.filter(pk=dropped.pk).update(reputation=10)
    Sim.objects.filter(provider=kept).update(matchable=False)
    assert sims_resync_matchable() == 2
    assert Sim.objects.get(provider=kept).matchable and not Sim.objects.get(provider=dropped).matchable
    assert sims_resync_matchable() == 0


@override_settings(PROVIDER_SIM_HOURLY_CAP=3, PROVIDER_MAX_JOBS_IN_FLIGHT=100)
def test_a_sim_at_its_cap_is_skipped_for_another(counter_backend):
    provider = ProviderFactory()
    capped_sim = SimFactory(provider=provider, carrier=Carrier.SMART, slot=0)
    other_sim = SimFactory(provider=provider, carrier=Carrier.SMART, slot=1)
    picks = Counter(match_one(recipient_carrier=Carrier.SMART).sim_id for _ in range(6))
    assert picks == {capped_sim.pk: 3, other_sim.pk: 3}
    assert match_one(recipient_carrier=Carrier.SMART) is None


@override_settings(PROVIDER_MATCH_POOL_SIZE=1)  # without stickiness, always the earliest turn
def test_sticky_sender_is_preferred_while_eligible():
    providers = [provider_with_sim(Carrier.SMART) for _ in range(4)]
    sticky = providers[2]
    sticky_sim = sticky.sims.get()
    # The sticky provider is last in fair-share order: without stickiness it would never be chosen.
    Sim.objects.filter(pk=sticky_sim.pk).update(next_turn_at=timezone.now() + timedelta(hours=1))
    sticky_sender_remember(client_ref="client-7", recipient="+85510999001", provider_id=sticky.pk, sim_id=sticky_sim.pk)
    for _ in range(3):
        assignment = match_one(recipient_carrier=Carrier.SMART, client_ref="client-7", recipient="+85510999001")
        assert (assignment.provider_id, assignment.sim_id, assignment.sticky) == (sticky.pk, sticky_sim.pk, True)
        release(assignment)
    # Another client, or another recipient, has no sticky sender.
    other = match_one(recipient_carrier=Carrier.SMART, client_ref="client-8", recipient="+85510999001")
    assert other.sticky is False and other.provider_id != sticky.pk


def test_sticky_sender_gives_way_when_not_available():
    sticky = provider_with_sim(Carrier.SMART)
    fallback = provider_with_sim(Carrier.SMART)
    sticky_sender_remember(
        client_ref="c1", recipient="+85510999002", provider_id=sticky.pk, sim_id=sticky.sims.get().pk
    )
    Provider.objects.filter(pk=sticky.pk).update(availability=Availability.OFFLINE)
    assignment = match_one(recipient_carrier=Carrier.SMART, client_ref="c1", recipient="+85510999002")
    assert (assignment.provider_id, assignment.sticky) == (fallback.pk, False)
    release(assignment)
    # Excluded (for example, the sticky provider failed this very message before): not chosen either.
    Provider.objects.filter(pk=sticky.pk).update(availability=Availability.ONLINE)
    assignment = match_one(
        recipient_carrier=Carrier.SMART, client_ref="c1", recipient="+85510999002", exclude_provider_ids=[sticky.pk]
    )
    assert assignment.provider_id == fallback.pk


@override_settings(PROVIDER_MATCH_POOL_SIZE=1)
def test_sticky_sender_is_forgotten_after_its_days_and_can_be_turned_off():
    sticky = provider_with_sim(Carrier.SMART)
    other = provider_with_sim(Carrier.SMART)
    sticky_sim = sticky.sims.get()
    Sim.objects.filter(pk=sticky_sim.pk).update(next_turn_at=timezone.now() + timedelta(hours=1))
    old = timezone.now() - timedelta(days=31)
    remembered = {"client_ref": "c", "recipient": "+85510999003", "provider_id": sticky.pk, "sim_id": sticky_sim.pk}
    sticky_sender_remember(**remembered, now=old)
    assignment = match_one(recipient_carrier=Carrier.SMART, client_ref="c", recipient="+85510999003")
    assert (assignment.provider_id, assignment.sticky) == (other.pk, False)
    release(assignment)
    sticky_sender_remember(**remembered)
    with override_settings(PROVIDER_STICKY_SENDER=False):
        assignment = match_one(recipient_carrier=Carrier.SMART, client_ref="c", recipient="+85510999003")
    assert assignment.sticky is False
    release(assignment)
    assert match_one(recipient_carrier=Carrier.SMART, client_ref="c", recipient="+85510999003").sticky is True


def chi_square(observed: list[int], expected: list[float]) -> float:
    return sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))


# Fairness is about the pick, not the caps: lift them so hundreds of picks fit in one hour.
uncapped = override_settings(
    PROVIDER_SIM_HOURLY_CAP=100_000,
    PROVIDER_SIM_HOURLY_CAP_MAX=100_000,
    PROVIDER_SIM_DAILY_CAP=100_000,
    PROVIDER_SIM_DAILY_CAP_MAX=100_000,
)

# Hundreds of picks, each committed as in production (a transactional test): inside one test transaction every pick
# updated the same SIM and provider rows again, and on PostgreSQL each update then walks all the row versions the
# open transaction keeps alive — the picks slowed down quadratically (190 s for 1,200 on a loaded machine).
many_picks = pytest.mark.django_db(transaction=True)

# 99.99th percentiles of the chi-square distribution, by degrees of freedom: a fair picker fails 1 run in 10,000.
CHI_SQUARE_9999 = {1: 15.14, 5: 25.74, 11: 32.91}


@pytest.mark.parametrize("providers", [6, 12], ids=["all-in-one-pool", "more-than-a-pool"])
@override_settings(PROVIDER_MATCH_POOL_SIZE=8)
@uncapped
@many_picks
def test_equal_providers_get_equal_shares_over_many_picks(providers):
    ids = [provider_with_sim(Carrier.SMART).pk for _ in range(providers)]
    picks = 100 * providers
    counts = Counter()
    # One moment for every pick: on PostgreSQL, on a busy machine, hundreds of picks in the test's one transaction
    # can take longer than the heartbeats stay fresh.
    now = timezone.now()
    for _ in range(picks):
        assignment = match_one(recipient_carrier=Carrier.SMART, now=now)
        counts[assignment.provider_id] += 1
        release(assignment)
    observed = [counts[provider_id] for provider_id in ids]
    # Each provider got work, and the spread is what a uniform draw would give (or tighter: turns rotate).
    assert min(observed) > 0
    assert chi_square(observed, [picks / providers] * providers) < CHI_SQUARE_9999[providers - 1]


def smart_picks(picks: int) -> Counter:
    """How many of `picks` matches of a Smart recipient each provider won (each job released at once)."""
    counts: Counter = Counter()
    now = timezone.now()  # one moment for every pick, as above
    for _ in range(picks):
        assignment = match_one(recipient_carrier=Carrier.SMART, now=now)
        counts[assignment.provider_id] += 1
        release(assignment)
    return counts


@uncapped
@many_picks
def test_better_providers_get_proportionally_more_work():
    strong = provider_with_sim(Carrier.SMART, reputation=800)
    weak = provider_with_sim(Carrier.SMART, reputation=400)
    picks = 900
    counts = smart_picks(picks)
    # Twice the quality, twice the share: 600 / 300 expected.
    observed = [counts[strong.pk], counts[weak.pk]]
    assert chi_square(observed, [picks * 2 / 3, picks / 3]) < CHI_SQUARE_9999[1]
    assert counts[weak.pk] > 0


def test_release_of_an_unsent_job_returns_the_sim_unit(counter_backend):
    with override_settings(PROVIDER_SIM_HOURLY_CAP=1):
        provider_with_sim(Carrier.SMART)
        assignment = match_one(recipient_carrier=Carrier.SMART)
        assert match_one(recipient_carrier=Carrier.SMART) is None  # the SIM's one unit this hour is taken
        release(assignment, sent=False)
        assert match_one(recipient_carrier=Carrier.SMART) is not None


def test_a_release_rolled_back_with_its_job_gives_nothing_back(counter_backend):
    """The job stays live when the report's transaction rolls back, so its SIM's unit must stay counted too: else
    the SIM could pass its cap."""
    with override_settings(PROVIDER_SIM_HOURLY_CAP=1):
        provider = provider_with_sim(Carrier.SMART)
        assignment = match_one(recipient_carrier=Carrier.SMART)
        windows = cap_windows(assignment.reserved_at)
        with TestCase.captureOnCommitCallbacks(execute=True):
            with transaction.atomic():
                capacity_release(
                    provider_id=assignment.provider_id,
                    sim_id=assignment.sim_id,
                    reserved_at=assignment.reserved_at,
                    sms_sent=False,
                )
                transaction.set_rollback(True)
        assert cap_counter().usage(sim_ids=[assignment.sim_id], windows=windows)[assignment.sim_id].hour == 1
        assert Provider.objects.get(pk=provider.pk).jobs_in_flight == 1
        assert match_one(recipient_carrier=Carrier.SMART) is None
        release(assignment, sent=False)
        assert cap_counter().usage(sim_ids=[assignment.sim_id], windows=windows)[assignment.sim_id].hour == 0


@uncapped
@many_picks
def test_the_provider_score_is_the_quality_a_better_score_wins_proportionally_more_work():
    # Reputations say the opposite: the score, once computed, is what counts.
    strong = provider_with_sim(Carrier.SMART, reputation=400)
    weak = provider_with_sim(Carrier.SMART, reputation=800)
    provider_scores_set(scores={strong.pk: (900, {}), weak.pk: (300, {})})
    picks = 900
    counts = smart_picks(picks)
    # Three times the score, three times the share: 675 / 225 expected.
    observed = [counts[strong.pk], counts[weak.pk]]
    assert chi_square(observed, [picks * 3 / 4, picks / 4]) < CHI_SQUARE_9999[1]
    assert counts[weak.pk] > 0
