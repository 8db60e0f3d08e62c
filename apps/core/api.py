"""The one API exception handler: every error leaves as `{"code", "message", "details"}`.

Validation, authentication, permission, 404, method, media type, throttling, rate limits and domain errors all use
this shape, so clients need one error parser. Messages follow the request language (Khmer or English).
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from apps.core.errors import DomainError

# Our own message for each DRF error code, so they are translated (DRF ships no Khmer catalogue).
DRF_MESSAGES = {
    "invalid": _("Invalid input."),
    "parse_error": _("Malformed request body."),
    "authentication_failed": _("Incorrect authentication credentials."),
    "not_authenticated": _("Authentication credentials were not provided."),
    "permission_denied": _("You do not have permission to perform this action."),
    "not_found": _("Not found."),
    "method_not_allowed": _("Method not allowed."),
    "not_acceptable": _("The requested response format is not available."),
    "unsupported_media_type": _("Unsupported media type; send JSON."),
    "throttled": _("Too many requests. Try again later."),
}
# Stable public codes (DRF's "invalid" becomes "validation_error", "throttled" becomes "rate_limited").
PUBLIC_CODES = {"invalid": "validation_error", "parse_error": "malformed_request", "throttled": "rate_limited"}


def error_body(code: str, message: Any, details: dict | None = None) -> dict[str, Any]:
    return {"code": code, "message": str(message), "details": details or {}}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF EXCEPTION_HANDLER. Unknown exceptions return None and become a JSON 500 (see apps.core.views)."""
    headers: dict[str, str] = {}
    if isinstance(exc, DomainError):
        set_rollback()
        if getattr(exc, "retry_after", None) is not None:
            headers["Retry-After"] = str(exc.retry_after)
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code, headers=headers)

    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    if not isinstance(exc, drf.APIException):
        return None

    set_rollback()
    # A DRF error raised with its own code (AuthenticationFailed(..., code="session_revoked")) keeps that code.
    codes = exc.get_codes()
    drf_code = codes if isinstance(codes, str) else exc.default_code
    code = PUBLIC_CODES.get(drf_code, drf_code)
    details: dict[str, Any] = {}
    if isinstance(exc, drf.ValidationError):
        full = exc.get_full_details()
        details = {"fields": full} if isinstance(exc.detail, dict) else {"errors": full}
    elif isinstance(exc, drf.Throttled) and exc.wait is not None:
        details = {"retry_after": int(exc.wait + 0.999)}
    elif drf_code in DRF_MESSAGES and str(exc.detail) != str(exc.default_detail):
        details = {"reason": str(exc.detail)}

    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None) is not None:
        headers["Retry-After"] = str(int(exc.wait + 0.999))
    message = DRF_MESSAGES.get(drf_code) or (exc.detail if isinstance(exc.detail, str) else exc.default_detail)
    return Response(error_body(code, message, details), status=exc.status_code, headers=headers)
