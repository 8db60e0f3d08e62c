"""Giving back what a reservation took, when its job ends."""

from datetime import datetime

from django.db import transaction
from django.db.models import F

from apps.providers.models import Provider, Sim
from apps.providers.services.availability import matchable_provider_filter
from apps.providers.services.caps import cap_counter, cap_windows


@transaction.atomic
def capacity_release(*, provider_id: int, sim_id: int, reserved_at: datetime, sms_sent: bool) -> None:
    """Give back what `providers_match_batch` reserved, when the job ends: the provider's in-flight slot always;
    the SIM's hour and day units only if the SMS was never sent (a sent one counts against the carrier's limits).

    Call exactly once per assignment, from the job's own state change (messaging's conditional update makes that
    once), inside that change's transaction. Not audited: the job's transition is the record.

    Redis counters are given back only once that transaction commits: Redis does not roll back, and a refund that
    outlived a rolled-back report would leave the job live with its unit returned, so its SIM could pass its cap.
    Should the refund fail after the commit, the unit stays counted until its window ends (the safe side).
    """
    Provider.objects.filter(pk=provider_id, jobs_in_flight__gt=0).update(jobs_in_flight=F("jobs_in_flight") - 1)
    # Room again: the provider's usable SIMs go back into matching (a no-op unless it was full).
    Sim.objects.filter(
        matchable_provider_filter(), provider_id=provider_id, matchable=False, active=True, ready=True
    ).update(matchable=True)
    if not sms_sent:
        Sim.objects.filter(pk=sim_id, capped_until__isnull=False).update(capped_until=None)
        counter, windows = cap_counter(), cap_windows(reserved_at)
        if counter.transactional:
            counter.release_many(sim_ids=[sim_id], windows=windows)  # committed or rolled back with the job
        else:
            transaction.on_commit(lambda: counter.release_many(sim_ids=[sim_id], windows=windows), robust=True)
