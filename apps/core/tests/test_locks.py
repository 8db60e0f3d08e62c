"""Distributed locks: one holder at a time, expiry, release; on the database and on Redis."""

import os
import time

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from apps.core.locks import distributed_lock


@pytest.fixture(params=["database", "redis"])
def backend(request):
    if request.param == "redis":
        url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
        with override_settings(REDIS_URL=url):
            yield "redis"
    else:
        with override_settings(REDIS_URL=""):
            yield "database"


@pytest.mark.django_db(transaction=True)
def test_one_holder_at_a_time_then_released(backend):
    name = f"test-lock-{backend}-{time.monotonic_ns()}"
    with distributed_lock(name, ttl=30) as first:
        assert first is True
        with distributed_lock(name, ttl=30) as second:
            assert second is False
    with distributed_lock(name, ttl=30) as again:
        assert again is True


@pytest.mark.django_db(transaction=True)
def test_an_expired_lock_can_be_taken_over(backend):
    name = f"test-expiry-{backend}-{time.monotonic_ns()}"
    with time_machine.travel(timezone.now(), tick=False) as clock, distributed_lock(name, ttl=1) as first:
        assert first is True
        with distributed_lock(name, ttl=30) as early:
            assert early is False
        if backend == "redis":
            time.sleep(1.2)  # Redis keeps its own time: there the lease really has to run out
        else:
            clock.shift(1.2)
        with distributed_lock(name, ttl=30) as second:
            assert second is True  # the crashed (slow) holder's lease ran out
