"""The in-process cache with shared versions: expiry, eviction, and invalidation through the shared cache."""

from django.core.cache import cache

from apps.core.local_cache import VersionedLocalCache, read_through, version_bump


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_expires_after_its_ttl():
    clock = Clock()
    local = VersionedLocalCache(max_entries=10, clock=clock)
    local.put("a", 1, version="v", ttl=5)
    clock.now += 4.9
    assert local.get("a", version="v") == 1
    clock.now += 0.2
    assert local.get("a", version="v") is None and len(local) == 0


def test_the_least_recently_used_entry_goes_first():
    local = VersionedLocalCache(max_entries=2)
    local.put("a", 1, version="v", ttl=60)
    local.put("b", 2, version="v", ttl=60)
    local.get("a", version="v")
    local.put("c", 3, version="v", ttl=60)
    assert [local.get(key, version="v") for key in "abc"] == [1, None, 3]


def test_a_bumped_version_makes_every_holder_reload():
    loads = []

    def load() -> str:
        loads.append(1)
        return f"value {len(loads)}"

    here, elsewhere = VersionedLocalCache(max_entries=10), VersionedLocalCache(max_entries=10)
    assert read_through(here, "k", version_key="test:v", ttl=60, load=load) == ("value 1", True)
    assert read_through(elsewhere, "k", version_key="test:v", ttl=60, load=load) == ("value 2", True)
    assert read_through(here, "k", version_key="test:v", ttl=60, load=load) == ("value 1", False)
    version_bump("test:v")
    assert read_through(here, "k", version_key="test:v", ttl=60, load=load) == ("value 3", True)
    assert read_through(elsewhere, "k", version_key="test:v", ttl=60, load=load) == ("value 4", True)


def test_a_lost_version_key_never_matches_an_old_entry():
    local = VersionedLocalCache(max_entries=10)
    read_through(local, "k", version_key="test:lost", ttl=60, load=lambda: "old")
    cache.delete("test:lost")
    assert read_through(local, "k", version_key="test:lost", ttl=60, load=lambda: "new") == ("new", True)
    assert read_through(local, "k", version_key="test:lost", ttl=60, load=lambda: "newer") == ("new", False)


def test_nothing_refused_leaves_a_version_behind():
    local = VersionedLocalCache(max_entries=10)
    assert read_through(local, "k", version_key="test:refused", ttl=60, load=lambda: None) == (None, True)
    assert cache.get("test:refused") is None and len(local) == 0


def test_a_bump_during_the_first_load_keeps_nothing():
    local = VersionedLocalCache(max_entries=10)

    def load_while_revoked_elsewhere() -> str:
        version_bump("test:race")  # another process revokes between our read of the version and our load
        return "stale"

    read_through(local, "k", version_key="test:race", ttl=60, load=load_while_revoked_elsewhere)
    assert len(local) == 0


def test_without_a_ttl_every_read_loads_and_nothing_is_kept():
    local = VersionedLocalCache(max_entries=10)
    assert read_through(local, "k", version_key="test:off", ttl=0, load=lambda: "x") == ("x", True)
    assert len(local) == 0 and cache.get("test:off") is None
