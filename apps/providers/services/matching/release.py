"""Giving back what a reservation took, when its job ends."""

from collections import Counter as Tally
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest

from apps.core.prepared import prepared_cursor
from apps.providers.choices import Availability, ProviderStatus
from apps.providers.models import Provider, Sim
from apps.providers.services.availability import matchable_provider_filter
from apps.providers.services.caps import cap_counter, cap_windows


@dataclass(frozen=True, slots=True)
class Release:
    """What one ended job gives back: its provider's slot, and its SIM's units when the SMS was never sent."""

    provider_id: int
    sim_id: int
    reserved_at: datetime
    sms_sent: bool


def capacity_release(*, provider_id: int, sim_id: int, reserved_at: datetime, sms_sent: bool) -> None:
    """Give back what `providers_match_batch` reserved, when the job ends: the provider's in-flight slot always;
    the SIM's hour and day units only if the SMS was never sent (a sent one counts against the carrier's limits).
    `capacities_release` for one job."""
    capacities_release(
        releases=[Release(provider_id=provider_id, sim_id=sim_id, reserved_at=reserved_at, sms_sent=sms_sent)]
    )


# No savepoint: nothing here recovers from a failed statement, so inside the caller's transaction (where it always
# runs: a job's end) a failure rolls back with the caller's work anyway; alone, this is still one transaction. It
# spares two round trips (SAVEPOINT, RELEASE) on every delivery report.
@transaction.atomic(savepoint=False)
def capacities_release(*, releases: Sequence[Release]) -> None:
    """Give back what several ended jobs reserved (a phone's batch of reports): per provider, its slots in one
    UPDATE and its SIMs back into matching in one more; the SIMs of the jobs never sent, their units.

    Call exactly once per assignment, from the job's own state change (messaging's conditional update makes that
    once), inside that change's transaction. Not audited: the job's transition is the record.

    Redis counters are given back only once that transaction commits: Redis does not roll back, and a refund that
    outlived a rolled-back report would leave the job live with its unit returned, so its SIM could pass its cap.
    Should the refund fail after the commit, the unit stays counted until its window ends (the safe side).
    """
    slots = Tally(release.provider_id for release in releases)
    if len(slots) == 1 and connection.vendor == "postgresql":
        # A phone's batch (every delivery report): one provider, both moves in one prepared statement.
        ((provider_id, count),) = slots.items()
        _release_one_provider(provider_id=provider_id, count=count)
    else:
        for provider_id, count in sorted(slots.items()):  # the same lock order in every request
            # Never below zero, as one release at a time would stop at zero.
            Provider.objects.filter(pk=provider_id, jobs_in_flight__gt=0).update(
                jobs_in_flight=Greatest(F("jobs_in_flight") - count, 0)
            )
        # Room again: the providers' usable SIMs go back into matching (a no-op unless one was full).
        Sim.objects.filter(
            matchable_provider_filter(), provider_id__in=sorted(slots), matchable=False, active=True, ready=True
        ).update(matchable=True)
    unsent = [release for release in releases if not release.sms_sent]
    if not unsent:
        return
    Sim.objects.filter(pk__in={release.sim_id for release in unsent}, capped_until__isnull=False).update(
        capped_until=None
    )
    counter = cap_counter()
    # One unit per job: a SIM named twice in the same windows gives back two.
    by_windows: dict[tuple[int, int], tuple[Any, list[int]]] = {}
    for release in unsent:
        windows = cap_windows(release.reserved_at)
        by_windows.setdefault((windows.hour_key, windows.day_key), (windows, []))[1].append(release.sim_id)
    for windows, sim_ids in by_windows.values():
        if counter.transactional:
            counter.release_many(sim_ids=sim_ids, windows=windows)  # committed or rolled back with the job
        else:
            transaction.on_commit(
                lambda sim_ids=sim_ids, windows=windows: counter.release_many(sim_ids=sim_ids, windows=windows),
                robust=True,
            )


# `capacities_release` for one provider on PostgreSQL, as one statement: the slots given back (never below zero),
# then its usable SIMs back into matching when the provider is matchable with the count it is left with. The outer
# UPDATE reads the provider row as the statement found it (a CTE's writes are not visible to the rest of its
# statement), so the count it checks is the CTE's result, or the row's own when nothing was given back (already 0).
# The provider's conditions are `matchable_provider_filter`'s, which the ORM form above uses: keep the two the same
# (`test_release_one_provider_agrees_with_matchable_filter`).
_RELEASE_ONE_PROVIDER = """
WITH released AS (
    UPDATE providers_provider SET jobs_in_flight = GREATEST(jobs_in_flight - %(count)s, 0)
     WHERE id = %(provider)s AND jobs_in_flight > 0
    RETURNING jobs_in_flight
)
UPDATE providers_sim AS sim SET matchable = true
  FROM providers_provider AS provider
 WHERE provider.id = %(provider)s AND sim.provider_id = provider.id
   AND NOT sim.matchable AND sim.active AND sim.ready
   AND provider.status = %(status)s AND provider.availability = %(availability)s
   AND provider.reputation >= %(min_reputation)s AND provider.unresponsive_since IS NULL
   AND coalesce((SELECT jobs_in_flight FROM released), provider.jobs_in_flight) < %(max_in_flight)s
"""


def _release_one_provider(*, provider_id: int, count: int) -> None:
    with prepared_cursor() as cursor:  # the same text for every report: planned once per connection
        cursor.execute(
            _RELEASE_ONE_PROVIDER,
            {
                "provider": provider_id,
                "count": count,
                "status": ProviderStatus.ACTIVE.value,
                "availability": Availability.ONLINE.value,
                "min_reputation": settings.PROVIDER_MIN_REPUTATION,
                "max_in_flight": settings.PROVIDER_MAX_JOBS_IN_FLIGHT,
            },
        )
