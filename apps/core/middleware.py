"""Request context (request id, client IP) and Prometheus request metrics."""

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.core import metrics
from apps.core.context import reset_context
from apps.core.http import client_ip
from apps.core.views import nul_character

logger = logging.getLogger("peerpower.request")

# An incoming X-Request-ID is kept only when it is short and plain, so it cannot inject into logs or headers.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def incoming_request_id(value: str | None) -> str:
    if value and _SAFE_REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Accepts or creates `X-Request-ID`, returns it, and makes it (and the client IP) visible to logs and audit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = incoming_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id
        reset_context(request_id=request_id, client_ip=client_ip(request))
        started = time.perf_counter()
        # The context is replaced at the start of the next request, not cleared here, so that Django's own
        # request logging (which runs after the middleware returns) still carries this request's id.
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={"status": response.status_code, "duration_ms": round((time.perf_counter() - started) * 1000, 1)},
        )
        return response


class MetricsMiddleware:
    """Counts requests and observes their latency by view name (not path, so ids do not explode the labels)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match and match.view_name else "<unresolved>"
        metrics.HTTP_REQUESTS.labels(request.method, view, str(response.status_code)).inc()
        metrics.HTTP_LATENCY.labels(request.method, view).observe(time.perf_counter() - started)
        return response


class RefuseNulMiddleware:
    """Refuses a NUL character in the path or the query string (400 `nul_character`) before any view sees it.

    No identifier, code or filter value of ours contains one, and PostgreSQL cannot even compare a text column
    with a string holding one (psycopg raises DataError, a 500). JSON bodies are covered by DRF's CharField, which
    refuses NUL in every string field.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            return nul_character(request)
        return self.get_response(request)
