"""Prices in force and the quotes messaging asks for (registered as messaging's tariff in `IncentivesConfig.ready`).

A quote per segment is `ceil(base × multiplier_bp / 10_000)` in 10⁻⁶ PPT: exact integers, rounded up so a fraction
of a unit is never given away. The multiplier is `surge.route_multipliers_bp` for the recipient's carrier and route.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Q

from apps.incentives.choices import Route
from apps.incentives.models import Price
from apps.incentives.surge import route_multipliers_bp
from apps.messaging.pricing import Quote

BASIS_POINTS = 10_000


@dataclass(frozen=True, slots=True)
class PriceRow:
    id: int
    priority: str
    route: str
    amount: int
    valid_from: datetime
    valid_until: datetime | None


# (read at, rows that were or will be valid then) — see `_rows`.
_cache: dict[str, tuple[float, list[PriceRow]]] = {}


def _rows(now: datetime) -> list[PriceRow]:
    """The price rows not yet ended, newest first: read once per BILLING_CACHE_SECONDS per process (rows that start
    later are included, so a price starting within the window applies on time)."""
    ttl = settings.BILLING_CACHE_SECONDS
    cached = _cache.get("rows")
    if ttl and cached is not None and time.monotonic() - cached[0] < ttl:
        return cached[1]
    rows = [
        PriceRow(*row)
        for row in Price.objects.filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .order_by("-valid_from", "-id")
        .values_list("id", "priority", "route", "amount", "valid_from", "valid_until")
    ]
    if ttl:
        _cache["rows"] = (time.monotonic(), rows)
    return rows


# (carrier, route) → (read at, multiplier): the multipliers quotes used, remembered like the price rows.
_multiplier_cache: dict[tuple[str, str], tuple[float, int]] = {}


def _multipliers(routes: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """`route_multipliers_bp`, remembered per process for BILLING_CACHE_SECONDS as the price rows are: a quote then
    asks the shared cache nothing while a price and its multiplier are fresh (they change every few minutes)."""
    ttl = settings.BILLING_CACHE_SECONDS
    if not ttl:
        return route_multipliers_bp(routes)
    now = time.monotonic()
    known = {route: entry[1] for route in routes if (entry := _multiplier_cache.get(route)) and now - entry[0] < ttl}
    missing = routes - known.keys()
    if missing:
        read = route_multipliers_bp(missing)
        _multiplier_cache.update({route: (now, value) for route, value in read.items()})
        known.update(read)
    return known


def prices_in_force(*, now: datetime) -> dict[tuple[str, str], PriceRow]:
    """The base price in force at `now` for each (priority, route) that has one: the row that started last."""
    in_force: dict[tuple[str, str], PriceRow] = {}
    for row in _rows(now):
        if row.valid_from <= now and (row.valid_until is None or row.valid_until > now):
            in_force.setdefault((row.priority, row.route), row)
    return in_force


def effective_price(base: int, multiplier_bp: int) -> int:
    """Per segment, with the multiplier: ceil(base × multiplier_bp / 10_000), in integers."""
    return -(-base * multiplier_bp // BASIS_POINTS)


def tariff(pairs: Collection[tuple[str, str]], now: datetime) -> dict[tuple[str, str], Quote]:
    """Messaging's tariff (`apps.messaging.pricing`): a quote for each (priority, recipient carrier) pair. A pair
    with no price in force on either route is left out (free)."""
    in_force = prices_in_force(now=now)
    priced = [
        (priority, carrier, in_force.get((priority, Route.ON_NET)), in_force.get((priority, Route.CROSS_CARRIER)))
        for priority, carrier in pairs
    ]
    priced = [(priority, carrier, on_net, cross) for priority, carrier, on_net, cross in priced if on_net or cross]
    if not priced:
        return {}
    multipliers = _multipliers(
        {(carrier, route) for _, carrier, _, _ in priced for route in (Route.ON_NET, Route.CROSS_CARRIER)}
    )
    return {
        (priority, carrier): Quote(
            on_net=effective_price(on_net.amount, multipliers[(carrier, Route.ON_NET)]) if on_net else 0,
            cross_carrier=effective_price(cross.amount, multipliers[(carrier, Route.CROSS_CARRIER)]) if cross else 0,
        )
        for priority, carrier, on_net, cross in priced
    }
