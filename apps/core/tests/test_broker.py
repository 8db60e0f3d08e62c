"""The Redis broker transport (apps.core.broker): closing a channel whose connection to Redis was lost, with a task
delivered and not yet acknowledged, must not raise anything but a connection error — Celery's consumer then
reconnects; anything else stops the worker."""

import uuid

import pytest
from django.conf import settings
from kombu import Connection

from peerpower.celery import app

pytestmark = pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis"), reason="the Redis broker (CI's PostgreSQL + Redis run)"
)


def close_after_lost_connection(transport: str) -> None:
    """Take a message without acknowledging it, lose the transport's client as a lost connection does, close."""
    name = f"test-broker-{uuid.uuid4().hex}"
    connection = Connection(settings.CELERY_BROKER_URL, transport=transport)
    queue = connection.SimpleQueue(name)
    try:
        queue.put({"task": "x"})
        queue.get(timeout=5)  # delivered, unacknowledged: closing the channel gives it back
        connection.transport.client = None
        connection.close()
    finally:
        with Connection(settings.CELERY_BROKER_URL) as cleanup:
            cleanup.default_channel.queue_delete(name)


def test_kombus_own_transport_raises_an_unrecoverable_error_there():
    """The defect worked around (kombu 5.7). When this fails, kombu has fixed it: apps.core.broker can go."""
    with pytest.raises(AttributeError):
        close_after_lost_connection("redis")


def test_ours_closes_the_channel_and_the_worker_can_reconnect():
    close_after_lost_connection("apps.core.broker:Transport")


def test_celery_uses_it_for_a_redis_broker():
    assert app.conf.broker_transport == "apps.core.broker:Transport"
    with app.connection_for_write() as connection:
        assert type(connection.transport).__module__ == "apps.core.broker"


def test_a_channel_reuses_one_redis_client_for_its_pool_and_a_new_pool_gets_a_new_one():
    name = f"test-broker-{uuid.uuid4().hex}"
    with Connection(settings.CELERY_BROKER_URL, transport="apps.core.broker:Transport") as connection:
        channel = connection.default_channel
        try:
            with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
                assert first is second
            queue = connection.SimpleQueue(name)
            queue.put({"task": "x"})
            assert queue.get(timeout=5).payload == {"task": "x"}  # published and taken through it
            with channel.conn_or_acquire() as again:
                assert again is first
            channel._disconnect_pools()  # as after a fork: the next command opens a new pool
            with channel.conn_or_acquire() as fresh:
                assert fresh is not first
                assert fresh.connection_pool is channel._pool
                assert fresh.ping()
        finally:
            channel.queue_delete(name)
