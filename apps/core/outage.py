"""A store a request needs is down for a moment — Redis restarting (cache, sessions, rate limits, admission counters,
the broker), PostgreSQL failing over — and the request cannot be served: 503 `service_unavailable` with a
Retry-After, not a 500. Nothing the request started is half-done: the view's transaction (if any) rolled back with
the exception, and a message already stored answers its Idempotency-Key on the retry.

`OutageMiddleware` turns such an exception raised by a view (DRF re-raises what its handler does not know) into the
503; `apps.core.views.server_error` does the same for one raised by a middleware (the session store, for one).
"""

import logging
from collections.abc import Callable

import redis
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError as BrokerUnavailable

from apps.core.api import error_body

logger = logging.getLogger("peerpower.outage")

# Errors that mean "a store is unreachable or failing over", not "this request is wrong": a client's retry after a
# few seconds succeeds. (Django's OperationalError also covers SQLite's "database is locked" and PostgreSQL's
# deadlocks and serialization failures, which a retry resolves too.)
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    BrokerUnavailable,
    OperationalError,
    InterfaceError,
)
# Seconds a client waits before retrying: a Redis restart or a PostgreSQL crash recovery takes a few.
RETRY_AFTER_SECONDS = 5


def outage_response(request: HttpRequest, exception: BaseException | None) -> HttpResponse | None:
    """The 503 for an outage error, or None for any other exception (a real fault: the 500 stands)."""
    if not isinstance(exception, OUTAGE_ERRORS):
        return None
    # Logged with its trace (Sentry sees it), but as what it is: a store's outage, not a bug in this request.
    logger.warning("store unavailable: %s %s", request.method, request.path, exc_info=exception)
    body = error_body("service_unavailable", _("The service is temporarily unavailable. Try again later."))
    response = JsonResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class OutageMiddleware:
    """A view's outage error → 503 `service_unavailable` with Retry-After (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return outage_response(request, exception)
