"""The current multiplier of a carrier route, in basis points (10000 = ×1), for prices at submit and rewards.

Read on every submit and every delivery, so it costs a cache read: the beat task that recomputes the multipliers
(`apps.incentives.multipliers`) writes each one to the cache as well as to its history table; on a cache miss the
newest history row is read once and cached for INCENTIVES_SURGE_CACHE_SECONDS.
"""

from collections.abc import Collection

from django.conf import settings
from django.core.cache import cache

NEUTRAL_BP = 10_000


def surge_cache_key(*, carrier: str, route: str) -> str:
    return f"incentives:surge:v1:{carrier}:{route}"


def route_multiplier_bp(*, carrier: str, route: str) -> int:
    """The multiplier in force for messages to `carrier` going `route` (on_net / cross_carrier); 10000 when none
    has been computed yet."""
    return route_multipliers_bp([(carrier, route)])[(carrier, route)]


def route_multipliers_bp(routes: Collection[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """`route_multiplier_bp` of each (carrier, route), read from the cache in one round trip (a quote needs two,
    a bulk request one per carrier and route)."""
    keys = {surge_cache_key(carrier=carrier, route=route): (carrier, route) for carrier, route in routes}
    cached = cache.get_many(keys)
    return {
        pair: int(cached[key]) if key in cached else _multiplier_stored(carrier=pair[0], route=pair[1])
        for key, pair in keys.items()
    }


def _multiplier_stored(*, carrier: str, route: str) -> int:
    """The newest stored multiplier (a cache miss), cached for INCENTIVES_SURGE_CACHE_SECONDS."""
    key = surge_cache_key(carrier=carrier, route=route)
    from apps.incentives.models import RouteMultiplier

    value = (
        RouteMultiplier.objects.filter(carrier=carrier, route=route)
        .order_by("-computed_at", "-pk")
        .values_list("multiplier_bp", flat=True)
        .first()
    ) or NEUTRAL_BP
    cache.set(key, value, settings.INCENTIVES_SURGE_CACHE_SECONDS)
    return value
