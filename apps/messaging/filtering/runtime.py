"""The content filter as the send path uses it: compiled once per process, refreshed when staff edit the rules.

Compiling reads the term and domain tables and builds the segmenter's trie (tens of milliseconds), so each process
keeps its compiled filter in memory and checks messages with no database query. Every change to the rules
(through `apps.messaging.services`) stores a new random version under one key in the shared cache once its
transaction commits. A process compares that key with the version it compiled at most every
CONTENT_FILTER_RELOAD_SECONDS, and recompiles when it differs, so an edit reaches every web worker and Celery
worker within that many seconds (the editing process at once). If the key is lost (cache flushed or evicted), a
new version is stored and every process recompiles once: the database stays the truth.
"""

import threading
import time
import uuid

from django.conf import settings
from django.core.cache import cache

from apps.messaging.filtering.engine import ContentFilter, FilterDecision
from apps.messaging.filtering.model import shipped_model

VERSION_KEY = "messaging:content_filter:version"


def shared_version() -> str:
    """The current rules version in the shared cache, creating one if there is none."""
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(VERSION_KEY)
    return version


def build_content_filter() -> ContentFilter:
    from apps.messaging.selectors import domain_rules_active, filter_terms_active  # models need the app registry

    model = shipped_model() if settings.CONTENT_FILTER_CLASSIFIER else None
    return ContentFilter(terms=filter_terms_active(), domains=domain_rules_active(), model=model)


class CompiledFilterCache:
    """One process's compiled filter and the rules version it was compiled from."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._filter: ContentFilter | None = None
        self._version: str | None = None
        self._checked_at = 0.0

    def get(self) -> ContentFilter:
        now = time.monotonic()
        compiled = self._filter
        if compiled is not None and now - self._checked_at < settings.CONTENT_FILTER_RELOAD_SECONDS:
            return compiled
        version = shared_version()
        if compiled is not None and version == self._version:
            self._checked_at = now
            return compiled
        with self._lock:
            if self._filter is not None and self._version == version:
                return self._filter  # another thread compiled it while this one waited
            compiled = build_content_filter()
            self._filter, self._version, self._checked_at = compiled, version, now
            return compiled

    def expire(self) -> None:
        """Check the shared version on the next `get` (this process just changed the rules)."""
        self._checked_at = 0.0


compiled_filter = CompiledFilterCache()


def publish_rules_changed() -> None:
    """Tell every process the rules changed. Call after the change committed (`transaction.on_commit`)."""
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    compiled_filter.expire()


def check_content(body: str) -> FilterDecision:
    """Score a message body with the current rules: allow, hold for review or reject, with reasons."""
    return compiled_filter.get().check(
        body, hold_score=settings.CONTENT_FILTER_HOLD_SCORE, reject_score=settings.CONTENT_FILTER_REJECT_SCORE
    )
