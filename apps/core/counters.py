"""Counters in the shared cache for fixed windows (rate limits, quotas): several counted in one round trip on Redis.

Each counter is created at 0 with its window's lifetime the first time it is counted, then incremented atomically,
so every web process sees the same count. Django's own cache API needs three Redis round trips per counter for that
(`add`, then `incr`, which checks `EXISTS` before `INCRBY`); on the hot send path a rate limit and a daily quota
would cost six. Here all of them go in one round trip: one server-side script (EVALSHA), which Redis runs
atomically and which costs the client one command to encode instead of two per counter plus MULTI/EXEC. Other
backends (the embedded default's shared file cache, the local-memory cache) fall back to `add` + `incr`, which are
atomic there. Distinct counters (`distinct_add`, a set's size) work the same way, and `counters_distinct_add`
counts both kinds in the same round trip (the send path's limits and its pumping sets).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.commands.core import Script

from apps.core.local_cache import VersionCheck, VersionStale

# Starting again after the counter expired between `add` and `incr` (the window ended in between) more than
# this many times in a row would mean the cache cannot keep a key at all.
ADD_RETRIES = 3


@dataclass(frozen=True)
class Count:
    """Add `amount` to the counter at cache key `key`, which lives `timeout` seconds from its first count."""

    key: str
    amount: int
    timeout: int


def counters_add(counts: Sequence[Count], *, checks: Sequence[VersionCheck] = ()) -> list[int]:
    """Add each count to its counter, creating missing counters at 0; return the counters' new values, in order.
    `checks` as in `counters_distinct_add`: verified first, in the same round trip (`VersionStale`: nothing counted)."""
    return counters_distinct_add(counts, [], timeout=1, checks=checks)[0]


def counter_give_back(key: str, amount: int) -> None:
    """Take `amount` off a counter again (a refused request returning what it counted). A counter that has expired
    meanwhile belonged to a window that is over: there is nothing left to give back to."""
    try:
        cache.decr(key, amount)
    except ValueError:
        pass


# One script for both (`counters_distinct_add`): counters, then sets. A script runs atomically, so each counter is
# one INCRBY, and an EXPIRE only when that INCRBY created it (its value is then the amount): nothing runs between the
# two, so a counter can never be left without an expiry (a counter that would never reset), and a counter that exists
# costs one command instead of a SET NX that does nothing plus the INCRBY. A count that finds its counter at 0 (all of
# it given back) sets the lifetime again, to what a fresh counter would get now: never longer than its window, which
# its key names. Adding 0 only reads (GET; a missing counter is 0 and is not created). Integers are stored as plain
# numbers, as Django's Redis serializer stores them, so `cache.get` and `cache.decr` read them. A set gets SADD, then
# SCARD, member by member in order (each size counts the members added before it in the same call, as separate calls
# would), and EXPIRE only when that member made the set (size 1): it lives `timeout` from its first addition, and its
# key names its window (apps.messaging.pumping), so it outlives the window it counts. First, the version checks
# (apps.core.local_cache.VersionCheck): one that fails counts nothing and answers {} (any other answer has a value per
# counter and set, at least one).
# KEYS: the checks' version keys, the counters' keys, then the sets'. ARGV[1]: how many checks; ARGV[2]: how many
# counters; then each check's version as stored; then amount and lifetime per counter; then member and lifetime per set.
_ADD = """
local checks = tonumber(ARGV[1])
local counters = tonumber(ARGV[2])
for i = 1, checks do
  if redis.call('GET', KEYS[i]) ~= ARGV[2 + i] then
    return {}
  end
end
local values = {}
local a = 2 + checks
for i = 1, counters do
  local k = checks + i
  local amount = tonumber(ARGV[a + 2 * i - 1])
  if amount == 0 then
    values[i] = tonumber(redis.call('GET', KEYS[k]) or '0')
  else
    values[i] = redis.call('INCRBY', KEYS[k], amount)
    if values[i] == amount then
      redis.call('EXPIRE', KEYS[k], ARGV[a + 2 * i])
    end
  end
end
for i = 1, #KEYS - checks - counters do
  local k = checks + counters + i
  local j = a + 2 * (counters + i)
  redis.call('SADD', KEYS[k], ARGV[j - 1])
  values[counters + i] = redis.call('SCARD', KEYS[k])
  if values[counters + i] == 1 then
    redis.call('EXPIRE', KEYS[k], ARGV[j])
  end
end
return values
"""
_scripts: dict[str, Script] = {}


def redis_script(client: Any, source: str) -> Script:
    """The Lua script `source` as redis-py's `Script`: called with `client=`, it runs by its digest (EVALSHA, loaded
    on the server the first time it is missing there), so its text is neither sent nor hashed by Redis on every call
    as EVAL's is. One per source for the process (`client`: the one it is first registered through)."""
    script = _scripts.get(source)
    if script is None:
        script = _scripts[source] = client.register_script(source)
    return script


def _run(backend: RedisCache, source: str, keys: list[str], args: list[object]) -> list[int]:
    """Run `source` with EVALSHA (`redis_script`), in one round trip."""
    client = backend._cache.get_client(write=True)
    script = redis_script(client, source)
    return [
        int(value)
        for value in script(keys=[backend.make_and_validate_key(key) for key in keys], args=args, client=client)
    ]


def counters_distinct_add(
    counts: Sequence[Count],
    members: Sequence[tuple[str, str]],
    *,
    timeout: int,
    checks: Sequence[VersionCheck] = (),
) -> tuple[list[int], list[int]]:
    """`counters_add(counts)` and `distinct_add(members, timeout=timeout)` together: one round trip on Redis for
    both. Returns the counters' new values and the sets' sizes, each in order. `checks`: versions of values this
    process held (apps.core.local_cache), verified first in the same round trip; one out of date counts nothing and
    raises `VersionStale`."""
    pending = [check for check in checks if not check.verified]
    backend = caches[DEFAULT_CACHE_ALIAS]  # `cache` is only a proxy to it
    if not isinstance(backend, RedisCache) or not (counts or members):
        if not all(check.verify() for check in pending):
            raise VersionStale
        return [_add(count) for count in counts], _distinct_add_elsewhere(members, timeout=timeout)
    serializer = backend._cache._serializer  # the versions as the cache stored them
    args: list[object] = [len(pending), len(counts), *(serializer.dumps(check.version) for check in pending)]
    for count in counts:
        args += [count.amount, max(int(count.timeout), 1)]
    for _key, member in members:
        args += [member, max(int(timeout), 1)]
    keys = [check.version_key for check in pending] + [count.key for count in counts] + [key for key, _ in members]
    values = _run(backend, _ADD, keys, args)
    if not values:
        raise VersionStale
    for check in pending:
        check.verified = True
    return values[: len(counts)], values[len(counts) :]


def distinct_add(members: Sequence[tuple[str, str]], *, timeout: int) -> list[int]:
    """Add each (key, member) to the set at `key` (which lives at least `timeout` seconds from its first addition:
    on Redis exactly that, elsewhere from its last; let the key name its window) and return each set's size just after
    its member was added, in order: one round trip on Redis for them all. Other caches (development) keep a Python
    set, without atomicity."""
    return counters_distinct_add([], members, timeout=timeout)[1]


def _distinct_add_elsewhere(members: Sequence[tuple[str, str]], *, timeout: int) -> list[int]:
    sizes = []
    for key, member in members:
        found = set(cache.get(key) or ())
        found.add(member)
        cache.set(key, found, timeout=timeout)
        sizes.append(len(found))
    return sizes


def _add(count: Count) -> int:
    for _ in range(ADD_RETRIES):
        cache.add(count.key, 0, timeout=max(int(count.timeout), 1))
        try:
            return cache.incr(count.key, count.amount)
        except ValueError:
            continue  # expired between add and incr: the window ended, count in a fresh one
    raise RuntimeError(f"The cache lost counter {count.key!r} {ADD_RETRIES} times in a row.")
