"""The Redis broker transport, with one fix to kombu's.

kombu 5.7's Redis channel, closed after its connection to Redis was lost, gives its unacknowledged tasks back through
a new connection pool built from its transport's client — which the lost connection has already released (None).
The AttributeError that follows is not a connection error, so Celery's consumer treats it as unrecoverable and the
worker exits instead of reconnecting (seen in the chaos suite: Redis killed and restarted, the worker gone until its
supervisor started it again, half a minute later). Here a channel without a client raises a connection error, which
kombu's close already ignores; the consumer then reconnects as it does for any lost connection. The tasks it held
unacknowledged are given back by Redis's visibility timeout, as for a worker that died.

And one cut: kombu builds a new redis-py client for every command it sends outside the consumer's loop — each task
published (`_put`), and in a worker each task taken and acknowledged (the unacked bookkeeping) — though every one of
them uses the channel's one connection pool. Building a client (its response-callback tables) was about a third of a
publish's CPU in a profile of the workers end to end. Here a channel reuses one client for its pool; a new pool (the
channel's connections closed and opened again) gets a new client, built as kombu builds it.

Used when the broker is Redis (`CELERY_BROKER_TRANSPORT` in the settings).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            raise redis.exceptions.ConnectionError("the broker connection is already closed")
        return super()._connparams(asynchronous=asynchronous)

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        # redis-py's client is safe to share between threads and keeps nothing per command (each takes a connection
        # from the pool); the pool itself starts afresh in a forked child.
        reused = self.__dict__.get("_reused_client")
        if reused is None or self._pool is None or reused[0] is not self._pool:
            client = self._create_client()  # opens the pool if need be (refused once the connection is closed)
            reused = self._reused_client = (self._pool, client)
        yield reused[1]


class Transport(kombu_redis.Transport):
    Channel = Channel
