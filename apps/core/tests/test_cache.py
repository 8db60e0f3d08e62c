"""The embedded default's shared file cache: atomic increments across processes, expiry kept."""

import multiprocessing
import time

from django.core.cache import caches
from django.test import override_settings

from apps.core.cache import SharedFileCache


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
    cache.set("short", 1, timeout=1)
    cache.incr("short")
    time.sleep(1.1)
    assert cache.get("short") is None


def test_default_cache_backend_in_embedded_mode(tmp_path):
    config = {"default": {"BACKEND": "apps.core.cache.SharedFileCache", "LOCATION": str(tmp_path)}}
    with override_settings(CACHES=config):
        caches["default"].set("k", "v")
        assert SharedFileCache(str(tmp_path), {}).get("k") == "v"  # another "process" sees it
