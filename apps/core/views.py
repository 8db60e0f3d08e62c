"""Health, readiness and metrics endpoints, plus JSON error pages for the API."""

import ipaddress
import secrets
import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from apps.core import metrics as project_metrics
from apps.core.api import error_body
from apps.core.health import run_checks
from apps.core.http import client_ip
from apps.core.outage import outage_response


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. No I/O, so a slow database never gets a healthy web process restarted."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: every dependency answers. 503 names what failed, so the load balancer and staff see why."""
    results = run_checks()
    failed = [result.name for result in results if not result.ok]
    body = {
        "status": "fail" if failed else "ok",
        "failed": failed,
        "checks": {
            result.name: {
                "ok": result.ok,
                "duration_ms": result.duration_ms,
                **({"error": result.error} if result.error else {}),
            }
            for result in results
        },
    }
    return JsonResponse(body, status=503 if failed else 200)


def _metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and secrets.compare_digest(header, f"Bearer {token}"):
        return True
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(allowed, strict=False) for allowed in settings.METRICS_ALLOWED_IPS)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _metrics_allowed(request):
        return JsonResponse(error_body("permission_denied", _("Metrics are not available to this client.")), status=403)
    body, content_type = project_metrics.exposition()
    return HttpResponse(body, content_type=content_type)


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


# The API's fallback route answers every method: a POST to an unknown /api/ path is a 404 like a GET, not a CSRF
# failure (nothing here reads or changes anything).
@csrf_exempt
def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if wants_json(request):
        return JsonResponse(error_body("not_found", _("Not found.")), status=404)
    return render(request, "404.html", status=404)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: what Django refuses before a view can (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, too many form
    fields, a disallowed host). The API gets its JSON error shape; a body that is too large is a 413."""
    if isinstance(exception, RequestDataTooBig):
        body = error_body(
            "request_too_large",
            _("The request body is too large."),
            {"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE},
        )
        return JsonResponse(body, status=413) if wants_json(request) else HttpResponse(status=413)
    if wants_json(request):
        return JsonResponse(error_body("bad_request", _("The request cannot be processed.")), status=400)
    return HttpResponseBadRequest()


def nul_character(request: HttpRequest) -> HttpResponse:
    """A NUL character in the path or the query string (see apps.core.middleware.RefuseNulMiddleware)."""
    if wants_json(request):
        body = error_body("nul_character", _("The address contains a NUL character."))
        return JsonResponse(body, status=400)
    return HttpResponseBadRequest()


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW. API views are CSRF-exempt (they authenticate with tokens, not cookies); a CSRF failure
    under /api/ still answers in the API's shape rather than with Django's HTML page."""
    if wants_json(request):
        return JsonResponse(error_body("csrf_failed", _("CSRF verification failed."), {"reason": reason}), status=403)
    return django_csrf_failure(request, reason=reason)


def server_error(request: HttpRequest) -> HttpResponse:
    # handler500 runs inside Django's `except` for the uncaught exception: one a middleware raised because a store
    # is down (the session store during a Redis restart) is a 503, as the same error from a view is.
    unavailable = outage_response(request, sys.exc_info()[1])
    if unavailable is not None:
        return unavailable
    if wants_json(request):
        return JsonResponse(error_body("server_error", _("Something went wrong on our side.")), status=500)
    return render(request, "500.html", status=500)
