"""The batched match (`providers_match_batch`): every matching rule per request inside one batch, the in-flight
limits and caps across the batch's own reservations, a refused pick giving way to the next, and the batch's round
trips (flat in the batch size on PostgreSQL with Redis counters)."""

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.providers.choices import Carrier, MatchPriority
from apps.providers.models import Provider, Sim
from apps.providers.selectors import sim_usage
from apps.providers.services import sticky_sender_remember
from apps.providers.services.matching import MatchRequest, providers_match_batch
from apps.providers.tests.factories import ProviderFactory, SimFactory, provider_with_sim, use_up_with_a_stale_hint

pytestmark = pytest.mark.django_db


def test_each_request_keeps_its_own_exclusions_and_carrier():
    smart = [provider_with_sim(Carrier.SMART) for _ in range(3)]
    metfone = provider_with_sim(Carrier.METFONE)
    batch = providers_match_batch(
        [
            MatchRequest(recipient_carrier=Carrier.SMART, exclude_provider_ids=frozenset({smart[0].pk, smart[1].pk})),
            MatchRequest(recipient_carrier=Carrier.METFONE),
            MatchRequest(recipient_carrier=Carrier.SMART, exclude_provider_ids=frozenset({smart[2].pk})),
            # Everyone on its carrier excluded: another carrier's SIM, said to be cross-carrier.
            MatchRequest(recipient_carrier=Carrier.METFONE, exclude_provider_ids=frozenset({metfone.pk})),
        ]
    )
    first, second, third, fourth = batch.assignments
    assert first.provider_id == smart[2].pk and not first.cross_carrier
    assert (second.provider_id, second.carrier, second.cross_carrier) == (metfone.pk, Carrier.METFONE, False)
    assert third.provider_id in {smart[0].pk, smart[1].pk} and not third.cross_carrier
    assert fourth.carrier == Carrier.SMART and fourth.cross_carrier and fourth.provider_id != metfone.pk
    assert batch.contended == set()


def test_low_priority_stays_on_net_in_a_batch_unless_allowed():
    provider_with_sim(Carrier.SMART)
    low, normal, allowed = providers_match_batch(
        [
            MatchRequest(recipient_carrier=Carrier.CELLCARD, priority=MatchPriority.LOW),
            MatchRequest(recipient_carrier=Carrier.CELLCARD),
            MatchRequest(recipient_carrier=Carrier.CELLCARD, priority=MatchPriority.LOW, allow_cross_carrier=True),
        ]
    ).assignments
    assert low is None
    assert normal.cross_carrier and allowed.cross_carrier


@override_settings(PROVIDER_MAX_JOBS_IN_FLIGHT=2)
def test_in_flight_limits_hold_across_the_batch_own_reservations():
    providers = [provider_with_sim(Carrier.SMART) for _ in range(2)]
    batch = providers_match_batch([MatchRequest(recipient_carrier=Carrier.SMART) for _ in range(5)])
    assigned = [assignment for assignment in batch.assignments if assignment]
    assert len(assigned) == 4
    assert Counter(a.provider_id for a in assigned) == {providers[0].pk: 2, providers[1].pk: 2}
    assert set(Provider.objects.values_list("jobs_in_flight", flat=True)) == {2}
    # No capacity left is not contention: the fifth message waits with backoff.
    assert batch.contended == set()
    # The full providers left the index: nothing is matchable until a release.
    assert not Sim.objects.filter(matchable=True).exists()


@override_settings(PROVIDER_MAX_JOBS_IN_FLIGHT=10, PROVIDER_SIM_HOURLY_CAP=2)
def test_caps_hold_across_the_batch_own_reservations(counter_backend, django_capture_on_commit_callbacks):
    provider = provider_with_sim(Carrier.SMART)
    sim = provider.sims.get()
    with django_capture_on_commit_callbacks(execute=True):
        batch = providers_match_batch([MatchRequest(recipient_carrier=Carrier.SMART) for _ in range(4)])
    assert [a.sim_id if a else None for a in batch.assignments].count(sim.pk) == 2
    usage = sim_usage([sim])[sim.pk]
    assert (usage.hour, usage.day) == (2, 2)
    sim.refresh_from_db()
    assert sim.capped_until is not None  # its last unit this hour was taken: out of the queries until then
    provider.refresh_from_db()
    assert provider.jobs_in_flight == 2


@override_settings(PROVIDER_MAX_JOBS_IN_FLIGHT=5, PROVIDER_SIM_HOURLY_CAP=1, PROVIDER_MATCH_POOL_SIZE=1)
def test_a_pick_refused_by_its_counter_gives_way_and_nothing_else_is_counted_twice(counter_backend):
    capped = provider_with_sim(Carrier.SMART)
    free = ProviderFactory()
    free_sims = [SimFactory(provider=free, carrier=Carrier.SMART, slot=slot) for slot in range(2)]
    capped_sim = use_up_with_a_stale_hint(capped)  # the batch tries it first; its counter refuses it
    batch = providers_match_batch([MatchRequest(recipient_carrier=Carrier.SMART) for _ in range(2)])
    assert sorted(a.sim_id for a in batch.assignments) == sorted(sim.pk for sim in free_sims)
    usage = sim_usage([capped_sim, *free_sims])
    assert usage[capped_sim.pk].hour == 1  # not counted again
    assert [usage[sim.pk].hour for sim in free_sims] == [1, 1]  # each counted once, whatever rounds it took
    capped.refresh_from_db()
    free.refresh_from_db()
    assert (capped.jobs_in_flight, free.jobs_in_flight) == (0, 2)


@override_settings(PROVIDER_MATCH_POOL_SIZE=1)
def test_sticky_senders_are_looked_up_per_request():
    providers = [provider_with_sim(Carrier.SMART) for _ in range(3)]
    for index, provider in enumerate(providers[:2]):
        sim = provider.sims.get()
        Sim.objects.filter(pk=sim.pk).update(next_turn_at=timezone.now() + timedelta(hours=1))
        sticky_sender_remember(client_ref="c", recipient=f"+8551099900{index}", provider_id=provider.pk, sim_id=sim.pk)
    first, second, plain = providers_match_batch(
        [
            MatchRequest(recipient_carrier=Carrier.SMART, client_ref="c", recipient="+85510999000"),
            MatchRequest(recipient_carrier=Carrier.SMART, client_ref="c", recipient="+85510999001"),
            MatchRequest(recipient_carrier=Carrier.SMART, client_ref="other", recipient="+85510999000"),
        ]
    ).assignments
    assert (first.provider_id, first.sticky) == (providers[0].pk, True)
    assert (second.provider_id, second.sticky) == (providers[1].pk, True)
    assert (plain.provider_id, plain.sticky) == (providers[2].pk, False)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement reservation: PostgreSQL")
@override_settings(PROVIDER_MAX_JOBS_IN_FLIGHT=50)
def test_a_batch_costs_a_few_statements_whatever_its_size(counter_backend):
    for carrier in (Carrier.SMART, Carrier.METFONE):
        for _ in range(12):
            provider_with_sim(carrier)
    requests = [
        MatchRequest(recipient_carrier=carrier, client_ref="c", recipient=f"+8551099{n:04d}")
        for n, carrier in enumerate([Carrier.SMART, Carrier.METFONE] * 10)
    ]
    with CaptureQueriesContext(connection) as queries:
        batch = providers_match_batch(requests)
    assert all(batch.assignments)
    # Sticky look-up, a pool per carrier; the first reservation alone (it may wait for a lock), then the rest
    # together; the counters in Redis, or the reservations one by one with the database counters.
    expected = 6 if counter_backend == "redis" else 3 + len(requests)
    assert len(queries) <= expected, [query["sql"][:25] + query["sql"][-60:] for query in queries]
