"""A file cache that every process on the machine shares, with atomic add/incr for rate limits and counters.

The embedded default has no Redis. Per-process memory would let each web worker keep its own rate-limit counters;
Django's file cache is shared but its add/incr are read-modify-write races. This one serialises them with an
exclusive lock on a file beside the cache.
"""

import fcntl
import os
import pickle
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache.backends.filebased import FileBasedCache


class SharedFileCache(FileBasedCache):
    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        os.makedirs(self._dir, exist_ok=True)
        with open(os.path.join(self._dir, ".lock"), "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def add(self, key: str, value: Any, timeout: Any = None, version: int | None = None) -> bool:
        with self._exclusive():
            return super().add(key, value, timeout, version)

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        with self._exclusive():
            fname = self._key_to_file(key, version)
            try:
                with open(fname, "rb") as handle:
                    expiry = pickle.load(handle)  # noqa: S301 - our own cache files, as in Django's backend
                    if expiry is not None and expiry < time.time():
                        raise FileNotFoundError(fname)
                    value = pickle.loads(zlib.decompress(handle.read()))  # noqa: S301
            except FileNotFoundError:
                raise ValueError(f"Key '{key}' not found") from None
            new_value = value + delta
            # Keep the key's remaining lifetime, as Redis INCR does.
            timeout = None if expiry is None else max(expiry - time.time(), 0.001)
            self.set(key, new_value, timeout=timeout, version=version)
            return new_value
