"""Dynamic pricing: each carrier route's multiplier from demand and supply, smoothed, bounded, recomputed by beat.

- Demand: segments queued or in flight to the carrier (`messaging.selectors.segments_waiting_by_carrier`).
- Supply: an hour's capacity of the SIMs that can take work now (`providers.selectors.online_capacity_by_carrier`):
  the carrier's own SIMs for the on-net route, every other carrier's for the cross-carrier one.
- Raw: demand over INCENTIVES_SURGE_TARGET_BP of supply (×1 when the waiting work would fill that share of an hour's
  capacity), bounded by the route's floor and ceiling (`SurgeBounds`, else the settings').
- Smoothed: an exponentially weighted moving average (INCENTIVES_SURGE_ALPHA_BP of the new reading), so one burst
  does not move prices; the multiplier in force moves in whole INCENTIVES_SURGE_STEP_BP steps, and only once the
  average is three quarters of a step away from it (hysteresis), so it does not flap between two close values.
A row of `RouteMultiplier` is kept whenever the reading changes (the history staff see); the value in force is also
written to the cache `apps.incentives.surge.route_multiplier_bp` reads.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from apps.incentives.choices import Route
from apps.incentives.models import RouteMultiplier, SurgeBounds
from apps.incentives.surge import NEUTRAL_BP, surge_cache_key
from apps.messaging.selectors import segments_waiting_by_carrier
from apps.providers.choices import Carrier
from apps.providers.selectors import online_capacity_by_carrier

CARRIERS = [carrier for carrier in Carrier.values if carrier != Carrier.UNKNOWN]


def surge_bounds(*, carrier: str, route: str, now: datetime) -> tuple[int, int]:
    """Floor and ceiling (basis points) of a route at `now`: the newest valid staff row, else the settings'."""
    row = SurgeBounds.objects.valid_at(now).filter(carrier=carrier, route=route).first()
    if row is not None:
        return row.floor_bp, row.ceiling_bp
    return settings.INCENTIVES_SURGE_FLOOR_BP, settings.INCENTIVES_SURGE_CEILING_BP


def raw_multiplier_bp(*, demand: int, supply: int, floor: int, ceiling: int) -> int:
    """Demand over the target share of supply, in basis points, bounded."""
    if demand <= 0:
        return floor
    if supply <= 0:
        return ceiling
    value = demand * NEUTRAL_BP * NEUTRAL_BP // (supply * settings.INCENTIVES_SURGE_TARGET_BP)
    return max(floor, min(ceiling, value))


def next_multiplier_bp(*, smoothed: int, current: int, floor: int, ceiling: int) -> int:
    """The multiplier in force after a reading: the whole step nearest the average, but only once the average is
    three quarters of a step away from the value in force (a band either side of each step's midpoint, so an
    average hovering there does not flip the multiplier back and forth)."""
    step = settings.INCENTIVES_SURGE_STEP_BP
    if abs(smoothed - current) * 4 < step * 3 and floor <= current <= ceiling:
        return current
    rounded = (smoothed + step // 2) // step * step
    return max(floor, min(ceiling, rounded))


READING_MAX = 2**31 - 1  # PositiveIntegerField's upper bound on every database


def smooth_bp(*, previous: int, raw: int) -> int:
    """The moving average after a reading, moved at least one unit toward it (so it reaches a steady reading
    exactly instead of stalling a rounding error short)."""
    if raw > previous:
        return previous + max(1, (raw - previous) * settings.INCENTIVES_SURGE_ALPHA_BP // NEUTRAL_BP)
    if raw < previous:
        return previous - max(1, (previous - raw) * settings.INCENTIVES_SURGE_ALPHA_BP // NEUTRAL_BP)
    return previous


def route_multipliers_recompute(*, now: datetime | None = None) -> list[RouteMultiplier]:
    """Read demand and supply once, compute every carrier route's multiplier, keep the changed readings and cache
    the values in force; the readings stored. Safe to run twice (a second run moves the average a little further,
    as a later run would)."""
    now = now or timezone.now()
    demand = segments_waiting_by_carrier()
    capacity = online_capacity_by_carrier(now=now)
    total_capacity = sum(capacity.values())
    stored = []
    for carrier in CARRIERS:
        for route in Route.values:
            supply = capacity.get(carrier, 0)
            if route == Route.CROSS_CARRIER:
                supply = total_capacity - supply
            floor, ceiling = surge_bounds(carrier=carrier, route=route, now=now)
            raw = raw_multiplier_bp(demand=demand.get(carrier, 0), supply=supply, floor=floor, ceiling=ceiling)
            last = RouteMultiplier.objects.filter(carrier=carrier, route=route).order_by("-computed_at", "-pk").first()
            previous_smoothed = last.smoothed_bp if last else NEUTRAL_BP
            current = last.multiplier_bp if last else NEUTRAL_BP
            smoothed = smooth_bp(previous=previous_smoothed, raw=raw)
            multiplier = next_multiplier_bp(smoothed=smoothed, current=current, floor=floor, ceiling=ceiling)
            # Stored readings are clamped to their columns (a fleet with very large caps, as the simulator's, can
            # offer more than a 32-bit count); the multiplier itself was computed from the true figures.
            reading = (min(demand.get(carrier, 0), READING_MAX), min(supply, READING_MAX), raw, smoothed, multiplier)
            if last is None or reading != (
                last.demand_segments,
                last.supply_segments,
                last.raw_bp,
                last.smoothed_bp,
                last.multiplier_bp,
            ):
                stored.append(
                    RouteMultiplier.objects.create(
                        carrier=carrier,
                        route=route,
                        demand_segments=reading[0],
                        supply_segments=reading[1],
                        raw_bp=raw,
                        smoothed_bp=smoothed,
                        multiplier_bp=multiplier,
                        computed_at=now,
                    )
                )
            cache.set(
                surge_cache_key(carrier=carrier, route=route), multiplier, settings.INCENTIVES_SURGE_CACHE_SECONDS
            )
    return stored


def route_multipliers_current() -> list[dict]:
    """The multiplier in force per carrier route (what providers and clients are shown)."""
    from apps.incentives.surge import route_multiplier_bp

    return [
        {"carrier": carrier, "route": route, "multiplier_bp": route_multiplier_bp(carrier=carrier, route=route)}
        for carrier in CARRIERS
        for route in Route.values
    ]


def route_multipliers_in_force(*, now: datetime | None = None) -> list[dict]:
    """`route_multipliers_current` with what the back office shows beside each: the route's floor and ceiling at
    `now`, and the newest reading (when it was taken, its demand and supply; None before the first)."""
    now = now or timezone.now()
    rows = []
    for current in route_multipliers_current():
        carrier, route = current["carrier"], current["route"]
        floor, ceiling = surge_bounds(carrier=carrier, route=route, now=now)
        reading = RouteMultiplier.objects.filter(carrier=carrier, route=route).order_by("-computed_at", "-pk").first()
        rows.append({**current, "floor_bp": floor, "ceiling_bp": ceiling, "reading": reading})
    return rows
