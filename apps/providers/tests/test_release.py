"""Giving capacity back when a job ends: a phone's batch (one provider) takes one prepared statement on PostgreSQL,
which must put SIMs back into matching exactly when `matchable_provider_filter` (the ORM form, for several
providers and SQLite) says the provider is matchable."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.providers.choices import Availability, Carrier, ProviderStatus
from apps.providers.models import Provider, Sim
from apps.providers.services.availability import matchable_provider_filter
from apps.providers.services.matching import Release, capacities_release
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db

# Each case: the provider's row before the release, as changed from a matchable provider holding two jobs.
CASES = {
    "matchable": {},
    "suspended": {"status": ProviderStatus.SUSPENDED},
    "offline": {"availability": Availability.OFFLINE},
    "low reputation": {"reputation": 10},
    "unresponsive": {"unresponsive_since": timezone.now() - timedelta(minutes=5)},
    "still full after the release": {"jobs_in_flight": 4},
    "full until the release": {"jobs_in_flight": 3},
    "nothing to give back": {"jobs_in_flight": 0},
}


@pytest.mark.parametrize("case", list(CASES))
def test_release_one_provider_agrees_with_matchable_filter(settings, case):
    settings.PROVIDER_MAX_JOBS_IN_FLIGHT = 3
    settings.PROVIDER_MIN_REPUTATION = 100
    provider = provider_with_sim(Carrier.CELLCARD)
    Provider.objects.filter(pk=provider.pk).update(
        status=ProviderStatus.ACTIVE, availability=Availability.ONLINE, reputation=800, unresponsive_since=None
    )
    Provider.objects.filter(pk=provider.pk).update(**{"jobs_in_flight": 2, **CASES[case]})
    before = Provider.objects.get(pk=provider.pk).jobs_in_flight
    sim = provider.sims.get()
    Sim.objects.filter(pk=sim.pk).update(matchable=False, active=True, ready=True)
    with CaptureQueriesContext(connection) as queries:
        capacities_release(
            releases=[Release(provider_id=provider.pk, sim_id=sim.pk, reserved_at=timezone.now(), sms_sent=True)]
        )
    if connection.vendor == "postgresql":
        assert len(queries) == 1, [query["sql"] for query in queries]
    assert Provider.objects.get(pk=provider.pk).jobs_in_flight == max(before - 1, 0)
    expected = Provider.objects.filter(matchable_provider_filter(prefix=""), pk=provider.pk).exists()
    assert Sim.objects.get(pk=sim.pk).matchable is expected, case


def test_release_one_provider_leaves_inactive_and_unready_sims_out(settings):
    settings.PROVIDER_MAX_JOBS_IN_FLIGHT = 3
    provider = provider_with_sim(Carrier.CELLCARD)
    Provider.objects.filter(pk=provider.pk).update(jobs_in_flight=3)
    sim = provider.sims.get()
    Sim.objects.filter(pk=sim.pk).update(matchable=False, active=True, ready=False)
    capacities_release(
        releases=[Release(provider_id=provider.pk, sim_id=sim.pk, reserved_at=timezone.now(), sms_sent=True)]
    )
    assert not Sim.objects.get(pk=sim.pk).matchable
    assert Provider.objects.get(pk=provider.pk).jobs_in_flight == 2
