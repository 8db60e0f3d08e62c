"""Concurrent dispatches never over-book a SIM or a provider: many threads, each with its own PostgreSQL
connection, match at the same moment (released together by a barrier)."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.test import override_settings
from django.utils import timezone

from apps.providers.choices import Carrier
from apps.providers.models import Provider, Sim
from apps.providers.selectors import sim_usage
from apps.providers.services import capacity_release, provider_match
from apps.providers.tests.factories import provider_with_sim

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks under real concurrency: PostgreSQL"),
]
WORKERS = 12


def match_concurrently(workers: int = WORKERS) -> list:
    barrier = threading.Barrier(workers)
    results: list = []
    errors: list = []

    def work() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(provider_match(recipient_carrier=Carrier.SMART))
        except Exception as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return [result for result in results if result is not None]


@override_settings(PROVIDER_MAX_JOBS_IN_FLIGHT=3)
def test_a_provider_is_never_given_more_jobs_than_its_limit():
    provider = provider_with_sim(Carrier.SMART)
    assignments = match_concurrently()
    assert len(assignments) == 3
    provider.refresh_from_db()
    assert provider.jobs_in_flight == 3


@override_settings(PROVIDER_MAX_JOBS_IN_FLIGHT=100, PROVIDER_SIM_HOURLY_CAP=5)
def test_a_sim_is_never_given_more_than_its_cap(counter_backend):
    provider = provider_with_sim(Carrier.SMART)
    assignments = match_concurrently()
    assert len(assignments) == 5
    sim = provider.sims.get()
    usage = sim_usage([sim])[sim.pk]
    assert (usage.hour, usage.day) == (5, 5)
    provider.refresh_from_db()
    assert provider.jobs_in_flight == 5  # a refused SIM reservation gave the provider slot back


@override_settings(PROVIDER_MAX_JOBS_IN_FLIGHT=2)
def test_capacity_across_many_providers_is_used_exactly(counter_backend):
    providers = [provider_with_sim(Carrier.SMART) for _ in range(4)]
    assignments = match_concurrently(16)
    per_provider = Counter(assignment.provider_id for assignment in assignments)
    # 4 providers x 2 jobs: every unit of capacity is used, none twice.
    assert len(assignments) == 8
    assert per_provider == {provider.pk: 2 for provider in providers}
    assert set(Provider.objects.values_list("jobs_in_flight", flat=True)) == {2}


def lockable_elsewhere(provider_id: int) -> bool:
    """Whether another connection can lock the provider's row right now, without waiting."""
    outcome: list[bool] = []

    def work() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT id FROM providers_provider WHERE id = %s FOR UPDATE NOWAIT", [provider_id])
            outcome.append(True)
        except OperationalError:
            outcome.append(False)
        finally:
            connections.close_all()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=30)
    return outcome == [True]


@override_settings(PROVIDER_SIM_HOURLY_CAP=1, PROVIDER_MATCH_POOL_SIZE=1)
def test_a_refused_attempt_gives_back_its_locks_before_the_next(counter_backend):
    full = provider_with_sim(Carrier.SMART)
    free = provider_with_sim(Carrier.SMART)
    full_sim = full.sims.get()
    early = timezone.now() - timedelta(hours=1)
    Sim.objects.filter(pk=full_sim.pk).update(next_turn_at=early)
    used = provider_match(recipient_carrier=Carrier.SMART)
    assert used.provider_id == full.pk  # its one unit this hour
    capacity_release(provider_id=full.pk, sim_id=full_sim.pk, reserved_at=used.reserved_at, sms_sent=True)
    # A stale hint: matching still tries the full SIM first, and its counter refuses.
    Sim.objects.filter(pk=full_sim.pk).update(capped_until=None, next_turn_at=early)
    with transaction.atomic():
        assignment = provider_match(recipient_carrier=Carrier.SMART)
        assert assignment.provider_id == free.pk
        # Still inside the transaction: the refused provider's row is neither locked nor changed.
        assert lockable_elsewhere(full.pk)
        assert not lockable_elsewhere(free.pk)
    full.refresh_from_db()
    assert full.jobs_in_flight == 0
