"""The Redis broker transport, with one fix to kombu's.

kombu 5.7's Redis channel, closed after its connection to Redis was lost, gives its unacknowledged tasks back through
a new connection pool built from its transport's client — which the lost connection has already released (None).
The AttributeError that follows is not a connection error, so Celery's consumer treats it as unrecoverable and the
worker exits instead of reconnecting (seen in the chaos suite: Redis killed and restarted, the worker gone until its
supervisor started it again, half a minute later). Here a channel without a client raises a connection error, which
kombu's close already ignores; the consumer then reconnects as it does for any lost connection. The tasks it held
unacknowledged are given back by Redis's visibility timeout, as for a worker that died.

Used when the broker is Redis (`CELERY_BROKER_TRANSPORT` in the settings).
"""

from typing import Any

import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            raise redis.exceptions.ConnectionError("the broker connection is already closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
