"""The embedded default's shared file cache: atomic increments across processes, expiry kept. The Redis cache: one
client per connection pool instead of one per call."""

import multiprocessing
import time

import pytest
import time_machine
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

from apps.core.cache import RedisCache, SharedFileCache


def _increment_many(location: str, times: int) -> None:
    cache = SharedFileCache(location, {})
    for _ in range(times):
        cache.incr("counter")


def test_increments_from_several_processes_are_not_lost(tmp_path):
    cache = SharedFileCache(str(tmp_path), {})
    cache.set("counter", 0, timeout=60)
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_increment_many, args=(str(tmp_path), 100)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(30)
    assert cache.get("counter") == 400


def test_add_then_incr_behaves_like_redis(tmp_path):
    cache = SharedFileCache(str(tmp_path), {})
    assert cache.add("hits", 1, timeout=60) is True
    assert cache.add("hits", 1, timeout=60) is False
    assert cache.incr("hits") == 2
    try:
        cache.incr("missing")
    except ValueError:
        pass
    else:
        raise AssertionError("incr of a missing key must raise, as Django's caches do")


def test_incr_keeps_the_expiry(tmp_path):
    cache = SharedFileCache(str(tmp_path), {})
    with time_machine.travel(time.time(), tick=False) as clock:
        cache.set("short", 1, timeout=1)
        clock.shift(0.5)
        assert cache.incr("short") == 2
        clock.shift(0.6)
        assert cache.get("short") is None


def test_default_cache_backend_in_embedded_mode(tmp_path):
    config = {"default": {"BACKEND": "apps.core.cache.SharedFileCache", "LOCATION": str(tmp_path)}}
    with override_settings(CACHES=config):
        caches["default"].set("k", "v")
        assert SharedFileCache(str(tmp_path), {}).get("k") == "v"  # another "process" sees it


def test_the_redis_cache_keeps_one_client_per_connection_pool():
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL not set")
    # A primary and a replica (the same server twice): writes use the first pool, reads the other.
    cache = RedisCache(f"{settings.REDIS_URL},{settings.REDIS_URL}", {"KEY_PREFIX": "client-reuse-test"})
    writer = cache._cache.get_client(write=True)
    reader = cache._cache.get_client()
    assert cache._cache.get_client(write=True) is writer and cache._cache.get_client() is reader
    assert reader is not writer and reader.connection_pool is not writer.connection_pool
    assert cache.add("counter", 1, 30) and not cache.add("counter", 5, 30)
    assert cache.incr("counter", 2) == 3 and cache.get("counter") == 3
    cache.delete("counter")
