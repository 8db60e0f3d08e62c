"""Distributed locks for singleton periodic jobs (sweepers, reconcilers): only one process runs them at a time.

With Redis configured the lock is a Redis lock (SET NX PX with a random token); otherwise a row in the database.
Both expire after `ttl` seconds, so a crashed holder cannot block the job for ever; keep `ttl` longer than the job.
"""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import cache

import redis
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.models import Lock


@cache
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


@contextmanager
def distributed_lock(name: str, *, ttl: int = 60) -> Iterator[bool]:
    """`with distributed_lock("leases.sweep", ttl=120) as acquired: if not acquired: return` - never blocks."""
    if settings.REDIS_URL:
        lock = _redis_client(settings.REDIS_URL).lock(f"peerpower:lock:{name}", timeout=ttl, blocking=False)
        acquired = lock.acquire()
        try:
            yield acquired
        finally:
            if acquired:
                try:
                    lock.release()
                except redis.exceptions.LockNotOwnedError:
                    pass  # it expired while we worked; another holder may own it now
        return

    token = secrets.token_hex(16)
    acquired = _database_acquire(name, token, ttl)
    try:
        yield acquired
    finally:
        if acquired:
            Lock.objects.filter(name=name, token=token).delete()


def _database_acquire(name: str, token: str, ttl: int) -> bool:
    now = timezone.now()
    expires_at = now + timedelta(seconds=ttl)
    # Take over an expired lease with a conditional update, or create a new one; the primary key makes the
    # insert fail for everyone but one concurrent caller.
    if Lock.objects.filter(name=name, expires_at__lt=now).update(token=token, expires_at=expires_at) == 1:
        return True
    try:
        with transaction.atomic():
            Lock.objects.create(name=name, token=token, expires_at=expires_at)
        return True
    except IntegrityError:
        return False
