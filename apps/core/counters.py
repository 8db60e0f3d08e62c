"""Counters in the shared cache for fixed windows (rate limits, quotas): several counted in one round trip on Redis.

Each counter is created at 0 with its window's lifetime the first time it is counted, then incremented atomically,
so every web process sees the same count. Django's own cache API needs three Redis round trips per counter for that
(`add`, then `incr`, which checks `EXISTS` before `INCRBY`); on the hot send path a rate limit and a daily quota
would cost six. Here all of them go in one MULTI/EXEC pipeline. Other backends (the embedded default's shared file
cache, the local-memory cache) fall back to `add` + `incr`, which are atomic there.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache

# Starting again after the counter expired between `add` and `incr` (the window ended in between) more than
# this many times in a row would mean the cache cannot keep a key at all.
ADD_RETRIES = 3


@dataclass(frozen=True)
class Count:
    """Add `amount` to the counter at cache key `key`, which lives `timeout` seconds from its first count."""

    key: str
    amount: int
    timeout: int


def counters_add(counts: Sequence[Count]) -> list[int]:
    """Add each count to its counter, creating missing counters at 0; return the counters' new values, in order."""
    if not counts:
        return []
    backend = caches[DEFAULT_CACHE_ALIAS]  # `cache` is only a proxy to it
    if isinstance(backend, RedisCache):
        return _redis_add(backend, counts)
    return [_add(count) for count in counts]


def counter_give_back(key: str, amount: int) -> None:
    """Take `amount` off a counter again (a refused request returning what it counted). A counter that has expired
    meanwhile belonged to a window that is over: there is nothing left to give back to."""
    try:
        cache.decr(key, amount)
    except ValueError:
        pass


def _redis_add(backend: RedisCache, counts: Sequence[Count]) -> list[int]:
    # MULTI/EXEC: each counter's SET NX and INCRBY run together, so a counter cannot expire between them and be
    # recreated by INCRBY without an expiry (a counter that would never reset). Integers are stored as plain
    # numbers, as Django's Redis serializer stores them, so `cache.get` and `cache.decr` read them.
    client = backend._cache.get_client(write=True)
    pipeline = client.pipeline(transaction=True)
    for count in counts:
        key = backend.make_and_validate_key(count.key)
        pipeline.set(key, 0, ex=max(int(count.timeout), 1), nx=True)
        pipeline.incrby(key, count.amount)
    return pipeline.execute()[1::2]


def _add(count: Count) -> int:
    for _ in range(ADD_RETRIES):
        cache.add(count.key, 0, timeout=max(int(count.timeout), 1))
        try:
            return cache.incr(count.key, count.amount)
        except ValueError:
            continue  # expired between add and incr: the window ended, count in a fresh one
    raise RuntimeError(f"The cache lost counter {count.key!r} {ADD_RETRIES} times in a row.")
