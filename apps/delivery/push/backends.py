"""Push backends and how the configured one is chosen (settings.PUSH_BACKEND), as Django chooses email backends.

- "fcm": Firebase Cloud Messaging through firebase-admin (apps.delivery.push.fcm), production's backend;
- "log": development without a Firebase account; every push is logged and reported sent;
- a dotted path to a PushBackend subclass.
"""

import hashlib
import logging
import uuid
from collections.abc import Sequence
from functools import cache

from django.conf import settings
from django.core.checks import CheckMessage
from django.utils.module_loading import import_string

from apps.delivery.push.types import PushOutcome, PushRequest, PushResult

logger = logging.getLogger("peerpower.push")


class PushBackend:
    """Sends data-only pushes. A backend sends `request.data` exactly as given and never adds to it.

    Delivery problems are results, not exceptions: `send_many` returns one PushResult per request, in order.
    It raises only for misconfiguration (ImproperlyConfigured), which no retry can fix.
    Backends are shared by every thread of a process, so they must be thread-safe.
    """

    @classmethod
    def check_configuration(cls) -> list[CheckMessage]:
        """Problems with this backend's settings, reported by Django's system checks at start-up."""
        return []

    def prepare(self) -> None:
        """Build now what the backend would build at its first push (clients, credentials): a Celery worker calls
        this in its main process before forking its pool, so the pool processes inherit it instead of each building
        its own. Nothing by default."""

    def send(self, request: PushRequest) -> PushResult:
        return self.send_many([request])[0]

    def send_many(self, requests: Sequence[PushRequest]) -> list[PushResult]:
        raise NotImplementedError


def token_fingerprint(token: str) -> str:
    """Identifies a device token in logs without writing the token (which anyone could use to push to the phone)."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


class LogPushBackend(PushBackend):
    """Development: writes each push to the log instead of sending it, and reports it sent."""

    def send_many(self, requests: Sequence[PushRequest]) -> list[PushResult]:
        results = []
        for request in requests:
            message_id = f"log:{uuid.uuid4().hex}"
            logger.info(
                "push (log backend, not sent) device=%s ttl=%ss data=%s",
                token_fingerprint(request.token),
                request.ttl_seconds,
                request.data,
            )
            results.append(PushResult(outcome=PushOutcome.SENT, message_id=message_id))
        return results


BACKEND_ALIASES = {
    "fcm": "apps.delivery.push.fcm.FcmPushBackend",
    "log": "apps.delivery.push.backends.LogPushBackend",
}


def backend_class(name: str) -> type:
    return import_string(BACKEND_ALIASES.get(name, name))


@cache
def _backend_for(name: str) -> PushBackend:
    return backend_class(name)()


def get_push_backend() -> PushBackend:
    """The backend settings.PUSH_BACKEND names (one instance per process)."""
    return _backend_for(settings.PUSH_BACKEND)
