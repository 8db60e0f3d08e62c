"""Domain errors: services raise these; the API's exception handler turns them into `{code, message, details}`.

Each subclass carries a stable machine-readable `code` (clients branch on it), an HTTP status and a translatable
default message (English and Khmer). Raise with `details` for what the client needs to fix the request.
"""

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    status_code = 400
    code = "invalid_request"
    default_message: str | Promise = _("The request cannot be processed.")

    def __init__(
        self,
        message: str | Promise | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message if message is not None else self.default_message
        if code is not None:
            self.code = code
        self.details = details or {}
        super().__init__(str(self.message))


class ValidationFailed(DomainError):
    status_code = 400
    code = "validation_error"
    default_message = _("Invalid input.")


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    default_message = _("Not found.")


class PermissionDenied(DomainError):
    status_code = 403
    code = "permission_denied"
    default_message = _("You do not have permission to perform this action.")


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    default_message = _("The request conflicts with the current state.")


class Unprocessable(DomainError):
    status_code = 422
    code = "unprocessable"
    default_message = _("The request is well-formed but cannot be carried out.")


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"
    default_message = _("Too many requests. Try again later.")

    def __init__(self, *, retry_after: int, message: str | Promise | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code, details={"retry_after": retry_after})
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    status_code = 503
    code = "service_unavailable"
    default_message = _("The service is temporarily unavailable. Try again later.")
