"""Matching: which provider's SIM sends a message, with its capacity reserved atomically.

Candidates are SIMs on the recipient's carrier whose provider is active, online with a fresh heartbeat, above the
minimum reputation and under its in-flight limit, and whose caps are not known to be reached (`sims_for_matching`).

How the pick spreads load: each SIM has a fair-share turn (`next_turn_at`). The query takes the
PROVIDER_MATCH_POOL_SIZE earliest turns; one of them is drawn at random, weighted by its score (provider quality
x current load x heartbeat freshness); the chosen SIM's turn moves back by a stride of 3600 / hourly-cap seconds
divided by its provider's quality. So over many picks every eligible SIM gets work, better providers get
proportionally more, a SIM's sends are paced across the hour instead of bunched, and the query is an index walk
of a few rows, flat in the number of providers. (Least-loaded alone would always pick the same idle providers in
a quiet hour; plain weighted random over all candidates would need to read them all.)

Reservation: in one savepoint the provider's in-flight count is incremented only if under the limit (a conditional
UPDATE), the SIM's turn is moved only if it is still matchable, and the SIM's hourly and daily counters are
incremented only if both are under their caps (a Lua script on Redis, or a conditional UPDATE). Any refusal rolls
the savepoint back and the next candidate is tried. Row locks are always taken provider, then SIM, then counter.
"""

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.providers.choices import Availability, Carrier, MatchPriority, ProviderStatus
from apps.providers.models import REPUTATION_MAX, Provider, Sim, StickySender
from apps.providers.selectors import Candidate, sims_for_matching, sims_of_sticky_sender
from apps.providers.services.availability import matchable_provider_filter
from apps.providers.services.caps import CapCounter, Windows, cap_counter, cap_windows, capped_until, sim_caps

QUALITY_FLOOR = 0.02
# A heartbeat as old as the offline threshold halves a candidate's weight; fresher ones count fully.
FRESHNESS_FLOOR = 0.5
# A dispatch that loses every race for its first pool tries fresh pools this many times before giving up.
MATCH_ROUNDS = 3

_random = random.Random()


@dataclass(frozen=True)
class Assignment:
    """A reserved SIM for one message. The caller keeps it (at least provider, SIM and `reserved_at`) to release
    the capacity through `capacity_release` when the job ends."""

    provider_id: int
    sim_id: int
    sender: str
    carrier: str
    cross_carrier: bool
    sticky: bool
    reserved_at: datetime


class _NoRoom(Exception):
    """The candidate lost a race for its last unit of capacity; the savepoint is rolled back."""


def provider_quality(*, reputation: int, delivered: int, failed: int) -> float:
    """0-1: reputation share times the delivery success rate (smoothed, so a newcomer starts at one half)."""
    success = (delivered + 1) / (delivered + failed + 2)
    return max(reputation / REPUTATION_MAX * success, QUALITY_FLOOR)


def candidate_weight(candidate: Candidate, *, now: datetime) -> float:
    """A candidate's score: quality x spare load x heartbeat freshness."""
    quality = provider_quality(
        reputation=candidate.provider_reputation,
        delivered=candidate.provider_jobs_delivered,
        failed=candidate.provider_jobs_failed,
    )
    load = 1 - candidate.provider_jobs_in_flight / settings.PROVIDER_MAX_JOBS_IN_FLIGHT
    interval = settings.PROVIDER_HEARTBEAT_INTERVAL
    limit = interval * settings.PROVIDER_OFFLINE_AFTER_MISSED_HEARTBEATS
    age = (now - candidate.provider_last_heartbeat_at).total_seconds()
    freshness = 1.0
    if age > interval and limit > interval:
        freshness = max(FRESHNESS_FLOOR, 1 - (1 - FRESHNESS_FLOOR) * (age - interval) / (limit - interval))
    return max(quality * load * freshness, 1e-9)


def _weighted_order(candidates: list[Candidate], *, now: datetime) -> list[Candidate]:
    # Efraimidis-Spirakis: sorting by u ** (1 / w) gives a weighted random order without replacement; its first
    # element is a draw proportional to weight, the rest are the fallbacks if that one's capacity is gone.
    keyed = [(math.log(1 - _random.random()) / candidate_weight(c, now=now), c) for c in candidates]
    return [c for _, c in sorted(keyed, key=lambda pair: pair[0], reverse=True)]


@transaction.atomic
def provider_match(
    *,
    recipient_carrier: str,
    exclude_provider_ids: Iterable[int] = (),
    priority: str = MatchPriority.NORMAL,
    client_ref: str = "",
    recipient: str = "",
    allow_cross_carrier: bool | None = None,
    now: datetime | None = None,
) -> Assignment | None:
    """Pick and reserve a SIM for a message to a subscriber of `recipient_carrier`, or None if there is no capacity
    (the caller keeps the message waiting and tries again later; it is not failed).

    Order: the sticky sender (the provider who last delivered to `recipient` for `client_ref`, if enabled and
    eligible); then on-net SIMs; then, unless `allow_cross_carrier` is False (by default it is False for low
    priority: bulk traffic waits for cheaper on-net capacity), SIMs on any other carrier, marked cross-carrier.
    `exclude_provider_ids` are never chosen: earlier attempts for this message, providers a blacklist names.
    Not audited: a routing decision per message; messaging's job records it.
    """
    now = now or timezone.now()
    excluded = set(exclude_provider_ids)
    if allow_cross_carrier is None:
        allow_cross_carrier = priority != MatchPriority.LOW
    counter, windows = cap_counter(), cap_windows(now)
    capped: dict[int, datetime] = {}
    transaction.on_commit(lambda: _remember_capped(capped))
    context = {"now": now, "counter": counter, "windows": windows, "capped": capped}

    if settings.PROVIDER_STICKY_SENDER and client_ref and recipient:
        assignment = _match_sticky(recipient_carrier, client_ref, recipient, excluded, **context)
        if assignment:
            return assignment
    assignment = _match_pool([recipient_carrier], excluded, cross_carrier=False, **context)
    if assignment is None and allow_cross_carrier:
        others = [carrier for carrier in Carrier.values if carrier != recipient_carrier]
        assignment = _match_pool(others, excluded, cross_carrier=True, **context)
    return assignment


def _match_sticky(
    carrier: str, client_ref: str, recipient: str, excluded: set[int], **context: Any
) -> Assignment | None:
    candidates = sims_of_sticky_sender(
        client_ref=client_ref,
        recipient=recipient,
        carrier=carrier,
        now=context["now"],
        remembered_after=context["now"] - timedelta(days=settings.PROVIDER_STICKY_SENDER_DAYS),
        exclude_provider_ids=excluded,
    )
    for candidate in candidates:  # the same number first, then the provider's other SIMs
        if _reserve(candidate, **context):
            return _assignment(candidate, cross_carrier=False, sticky=True, now=context["now"])
    return None


def _match_pool(carriers: list[str], excluded: set[int], *, cross_carrier: bool, **context: Any) -> Assignment | None:
    now, tried = context["now"], set()
    for _ in range(MATCH_ROUNDS):
        pool = sims_for_matching(
            carriers=carriers,
            now=now,
            limit=settings.PROVIDER_MATCH_POOL_SIZE,
            exclude_provider_ids=excluded,
            exclude_sim_ids=tried,
        )
        if not pool:
            return None
        for candidate in _weighted_order(pool, now=now):
            if _reserve(candidate, **context):
                return _assignment(candidate, cross_carrier=cross_carrier, sticky=False, now=now)
            tried.add(candidate.id)
    return None


def _reserve(
    candidate: Candidate, *, now: datetime, counter: CapCounter, windows: Windows, capped: dict[int, datetime]
) -> bool:
    caps = sim_caps(
        created_at=candidate.created_at, hourly_cap=candidate.hourly_cap, daily_cap=candidate.daily_cap, now=now
    )
    quality = provider_quality(
        reputation=candidate.provider_reputation,
        delivered=candidate.provider_jobs_delivered,
        failed=candidate.provider_jobs_failed,
    )
    stride = timedelta(seconds=3600 / settings.PROVIDER_SIM_HOURLY_CAP / quality)
    turn = max(now, candidate.next_turn_at) + stride
    try:
        with transaction.atomic():
            took_slot = Provider.objects.filter(
                pk=candidate.provider_id,
                status=ProviderStatus.ACTIVE,
                availability=Availability.ONLINE,
                jobs_in_flight__lt=settings.PROVIDER_MAX_JOBS_IN_FLIGHT,
            ).update(jobs_in_flight=F("jobs_in_flight") + 1)
            if not took_slot:
                raise _NoRoom
            if not Sim.objects.filter(pk=candidate.id, matchable=True).update(next_turn_at=turn, last_assigned_at=now):
                raise _NoRoom  # removed or taken out of matching since the query read it
            reservation = counter.reserve(sim_id=candidate.id, caps=caps, windows=windows)
            full_until = None
            if reservation.usage is not None:
                full_until = capped_until(caps=caps, usage=reservation.usage, windows=windows)
            if not reservation.reserved:
                capped[candidate.id] = full_until or windows.hour_ends_at
                raise _NoRoom
            if full_until:
                # That was the last unit in this window: skip the SIM in queries, and queue it behind the window.
                Sim.objects.filter(pk=candidate.id).update(capped_until=full_until, next_turn_at=max(turn, full_until))
            if candidate.provider_jobs_in_flight + 1 >= settings.PROVIDER_MAX_JOBS_IN_FLIGHT:
                # The provider is (very likely) full: out of the index until a release, so that when everyone is
                # busy a match does not walk every busy provider's SIMs. Had a release come in meanwhile, the
                # next release or sweep puts the SIMs back.
                Sim.objects.filter(provider_id=candidate.provider_id, matchable=True).update(matchable=False)
    except _NoRoom:
        return False
    return True


def _remember_capped(capped: dict[int, datetime]) -> None:
    # After commit and one short statement per SIM, so a refused attempt never holds a SIM's row lock while the
    # matcher goes on to lock other rows (no lock-order cycles between concurrent matchers).
    for sim_id, until in capped.items():
        Sim.objects.filter(pk=sim_id).update(capped_until=until)


def _assignment(candidate: Candidate, *, cross_carrier: bool, sticky: bool, now: datetime) -> Assignment:
    return Assignment(
        provider_id=candidate.provider_id,
        sim_id=candidate.id,
        sender=candidate.msisdn,
        carrier=candidate.carrier,
        cross_carrier=cross_carrier,
        sticky=sticky,
        reserved_at=now,
    )


@transaction.atomic
def capacity_release(*, provider_id: int, sim_id: int, reserved_at: datetime, sms_sent: bool) -> None:
    """Give back what `provider_match` reserved, when the job ends: the provider's in-flight slot always; the SIM's
    hour and day units only if the SMS was never sent (a sent one counts against the carrier's limits).

    Call exactly once per assignment, from the job's own state change (messaging's conditional update makes that
    once). Not audited: the job's transition is the record.
    """
    Provider.objects.filter(pk=provider_id, jobs_in_flight__gt=0).update(jobs_in_flight=F("jobs_in_flight") - 1)
    # Room again: the provider's usable SIMs go back into matching (a no-op unless it was full).
    Sim.objects.filter(
        matchable_provider_filter(), provider_id=provider_id, matchable=False, active=True, ready=True
    ).update(matchable=True)
    if not sms_sent:
        Sim.objects.filter(pk=sim_id, capped_until__isnull=False).update(capped_until=None)
        cap_counter().release(sim_id=sim_id, windows=cap_windows(reserved_at))


def sticky_sender_remember(
    *, client_ref: str, recipient: str, provider_id: int, sim_id: int, now: datetime | None = None
) -> None:
    """Remember who delivered to `recipient` for `client_ref` (messaging calls this on a confirmed delivery).

    An upsert, so it is safe to repeat. Not audited: a routing hint derived from a recorded delivery.
    """
    StickySender.objects.bulk_create(
        [
            StickySender(
                client_ref=client_ref,
                recipient=recipient,
                provider_id=provider_id,
                sim_id=sim_id,
                updated_at=now or timezone.now(),
            )
        ],
        update_conflicts=True,
        unique_fields=["client_ref", "recipient"],
        update_fields=["provider", "sim", "updated_at"],
    )


def sticky_senders_prune(*, now: datetime | None = None) -> int:
    """Forget sticky senders older than PROVIDER_STICKY_SENDER_DAYS (matching ignores them anyway)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.PROVIDER_STICKY_SENDER_DAYS)
    deleted, _ = StickySender.objects.filter(updated_at__lt=cutoff).delete()
    return deleted
