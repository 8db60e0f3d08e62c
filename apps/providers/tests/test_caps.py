"""Per-SIM caps: local (Asia/Phnom_Penh) hour and day windows, warm-up of new SIMs, own caps within the maximum;
on both counter backends."""

from datetime import UTC, datetime, timedelta

import pytest
import redis
from django.test import override_settings

from apps.providers.choices import Carrier
from apps.providers.models import Provider
from apps.providers.services.caps import (
    Caps,
    RedisCapCounter,
    Reservation,
    Usage,
    cap_counter,
    cap_windows,
    sim_caps,
)
from apps.providers.tests.conftest import TEST_REDIS_URL
from apps.providers.tests.factories import DeviceFactory, ProviderFactory, SimFactory, match_one

pytestmark = pytest.mark.django_db

# 10 March 2025, 03:10 UTC is 10:10 in Phnom Penh (UTC+7, no daylight saving).
MORNING = datetime(2025, 3, 10, 3, 10, tzinfo=UTC)
# In-flight jobs are not what these tests count: PROVIDER_MAX_JOBS_IN_FLIGHT is lifted where several picks are made.


def make_sim(*, created_at, **fields):
    provider = ProviderFactory()
    DeviceFactory(provider=provider)
    return SimFactory(provider=provider, carrier=Carrier.SMART, created_at=created_at, **fields)


def match_at(moment):
    # The phone is heard from at that moment, as it would be.
    Provider.objects.update(last_heartbeat_at=moment)
    return match_one(recipient_carrier=Carrier.SMART, now=moment)


def picks_at(moment, attempts):
    return sum(match_at(moment) is not None for _ in range(attempts))


def test_windows_are_local_hours_and_days():
    windows = cap_windows(datetime(2025, 3, 10, 16, 59, 59, tzinfo=UTC))  # 23:59:59 local
    assert (windows.hour_key, windows.day_key) == (2025031023, 20250310)
    assert windows.hour_ends_at == windows.day_ends_at == datetime(2025, 3, 10, 17, 0, tzinfo=UTC)
    next_day = cap_windows(datetime(2025, 3, 10, 17, 0, tzinfo=UTC))  # local midnight
    assert (next_day.hour_key, next_day.day_key) == (2025031100, 20250311)


@override_settings(PROVIDER_SIM_HOURLY_CAP=3, PROVIDER_MAX_JOBS_IN_FLIGHT=100)
def test_hourly_cap_holds_until_the_next_local_hour(counter_backend):
    make_sim(created_at=MORNING - timedelta(days=30))
    assert picks_at(MORNING, 5) == 3
    assert match_at(MORNING.replace(minute=59, second=59)) is None
    next_hour = MORNING.replace(hour=4, minute=0, second=0)  # 11:00 local
    assert picks_at(next_hour, 5) == 3


@override_settings(PROVIDER_SIM_HOURLY_CAP=3, PROVIDER_SIM_DAILY_CAP=5, PROVIDER_MAX_JOBS_IN_FLIGHT=100)
def test_daily_cap_holds_across_hours_until_local_midnight(counter_backend):
    evening = datetime(2025, 3, 10, 15, 5, tzinfo=UTC)  # 22:05 local
    make_sim(created_at=evening - timedelta(days=30))
    assert picks_at(evening, 4) == 3  # the hourly cap first
    late = evening + timedelta(hours=1)  # 23:05 local: a new hour, but only 2 left today
    assert picks_at(late, 4) == 2
    assert match_at(datetime(2025, 3, 10, 16, 59, 59, tzinfo=UTC)) is None
    midnight = datetime(2025, 3, 10, 17, 0, tzinfo=UTC)  # 00:00 on 11 March in Phnom Penh
    assert picks_at(midnight, 4) == 3


@override_settings(
    PROVIDER_SIM_HOURLY_CAP=30,
    PROVIDER_SIM_WARMUP_DAYS=7,
    PROVIDER_SIM_WARMUP_HOURLY_CAP=2,
    PROVIDER_SIM_WARMUP_DAILY_CAP=3,
    PROVIDER_MAX_JOBS_IN_FLIGHT=100,
)
def test_new_sims_warm_up_on_lower_caps_for_their_first_week(counter_backend):
    registered = MORNING - timedelta(days=6, hours=23)
    make_sim(created_at=registered)
    assert picks_at(MORNING, 4) == 2  # warm-up hourly cap (10:10 local)
    assert picks_at(MORNING + timedelta(minutes=40), 4) == 0  # same hour
    assert picks_at(MORNING + timedelta(minutes=55), 4) == 1  # 11:05: a new hour, but the warm-up day cap is 3
    # Seven days after registration (11:10 local, the same day) the normal caps apply at once.
    week_later = registered + timedelta(days=7)
    assert picks_at(week_later - timedelta(seconds=1), 1) == 0
    assert picks_at(week_later, 5) == 5


def test_caps_for_a_sim():
    now = MORNING
    old = now - timedelta(days=30)
    with override_settings(
        PROVIDER_SIM_HOURLY_CAP=30,
        PROVIDER_SIM_DAILY_CAP=200,
        PROVIDER_SIM_HOURLY_CAP_MAX=50,
        PROVIDER_SIM_DAILY_CAP_MAX=300,
        PROVIDER_SIM_WARMUP_HOURLY_CAP=10,
        PROVIDER_SIM_WARMUP_DAILY_CAP=60,
    ):
        assert sim_caps(created_at=old, hourly_cap=None, daily_cap=None, now=now) == Caps(30, 200, False)
        assert sim_caps(created_at=old, hourly_cap=12, daily_cap=80, now=now) == Caps(12, 80, False)
        # A cap stored above the maximum (the maximum was lowered since) is held to the maximum.
        assert sim_caps(created_at=old, hourly_cap=90, daily_cap=900, now=now) == Caps(50, 300, False)
        yesterday = now - timedelta(days=1)
        assert sim_caps(created_at=yesterday, hourly_cap=None, daily_cap=None, now=now) == Caps(
            10, 60, True, warmup_ends_at=yesterday + timedelta(days=7)
        )
        # An own cap below the warm-up cap still wins.
        assert sim_caps(created_at=now, hourly_cap=4, daily_cap=None, now=now).hourly == 4


@override_settings(PROVIDER_MAX_JOBS_IN_FLIGHT=100)
def test_own_cap_lower_than_the_default_is_respected(counter_backend):
    make_sim(created_at=MORNING - timedelta(days=30), hourly_cap=2)
    assert picks_at(MORNING, 4) == 2


@pytest.mark.parametrize("counter_backend", ["redis"], indirect=True)
def test_redis_counters_expire_after_their_window(counter_backend):
    sim = make_sim(created_at=MORNING - timedelta(days=30))
    assignment = match_at(MORNING)
    assert assignment.sim_id == sim.pk
    client = redis.Redis.from_url(TEST_REDIS_URL)
    hour_key, day_key = RedisCapCounter.keys(sim.pk, cap_windows(MORNING))
    assert client.get(hour_key) == b"1" and client.get(day_key) == b"1"
    # 10:10 local: the hour ends in 50 minutes, the day in 13 h 50 min; each key lives that long plus a grace.
    assert 50 * 60 < client.ttl(hour_key) <= 50 * 60 + 300
    assert 830 * 60 < client.ttl(day_key) <= 830 * 60 + 300


def test_a_reservation_over_either_cap_changes_no_count(counter_backend):
    """The hour's cap refuses before the day is touched, the day's gives the hour back: a refused SIM keeps the
    counts it had, and the reservation's answer shows them."""
    hour_capped = make_sim(created_at=MORNING - timedelta(days=30)).pk
    day_capped = make_sim(created_at=MORNING - timedelta(days=30)).pk
    counter, windows = cap_counter(), cap_windows(MORNING)
    sims = [(hour_capped, Caps(hourly=2, daily=10, warming_up=False)), (day_capped, Caps(10, 2, False))]
    answers = [counter.reserve_many(sims=sims, windows=windows) for _ in range(3)]
    assert [[r.reserved for r in answer] for answer in answers] == [[True, True], [True, True], [False, False]]
    assert answers[2] == [Reservation(False, Usage(hour=2, day=2)), Reservation(False, Usage(hour=2, day=2))]
    assert counter.usage(sim_ids=[hour_capped, day_capped], windows=windows) == {
        hour_capped: Usage(2, 2),
        day_capped: Usage(2, 2),
    }
    counter.release_many(sim_ids=[hour_capped, day_capped], windows=windows)
    assert counter.reserve_many(sims=sims, windows=windows) == [
        Reservation(True, Usage(2, 2)),
        Reservation(True, Usage(2, 2)),
    ]


@pytest.mark.parametrize("counter_backend", ["redis"], indirect=True)
def test_redis_counters_keep_the_expiry_of_their_first_count(counter_backend):
    """Only the INCR that creates a key sets its expiry; one given back to zero and counted again gets a fresh one,
    no longer than its window's."""
    sim_id = make_sim(created_at=MORNING - timedelta(days=30)).pk
    counter, windows = cap_counter(), cap_windows(MORNING)
    client = redis.Redis.from_url(TEST_REDIS_URL)
    hour_key, day_key = RedisCapCounter.keys(sim_id, windows)
    caps = Caps(hourly=5, daily=5, warming_up=False)
    counter.reserve_many(sims=[(sim_id, caps)], windows=windows)
    client.expire(hour_key, 100)  # as if the first count had been 100 s before the window's end
    counter.reserve_many(sims=[(sim_id, caps)], windows=windows)
    assert 90 < client.ttl(hour_key) <= 100  # the second count left it alone
    counter.release_many(sim_ids=[sim_id, sim_id], windows=windows)
    client.persist(day_key)
    assert client.get(day_key) == b"0"
    counter.reserve_many(sims=[(sim_id, caps)], windows=windows)
    assert 830 * 60 < client.ttl(day_key) <= 830 * 60 + 300
