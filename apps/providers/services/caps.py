"""Per-SIM sending caps: what they are for a SIM now (warm-up included), and exact counters of use per window.

Carriers block SIMs that send too much, so each SIM has an hourly and a daily cap. Windows are local hours and
days (settings.TIME_ZONE, Asia/Phnom_Penh). Counters live in Redis when REDIS_URL is set (one key per SIM and
window, expiring after the window; a Lua script checks both caps and increments both keys atomically), otherwise in
the `SimCounter` table (one conditional upsert that increments only while both counts are under their caps). Both
are exact under any number of concurrent reservations, and each reserves a whole round of a batch in one call.
"""

from collections import Counter as Tally
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from typing import Protocol
from zoneinfo import ZoneInfo

import redis
from django.conf import settings
from django.db import connections, router
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from apps.core.counters import redis_script
from apps.providers.models import Sim, SimCounter

# Keys outlive their window a little, so a release just after the boundary still finds the key it refunds.
KEY_GRACE_SECONDS = 300


@dataclass(frozen=True)
class Caps:
    hourly: int
    daily: int
    warming_up: bool
    # When the warm-up caps give way to the normal ones (None once they have).
    warmup_ends_at: datetime | None = None


@dataclass(frozen=True)
class Windows:
    """The local hour and day a moment falls in: keys (yyyymmddhh, yyyymmdd) and when each ends (aware, UTC)."""

    hour_key: int
    day_key: int
    hour_ends_at: datetime
    day_ends_at: datetime
    moment: datetime


@dataclass(frozen=True)
class Usage:
    hour: int
    day: int


@dataclass(frozen=True)
class Reservation:
    reserved: bool
    usage: Usage | None  # the counts after the attempt, when the backend has them at no cost


def sim_caps(
    *,
    created_at: datetime,
    hourly_cap: int | None,
    daily_cap: int | None,
    now: datetime,
    cooldown_level: int = 0,
    last_block_at: datetime | None = None,
) -> Caps:
    """A SIM's caps at `now`: its own (or the default), never above the maximum, lowered while it warms up, and
    lowered again after a carrier block: the warm-up caps, halved for each cool-down level beyond the first, until
    PROVIDER_SIM_COOLDOWN_RESET_HOURS pass without another block."""
    hourly = min(hourly_cap or settings.PROVIDER_SIM_HOURLY_CAP, settings.PROVIDER_SIM_HOURLY_CAP_MAX)
    daily = min(daily_cap or settings.PROVIDER_SIM_DAILY_CAP, settings.PROVIDER_SIM_DAILY_CAP_MAX)
    warmup_ends_at = created_at + timedelta(days=settings.PROVIDER_SIM_WARMUP_DAYS)
    warmup_hourly, warmup_daily = settings.PROVIDER_SIM_WARMUP_HOURLY_CAP, settings.PROVIDER_SIM_WARMUP_DAILY_CAP
    if cooldown_level and last_block_at is not None:
        penalty_ends_at = last_block_at + timedelta(hours=settings.PROVIDER_SIM_COOLDOWN_RESET_HOURS)
        if now < penalty_ends_at:
            halvings = min(cooldown_level - 1, 16)
            warmup_hourly = max(warmup_hourly >> halvings, 1)
            warmup_daily = max(warmup_daily >> halvings, 1)
            warmup_ends_at = max(warmup_ends_at, penalty_ends_at)
    if now >= warmup_ends_at:
        return Caps(hourly=hourly, daily=daily, warming_up=False)
    return Caps(
        hourly=min(hourly, warmup_hourly),
        daily=min(daily, warmup_daily),
        warming_up=True,
        warmup_ends_at=warmup_ends_at,
    )


def caps_for_sim(sim: Sim, *, now: datetime | None = None) -> Caps:
    return sim_caps(
        created_at=sim.created_at,
        hourly_cap=sim.hourly_cap,
        daily_cap=sim.daily_cap,
        now=now or timezone.now(),
        cooldown_level=sim.cooldown_level,
        last_block_at=sim.last_block_at,
    )


def cap_windows(moment: datetime) -> Windows:
    zone = ZoneInfo(settings.TIME_ZONE)
    local = moment.astimezone(zone)
    hour_start = local.replace(minute=0, second=0, microsecond=0)
    next_day = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    return Windows(
        hour_key=int(local.strftime("%Y%m%d%H")),
        day_key=int(local.strftime("%Y%m%d")),
        hour_ends_at=(hour_start + timedelta(hours=1)).astimezone(ZoneInfo("UTC")),
        day_ends_at=next_day.astimezone(ZoneInfo("UTC")),
        moment=moment,
    )


def capped_until(*, caps: Caps, usage: Usage, windows: Windows) -> datetime | None:
    """When a SIM with this usage gets room again, or None if it has room now."""
    if usage.day >= caps.daily:
        until = windows.day_ends_at
    elif usage.hour >= caps.hourly:
        until = windows.hour_ends_at
    else:
        return None
    # The end of warm-up raises the caps: the SIM may have room again before the window ends.
    return min(until, caps.warmup_ends_at) if caps.warmup_ends_at else until


class CapCounter(Protocol):
    """Exact per-SIM counters of use per window. `transactional`: whether the counts live in the database and so
    commit or roll back with the caller's transaction (Redis does neither)."""

    transactional: bool

    def reserve_many(self, *, sims: list[tuple[int, Caps]], windows: Windows) -> list[Reservation]:
        """For each (distinct) SIM with its caps: take one unit of its hour and of its day, only if both are under
        their caps (all or nothing per SIM; the others are unaffected). In the order given."""
        ...

    def release_many(self, *, sim_ids: list[int], windows: Windows) -> None:
        """Give one unit back to each SIM's hour and day for each time it is named (a count already at zero, or of
        a past window, stays)."""
        ...

    def usage(self, *, sim_ids: list[int], windows: Windows) -> dict[int, Usage]: ...


# The conditional increment, for several SIMs in one statement (PostgreSQL and SQLite both have upserts with a WHERE
# and RETURNING): a SIM without a counter row gets one; a count from an older window is a zero (the row is reset to 1
# for the new window as it is incremented). ON CONFLICT locks the row and checks the WHERE on its newest version, so
# concurrent reservations cannot pass a cap. Each SIM's caps come in through a CASE on its id.
_RESERVE_COUNTERS_SQL = """INSERT INTO providers_simcounter AS counter
    (sim_id, hour_key, hour_count, day_key, day_count)
VALUES {values}
ON CONFLICT (sim_id) DO UPDATE SET
    hour_count = CASE WHEN counter.hour_key = excluded.hour_key THEN counter.hour_count + 1 ELSE 1 END,
    hour_key = excluded.hour_key,
    day_count = CASE WHEN counter.day_key = excluded.day_key THEN counter.day_count + 1 ELSE 1 END,
    day_key = excluded.day_key
WHERE (counter.hour_key <> excluded.hour_key OR counter.hour_count < CASE counter.sim_id {hourly} END)
    AND (counter.day_key <> excluded.day_key OR counter.day_count < CASE counter.sim_id {daily} END)
RETURNING sim_id, hour_count, day_count"""


class DatabaseCapCounter:
    """Counters in `SimCounter` rows, for running without Redis (development). Runs in the caller's transaction:
    matching's savepoint undoes a refused round's units, and a release rolls back with its job."""

    transactional = True

    def reserve_many(self, *, sims: list[tuple[int, Caps]], windows: Windows) -> list[Reservation]:
        params: list[int] = []
        for sim_id, _ in sims:
            params += [sim_id, windows.hour_key, windows.day_key]
        for cap in ("hourly", "daily"):
            for sim_id, caps in sims:
                params += [sim_id, getattr(caps, cap)]
        when = " ".join(["WHEN %s THEN %s"] * len(sims))
        sql = _RESERVE_COUNTERS_SQL.format(
            values=", ".join(["(%s, %s, 1, %s, 1)"] * len(sims)), hourly=when, daily=when
        )
        with connections[router.db_for_write(SimCounter)].cursor() as cursor:
            cursor.execute(sql, params)
            counted = {sim_id: Usage(hour=hour, day=day) for sim_id, hour, day in cursor.fetchall()}
        refused = [sim_id for sim_id, _ in sims if sim_id not in counted]
        seen = self.usage(sim_ids=refused, windows=windows) if refused else {}
        return [
            Reservation(reserved=True, usage=counted[sim_id])
            if sim_id in counted
            else Reservation(reserved=False, usage=seen[sim_id])
            for sim_id, _ in sims
        ]

    def release_many(self, *, sim_ids: list[int], windows: Windows) -> None:
        # A SIM named n times gives back n units (never below zero), as the Redis script's one DECR per key does.
        by_count: dict[int, list[int]] = {}
        for sim_id, count in Tally(sim_ids).items():
            by_count.setdefault(count, []).append(sim_id)
        for count, sims in sorted(by_count.items()):
            counters = SimCounter.objects.filter(sim_id__in=sims)
            counters.filter(hour_key=windows.hour_key, hour_count__gt=0).update(
                hour_count=Greatest(F("hour_count") - count, 0)
            )
            counters.filter(day_key=windows.day_key, day_count__gt=0).update(
                day_count=Greatest(F("day_count") - count, 0)
            )

    def usage(self, *, sim_ids: list[int], windows: Windows) -> dict[int, Usage]:
        found = {
            sim_id: Usage(
                hour=hour_count if hour_key == windows.hour_key else 0,
                day=day_count if day_key == windows.day_key else 0,
            )
            for sim_id, hour_key, hour_count, day_key, day_count in SimCounter.objects.filter(
                sim_id__in=sim_ids
            ).values_list("sim_id", "hour_key", "hour_count", "day_key", "day_count")
        }
        return {sim_id: found.get(sim_id, Usage(0, 0)) for sim_id in sim_ids}


# For each SIM (two keys, then its two caps in ARGV; the two expiries come last): the hour's key is counted, then the
# day's, and a count that goes over its cap is taken back at once (with the hour's, when it is the day's), so a
# refused reservation changes nothing and, the script being atomic, nobody sees the count in between. A reservation
# under both caps — the usual case — is two INCRs; a key gets its expiry when its INCR created it (1: nothing runs
# between the two, so no key is ever left without one; a key released to 0 and counted again gets a fresh one, never
# past its window's end and grace). One call reserves a whole dispatch batch.
RESERVE_SCRIPT = """
local sims = #KEYS / 2
local hour_ttl, day_ttl = ARGV[2 * sims + 1], ARGV[2 * sims + 2]
local results = {}
for index = 1, sims do
  local hour_key, day_key = KEYS[2 * index - 1], KEYS[2 * index]
  local reserved = 1
  local day
  local hour = redis.call('INCR', hour_key)
  if hour == 1 then redis.call('EXPIRE', hour_key, hour_ttl) end
  if hour > tonumber(ARGV[2 * index - 1]) then
    reserved = 0
    hour = redis.call('DECR', hour_key)
    day = tonumber(redis.call('GET', day_key) or '0')
  else
    day = redis.call('INCR', day_key)
    if day == 1 then redis.call('EXPIRE', day_key, day_ttl) end
    if day > tonumber(ARGV[2 * index]) then
      reserved = 0
      day = redis.call('DECR', day_key)
      hour = redis.call('DECR', hour_key)
    end
  end
  table.insert(results, reserved)
  table.insert(results, hour)
  table.insert(results, day)
end
return results
"""
# Refund one unit; a key that has expired is left alone (DECR would recreate it without an expiry).
RELEASE_SCRIPT = """
for _, key in ipairs(KEYS) do
  local value = tonumber(redis.call('GET', key) or '0')
  if value > 0 then redis.call('DECR', key) end
end
return 0
"""


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


class RedisCapCounter:
    """Counters in Redis keys (one per SIM and window, expiring after it); changes are immediate, whatever the
    caller's transaction does."""

    transactional = False

    def __init__(self, url: str) -> None:
        self.client = _redis(url)

    @staticmethod
    def keys(sim_id: int, windows: Windows) -> list[str]:
        return [
            f"peerpower:providers:cap:{sim_id}:h:{windows.hour_key}",
            f"peerpower:providers:cap:{sim_id}:d:{windows.day_key}",
        ]

    @staticmethod
    def seconds_left(ends_at: datetime, windows: Windows) -> int:
        # Relative to the moment the windows were computed for (now, in production), plus a grace.
        return int((ends_at - windows.moment).total_seconds()) + KEY_GRACE_SECONDS

    def reserve_many(self, *, sims: list[tuple[int, Caps]], windows: Windows) -> list[Reservation]:
        """`reserve` for several SIMs in one round trip, each all or nothing on its own (the batch's matches)."""
        keys = [key for sim_id, _ in sims for key in self.keys(sim_id, windows)]
        limits = [limit for _, caps in sims for limit in (caps.hourly, caps.daily)]
        values = redis_script(self.client, RESERVE_SCRIPT)(
            keys=keys,
            args=[
                *limits,
                self.seconds_left(windows.hour_ends_at, windows),
                self.seconds_left(windows.day_ends_at, windows),
            ],
            client=self.client,
        )
        return [
            Reservation(reserved=bool(reserved), usage=Usage(hour=int(hour), day=int(day)))
            for reserved, hour, day in zip(values[::3], values[1::3], values[2::3], strict=True)
        ]

    def release_many(self, *, sim_ids: list[int], windows: Windows) -> None:
        keys = [key for sim_id in sim_ids for key in self.keys(sim_id, windows)]
        redis_script(self.client, RELEASE_SCRIPT)(keys=keys, client=self.client)

    def usage(self, *, sim_ids: list[int], windows: Windows) -> dict[int, Usage]:
        if not sim_ids:
            return {}
        values = self.client.mget([key for sim_id in sim_ids for key in self.keys(sim_id, windows)])
        return {
            sim_id: Usage(hour=int(values[2 * index] or 0), day=int(values[2 * index + 1] or 0))
            for index, sim_id in enumerate(sim_ids)
        }


def cap_counter() -> CapCounter:
    """Redis counters when REDIS_URL is configured, the database otherwise."""
    if settings.REDIS_URL:
        return RedisCapCounter(settings.REDIS_URL)
    return DatabaseCapCounter()
