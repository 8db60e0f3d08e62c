"""Health, readiness and metrics endpoints, plus JSON error pages for the API."""

import ipaddress
import secrets

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core import metrics as project_metrics
from apps.core.api import error_body
from apps.core.health import run_checks
from apps.core.http import client_ip


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


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body("not_found", _("Not found.")), status=404)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body("server_error", _("Something went wrong on our side.")), status=500)
    return render(request, "500.html", status=500)
