"""Errors. Every error the API answers has one shape, `{"code", "message", "details"}`: `ApiError` carries it whole.

Branch on `code` (stable, machine-readable; new codes may be added and need no new client) or on the subclass, which
is chosen by HTTP status only, so an unknown code still lands in the right family.
"""

from __future__ import annotations

from typing import Any


class PeerPowerError(Exception):
    """Anything this client raises."""


class TransportError(PeerPowerError):
    """No answer from the API: a connection error or a timeout (after the client's own retries, where it may retry)."""


class SignatureVerificationError(PeerPowerError):
    """A webhook request whose `PeerPower-Signature` does not verify (wrong secret, changed body, or too old)."""


class ApiError(PeerPowerError):
    """The API answered with an error status."""

    def __init__(
        self,
        *,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}
        self.request_id = request_id
        self.retry_after = retry_after


class BadRequestError(ApiError):
    """400, 413, 415: the request is wrong (`details` says what to fix); sending it unchanged fails again."""


class AuthenticationError(ApiError):
    """401: no API key, or a wrong or revoked one."""


class InsufficientBalanceError(ApiError):
    """402: the wallet cannot pay for this (top up first)."""


class PermissionDeniedError(ApiError):
    """403: the key or organisation may not do this (`client_blocked`, ...)."""


class NotFoundError(ApiError):
    """404: no such object for you (another client's objects are 404 too)."""


class ConflictError(ApiError):
    """409: conflicts with the current state (`idempotency_key_reused`, `message_not_cancellable`, ...)."""


class UnprocessableError(ApiError):
    """422: valid but refused (`content_rejected`, `recipient_opted_out`, ...): do not retry."""


class RateLimitError(ApiError):
    """429: too many requests (`rate_limited`, `daily_quota_exceeded`); `retry_after` says how long to wait."""


class ServerError(ApiError):
    """5xx: the service failed or is unavailable; retry later with the same idempotency key."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientBalanceError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: BadRequestError,
    415: BadRequestError,
    422: UnprocessableError,
    429: RateLimitError,
}


def error_class(status: int) -> type[ApiError]:
    """The exception class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ApiError)
