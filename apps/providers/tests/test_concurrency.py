"""Concurrent dispatches never over-book a SIM or a provider: many threads, each with its own PostgreSQL
connection, match at the same moment (released together by a barrier)."""

import threading
from collections import Counter

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.test import override_settings

from apps.providers.choices import Carrier
from apps.providers.models import Provider, Sim
from apps.providers.selectors import sim_usage
from apps.providers.services import sticky_sender_remember
from apps.providers.services.matching import MatchRequest, providers_match_batch
from apps.providers.tests.factories import match_one, provider_with_sim, use_up_with_a_stale_hint

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
            results.append(match_one(recipient_carrier=Carrier.SMART))
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
    use_up_with_a_stale_hint(full)  # matching still tries the full SIM first, and its counter refuses
    with transaction.atomic():
        assignment = match_one(recipient_carrier=Carrier.SMART)
        assert assignment.provider_id == free.pk
        # Still inside the transaction: the refused provider's row is neither locked nor changed.
        assert lockable_elsewhere(full.pk)
        assert not lockable_elsewhere(free.pk)
    full.refresh_from_db()
    assert full.jobs_in_flight == 0


@override_settings(PROVIDER_MAX_JOBS_IN_FLIGHT=2, PROVIDER_SIM_HOURLY_CAP=3)
def test_concurrent_batches_never_over_book_and_never_deadlock(counter_backend):
    # 5 providers x 2 jobs = 10 units of capacity; SIMs of their own cap 3. Six batches of 4 compete for them,
    # each in a transaction that also writes a row referencing the providers it got (as the jobs do) and commits.
    providers = [provider_with_sim(Carrier.SMART) for _ in range(5)]
    barrier = threading.Barrier(6)
    results: list = []
    errors: list = []

    def work() -> None:
        try:
            barrier.wait(timeout=30)
            with transaction.atomic():
                batch = providers_match_batch([MatchRequest(recipient_carrier=Carrier.SMART) for _ in range(4)])
                for assignment in batch.assignments:
                    if assignment:
                        sticky_sender_remember(
                            client_ref=f"c{threading.get_ident()}-{len(results)}",
                            recipient=f"+855{assignment.sim_id:09d}",
                            provider_id=assignment.provider_id,
                            sim_id=assignment.sim_id,
                        )
                results.extend(assignment for assignment in batch.assignments if assignment)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    per_provider = Counter(assignment.provider_id for assignment in results)
    assert all(count <= 2 for count in per_provider.values())
    jobs_in_flight = dict(Provider.objects.values_list("pk", "jobs_in_flight"))
    # What the batches say they reserved is exactly what the rows say: nothing undone behind an assignment.
    assert {provider.pk: per_provider.get(provider.pk, 0) for provider in providers} == jobs_in_flight
    usage = sim_usage(list(Sim.objects.all()))
    per_sim = Counter(assignment.sim_id for assignment in results)
    assert {sim_id: used.hour for sim_id, used in usage.items()} == {sim_id: per_sim.get(sim_id, 0) for sim_id in usage}
