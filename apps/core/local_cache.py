"""A small in-process cache for hot reads that another process may invalidate: entries are stamped with a version
read from the shared cache (Redis), and one is used only while the shared version still matches.

Each process keeps what it loaded (least recently used entries go first past `max_entries`, and every entry goes
after `ttl` seconds, which bounds staleness of fields written without a version bump). The shared version is the
source of truth for invalidation: a writer replaces it (`version_bump`), so every process's entry stops matching on
its next read, one cache round trip later. A version is a random token, not a counter, so a version key the
shared cache lost and re-created never matches an older entry.
"""

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.cache import cache

Value = TypeVar("Value")

# Version keys outlive any entry that could hold them (entries live `ttl` seconds); a lost key only costs a reload.
VERSION_KEY_SECONDS = 24 * 3600


def version_bump(*keys: str) -> None:
    """Invalidate, in every process, the entries stamped with these versions."""
    if keys:
        cache.set_many({key: secrets.token_hex(8) for key in keys}, timeout=VERSION_KEY_SECONDS)


@dataclass(slots=True)
class _Entry(Generic[Value]):
    value: Value
    version: str
    expires: float


class VersionedLocalCache(Generic[Value]):
    """Thread-safe LRU of values with the shared version they were loaded under. `clock` is injectable for tests."""

    def __init__(self, *, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[Hashable, _Entry[Value]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, *, version: str) -> Value | None:
        """The value stored under `key` if it was loaded under `version` and has not expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.version != version or entry.expires <= self.clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry.value

    def put(self, key: Hashable, value: Value, *, version: str, ttl: float) -> None:
        """Store a value loaded after `version` was read (read the version first, or a concurrent bump is missed)."""
        with self._lock:
            self._entries[key] = _Entry(value, version, self.clock() + ttl)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def peek(self, key: Hashable) -> tuple[Value, str] | None:
        """The value stored under `key` and the version it was loaded under, if it has not expired, whatever the
        shared version is now (`read_through_deferred`)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.expires <= self.clock():
                return None
            self._entries.move_to_end(key)
            return entry.value, entry.version

    def discard(self, keys: Iterable[Hashable]) -> None:
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def read_through(
    local: VersionedLocalCache[Any], key: Hashable, *, version_key: str, ttl: float, load: Callable[[], Any]
) -> tuple[Any, bool]:
    """The value for `key` from this process's cache when its shared version still matches, else `load()`ed and
    stored. Returns (value, loaded). With `ttl` 0 it always loads and keeps nothing.

    The version is read before loading, so a bump between the two leaves a stale value under an old version. A
    missing version is created only after a successful load, and only if still missing (`add`): refused
    credentials never leave keys behind, and a bump that raced the load makes the `add` fail, so nothing is kept.
    """
    version = cache.get(version_key) if ttl > 0 else None
    if version is not None:
        value = local.get(key, version=version)
        if value is not None:
            return value, False
    value = load()
    if ttl > 0 and value is not None:
        if version is None:
            created = secrets.token_hex(8)
            version = created if cache.add(version_key, created, timeout=VERSION_KEY_SECONDS) else None
        if version is not None:
            local.put(key, value, version=version, ttl=ttl)
    return value, True


class VersionStale(Exception):
    """A `VersionCheck` failed: the entry its value came from is out of date. Nothing was done on its behalf."""


@dataclass(slots=True)
class VersionCheck:
    """A value this process held, used before its shared version was read (`read_through_deferred`): the version it
    was loaded under, to compare with the shared one before the value lets anything happen — in a round trip the
    caller makes anyway (the send's counters, apps.core.counters), or on its own (`verify`)."""

    version_key: str
    version: str
    verified: bool = False

    def verify(self) -> bool:
        """Whether the shared version still matches: one cache read, the first time only."""
        if not self.verified:
            self.verified = cache.get(self.version_key) == self.version
        return self.verified


def read_through_deferred(
    local: VersionedLocalCache[Any], key: Hashable, *, version_key: str, ttl: float, load: Callable[[], Any]
) -> tuple[Any, bool, VersionCheck | None]:
    """`read_through` without its shared-cache read when this process holds the value: it is returned with the
    `VersionCheck` the caller must settle before the value has any effect (a failed check means: start over with
    `read_through`). Otherwise `read_through`'s (value, loaded) and no check."""
    if ttl > 0:
        held = local.peek(key)
        if held is not None:
            return held[0], False, VersionCheck(version_key=version_key, version=held[1])
    value, loaded = read_through(local, key, version_key=version_key, ttl=ttl, load=load)
    return value, loaded, None
