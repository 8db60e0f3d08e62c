"""How good a candidate is, and how the pick spreads load over the SIMs.

Each SIM has a fair-share turn (`next_turn_at`). The pool query takes the PROVIDER_MATCH_POOL_SIZE earliest turns;
one of them is drawn at random, weighted by its score (provider quality — the provider score incentives computes,
once it has — x current load x heartbeat freshness); the
chosen SIM's turn moves back by a stride of 3600 / hourly-cap seconds divided by its provider's quality. So over
many picks every eligible SIM gets work, better providers get proportionally more, a SIM's sends are paced across
the hour instead of bunched, and the query is an index walk of a few rows, flat in the number of providers.
(Least-loaded alone would always pick the same idle providers in a quiet hour; plain weighted random over all
candidates would need to read them all.)
"""

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from apps.providers.models import REPUTATION_MAX, SCORE_MAX
from apps.providers.selectors import Candidate
from apps.providers.services.caps import Caps, sim_caps

QUALITY_FLOOR = 0.02
# A heartbeat as old as the offline threshold halves a candidate's weight; fresher ones count fully.
FRESHNESS_FLOOR = 0.5

_random = random.Random()


def provider_quality(*, reputation: int, delivered: int, failed: int) -> float:
    """0-1: reputation share times the delivery success rate (smoothed, so a newcomer starts at one half)."""
    success = (delivered + 1) / (delivered + failed + 2)
    return max(reputation / REPUTATION_MAX * success, QUALITY_FLOOR)


def _candidate_quality(candidate: Candidate) -> float:
    # The provider score (incentives computes it by beat from reputation, verified deliveries, latency, uptime and
    # strikes) is the quality once it exists; until then, reputation x success rate.
    if candidate.provider_score is not None:
        return max(candidate.provider_score / SCORE_MAX, QUALITY_FLOOR)
    return provider_quality(
        reputation=candidate.provider_reputation,
        delivered=candidate.provider_jobs_delivered,
        failed=candidate.provider_jobs_failed,
    )


def candidate_weight(candidate: Candidate, *, now: datetime) -> float:
    """A candidate's score: quality x spare load x heartbeat freshness."""
    load = 1 - candidate.provider_jobs_in_flight / settings.PROVIDER_MAX_JOBS_IN_FLIGHT
    interval = settings.PROVIDER_HEARTBEAT_INTERVAL
    limit = interval * settings.PROVIDER_OFFLINE_AFTER_MISSED_HEARTBEATS
    age = (now - candidate.provider_last_heartbeat_at).total_seconds()
    freshness = 1.0
    if age > interval and limit > interval:
        freshness = max(FRESHNESS_FLOOR, 1 - (1 - FRESHNESS_FLOOR) * (age - interval) / (limit - interval))
    return max(_candidate_quality(candidate) * load * freshness, 1e-9)


def weighted_order(
    candidates: list[Candidate], *, now: datetime, weight: Callable[[Candidate], float] | None = None
) -> list[Candidate]:
    """The candidates in a weighted random order without replacement: the first is a draw proportional to weight,
    the rest are the fallbacks should its capacity be gone (Efraimidis-Spirakis: sort by u ** (1 / w)). `weight`:
    `candidate_weight` at `now` unless given (a batch passes its own, which remembers each candidate's)."""
    weigh = weight or (lambda candidate: candidate_weight(candidate, now=now))
    keyed = [(math.log(1 - _random.random()) / weigh(c), c) for c in candidates]
    return [c for _, c in sorted(keyed, key=lambda pair: pair[0], reverse=True)]


@dataclass(frozen=True)
class Plan:
    """What reserving a candidate now would ask for: its caps now, and its next turn."""

    caps: Caps
    turn: datetime


def reservation_plan(candidate: Candidate, *, now: datetime) -> Plan:
    caps = sim_caps(
        created_at=candidate.created_at,
        hourly_cap=candidate.hourly_cap,
        daily_cap=candidate.daily_cap,
        now=now,
        cooldown_level=candidate.cooldown_level,
        last_block_at=candidate.last_block_at,
    )
    stride = timedelta(
        seconds=max(
            3600 / settings.PROVIDER_SIM_HOURLY_CAP / _candidate_quality(candidate),
            settings.PROVIDER_SIM_MIN_SECONDS_BETWEEN_SENDS,
        )
    )
    return Plan(caps=caps, turn=max(now, candidate.next_turn_at) + stride)
