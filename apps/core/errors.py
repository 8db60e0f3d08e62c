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


class InvalidFields(ValidationFailed):
    """Several fields of one request are wrong: `details.fields.<name>[] = {code, message[, details]}`, the shape of
    DRF's validation errors, so a client learns every mistake at once. Raised by `FieldErrors`."""


class _FieldScope:
    __slots__ = ("errors", "name")

    def __init__(self, errors: "FieldErrors", name: str) -> None:
        self.errors, self.name = errors, name

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> bool:
        if isinstance(error, DomainError):
            self.errors.errors[self.name] = error
            return True  # kept, not raised
        return False


class FieldErrors:
    """Collects each field's domain error instead of stopping at the first.

        errors = FieldErrors()
        with errors.field("to"):
            phone = normalize_phone(raw)
        with errors.field("body"):
            checked = validate_body(body)
        errors.raise_if_any()

    One failing field raises its own error unchanged (its code, status and details: `phone_invalid` stays
    `phone_invalid`); several raise `InvalidFields` (400 `validation_error`) listing each. `fields` may start with
    the errors a DRF serializer found (`ValidationError.get_full_details()`), which always count as several.
    """

    def __init__(self, fields: dict[str, list[dict]] | None = None) -> None:
        self.fields = {name: list(errors) for name, errors in (fields or {}).items()}
        self.errors: dict[str, DomainError] = {}

    def field(self, name: str) -> "_FieldScope":
        """A `with` block whose domain error is kept for `name` instead of raised. A plain class rather than
        `@contextmanager`: the send path opens several per message (a bulk request thousands), and a generator-based
        one costs several times as much to enter and leave."""
        return _FieldScope(self, name)

    def __bool__(self) -> bool:
        return bool(self.fields or self.errors)

    def raise_if_any(self) -> None:
        if self:
            raise self.exception()

    def exception(self) -> DomainError:
        """The error to raise for what was collected (there must be something)."""
        if not self.fields and len(self.errors) == 1:
            return next(iter(self.errors.values()))
        fields = dict(self.fields)
        for name, error in self.errors.items():
            entry: dict[str, Any] = {"message": str(error.message), "code": error.code}
            if error.details:
                entry["details"] = error.details
            fields.setdefault(name, []).append(entry)
        return InvalidFields(details={"fields": fields})
