"""Fixed-window counters: several in one call, created with their window's lifetime, on every cache backend the
project runs (Redis when REDIS_URL is set, the embedded default's shared file cache, local memory)."""

import multiprocessing
import time

import pytest
import time_machine
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.test import override_settings

from apps.core.counters import Count, counter_give_back, counters_add, counters_distinct_add, distinct_add
from apps.core.local_cache import VersionCheck, VersionStale, version_bump


@pytest.fixture(params=["configured", "shared-file", "local-memory"])
def backend(request, tmp_path):
    """The cache the tests run with (Redis on the PostgreSQL run), and the fallbacks."""
    if request.param == "configured":
        yield request.param
        return
    config = {
        "shared-file": {"BACKEND": "apps.core.cache.SharedFileCache", "LOCATION": str(tmp_path)},
        "local-memory": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "counters"},
    }[request.param]
    with override_settings(CACHES={"default": config}):
        cache.clear()
        yield request.param


def test_counts_several_counters_in_one_call(backend):
    assert counters_add([Count("a", 1, 60), Count("b", 5, 60)]) == [1, 5]
    assert counters_add([Count("a", 1, 60), Count("b", 5, 60)]) == [2, 10]
    assert counters_add([Count("b", 2, 60)]) == [12]
    assert (cache.get("a"), cache.get("b")) == (2, 12)  # readable through the ordinary cache API
    assert counters_add([]) == []


def test_distinct_counters_count_each_member_once_in_order(backend):
    sizes = distinct_add(
        [("block", "+85512000001"), ("block", "+85512000002"), ("other", "x"), ("block", "+85512000001")], timeout=60
    )
    assert sizes == [1, 2, 1, 2]  # each size as it was just after its member, a repeat adds nothing
    assert distinct_add([("block", "+85512000003")], timeout=60) == [3]
    assert distinct_add([], timeout=60) == []


def test_counters_and_sets_count_together_as_they_count_apart(backend):
    counts, sets = counters_distinct_add(
        [Count("a", 1, 60), Count("b", 5, 60)], [("block", "+85512000001"), ("block", "+85512000002")], timeout=60
    )
    assert (counts, sets) == ([1, 5], [1, 2])
    assert counters_distinct_add([Count("a", 2, 60)], [("block", "+85512000001")], timeout=60) == ([3], [2])
    assert counters_add([Count("b", 1, 60)]) == [6] and distinct_add([("block", "+85512000003")], timeout=60) == [3]
    assert counters_distinct_add([], [], timeout=60) == ([], [])


def test_version_checks_go_first_and_a_stale_one_counts_nothing(backend):
    """A value this process held is verified in the counting round trip (apps.core.local_cache.VersionCheck)."""
    version_bump("version:key")
    current = cache.get("version:key")
    fresh = VersionCheck(version_key="version:key", version=current)
    assert counters_distinct_add([Count("a", 1, 60)], [("block", "x")], timeout=60, checks=[fresh]) == ([1], [1])
    assert fresh.verified
    stale = VersionCheck(version_key="version:key", version="an older one")
    with pytest.raises(VersionStale):
        counters_distinct_add([Count("a", 1, 60)], [("block", "y")], timeout=60, checks=[stale])
    assert not stale.verified
    missing = VersionCheck(version_key="version:gone", version=current)
    with pytest.raises(VersionStale):
        counters_distinct_add([Count("a", 1, 60)], [], timeout=60, checks=[missing])
    assert counters_distinct_add([Count("a", 1, 60)], [("block", "y")], timeout=60) == ([2], [2])  # nothing counted


def let_time_pass(clock: time_machine.Traveller, seconds: float) -> None:
    """Move the clock the file and memory caches read; Redis keeps its own time, so there the seconds really pass."""
    if isinstance(caches["default"], RedisCache):
        time.sleep(seconds)
    else:
        clock.shift(seconds)


def test_a_counter_starts_again_when_its_window_is_over(backend):
    with time_machine.travel(time.time(), tick=False) as clock:
        assert counters_add([Count("short", 3, 1)]) == [3]
        let_time_pass(clock, 1.1)
        assert counters_add([Count("short", 3, 1)]) == [3]


def test_the_first_count_sets_the_lifetime_and_later_ones_keep_it(backend):
    with time_machine.travel(time.time(), tick=False) as clock:
        counters_add([Count("kept", 1, 1)])
        counters_add([Count("kept", 1, 3600)])  # a later count does not extend the window
        let_time_pass(clock, 1.1)
        assert cache.get("kept") is None


def test_giving_back(backend):
    counters_add([Count("quota", 5, 60)])
    counter_give_back("quota", 2)
    assert cache.get("quota") == 3
    counter_give_back("gone", 2)  # an expired counter: nothing to give back, no error
    assert cache.get("gone") is None


def test_on_redis_every_counter_has_an_expiry():
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        pytest.skip("REDIS_URL not set")
    counters_add([Count("expiring", 1, 30), Count("expiring", 1, 30)])
    client = backend._cache.get_client(write=True)
    assert 0 < client.ttl(backend.make_and_validate_key("expiring")) <= 30


def test_adding_nothing_reads_the_counter(backend):
    """A count of 0 (admission's read of the newcomers) answers the value; the first real count still starts the
    window."""
    assert counters_add([Count("read", 0, 30)]) == [0]
    assert counters_add([Count("read", 3, 30), Count("read", 0, 30)]) == [3, 3]
    assert cache.get("read") == 3


def _redis_client():
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        pytest.skip("REDIS_URL not set")
    return backend, backend._cache.get_client(write=True)


def test_on_redis_a_read_creates_nothing_and_a_count_after_it_expires():
    backend, client = _redis_client()
    key = backend.make_and_validate_key("read-first")
    counters_add([Count("read-first", 0, 30)])
    assert not client.exists(key)
    counters_add([Count("read-first", 1, 30)])
    assert 0 < client.ttl(key) <= 30


def test_on_redis_only_the_count_that_creates_a_counter_sets_its_expiry():
    """Later counts leave the lifetime alone (one INCRBY each); a counter given back to 0 and counted again gets the
    lifetime a fresh one would, never none."""
    backend, client = _redis_client()
    key = backend.make_and_validate_key("once")
    counters_add([Count("once", 2, 30)])
    client.expire(key, 1000)  # a lifetime no count asks for: only a count that sets one again could change it
    counters_add([Count("once", 2, 30)])
    assert 990 < client.ttl(key) <= 1000
    counter_give_back("once", 4)
    client.persist(key)
    assert counters_add([Count("once", 2, 30)]) == [2]
    assert 0 < client.ttl(key) <= 30


def test_on_redis_a_set_lives_from_its_first_addition():
    backend, client = _redis_client()
    key = backend.make_and_validate_key("block")
    distinct_add([("block", "+85512000001")], timeout=30)
    assert 0 < client.ttl(key) <= 30
    client.expire(key, 1000)
    assert distinct_add([("block", "+85512000002"), ("block", "+85512000001")], timeout=30) == [2, 2]
    assert 990 < client.ttl(key) <= 1000  # later additions left it alone
    client.delete(key)
    assert distinct_add([("block", "+85512000002")], timeout=30) == [1]  # made again: a lifetime again
    assert 0 < client.ttl(key) <= 30


def _count_many(location: str, times: int) -> None:
    with override_settings(CACHES={"default": {"BACKEND": "apps.core.cache.SharedFileCache", "LOCATION": location}}):
        for _ in range(times):
            counters_add([Count("shared", 1, 60), Count("batch", 2, 60)])


def test_counts_from_several_processes_are_not_lost_on_the_file_cache(tmp_path):
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_count_many, args=(str(tmp_path), 50)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    with override_settings(
        CACHES={"default": {"BACKEND": "apps.core.cache.SharedFileCache", "LOCATION": str(tmp_path)}}
    ):
        assert (cache.get("shared"), cache.get("batch")) == (200, 400)
