"""The PeerPower API client (API-key authentication).

Sending is safe to retry: `send` and `send_bulk` carry an `Idempotency-Key` (yours, or a new UUID per call) that every
retry of that call reuses, so a message is stored, sent and billed once however often the request goes out.

Retries: 429 and 503 are retried after `Retry-After` (when the server sends one; else exponential backoff with
jitter), up to `max_retries` times; a wait longer than `max_retry_wait` (a daily quota that resets at midnight) is
not waited for but raised. Network errors, timeouts and other 5xx answers are retried too, but only for requests that
are safe to repeat: reads, and sends (idempotency key).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from peerpower_client.errors import ApiError, PeerPowerError, TransportError, error_class
from peerpower_client.models import (
    BulkResult,
    Currency,
    Message,
    MessagePage,
    MessageRequest,
    Priority,
    TopUp,
    Wallet,
)

__version__ = "0.1.0"

RETRY_STATUSES = frozenset({429, 503})
# Answered by a server that may have done the work: repeated only when the request is idempotent.
RETRY_STATUSES_IF_IDEMPOTENT = frozenset({500, 502, 504})


class PeerPower:
    """`PeerPower(api_key="pp_live_...", base_url="https://...")`; both default to the environment's
    `PEERPOWER_API_KEY` and `PEERPOWER_URL`. Use it as a context manager, or call `close()`."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_wait: float = 60.0,
        language: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        http_client: httpx.Client | None = None,
    ) -> None:
        api_key = api_key or os.environ.get("PEERPOWER_API_KEY")
        base_url = base_url or os.environ.get("PEERPOWER_URL")
        if not api_key:
            raise PeerPowerError("No API key: pass api_key= or set PEERPOWER_API_KEY.")
        if not base_url:
            raise PeerPowerError("No API address: pass base_url= or set PEERPOWER_URL.")
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_wait = max_retry_wait
        self._sleep = sleep
        headers = {"Authorization": f"Bearer {api_key}", "User-Agent": f"peerpower-python/{__version__}"}
        if language:
            headers["Accept-Language"] = language
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout)
        self._base_url = base_url.rstrip("/")
        self._headers = headers

    # --- Messages -------------------------------------------------------------------------------------------------

    def send(
        self,
        to: str,
        body: str,
        *,
        priority: Priority | None = None,
        reference: str | None = None,
        callback_url: str | None = None,
        scheduled_at: datetime | str | None = None,
        validity_seconds: int | None = None,
        idempotency_key: str | None = None,
    ) -> Message:
        """Send one SMS (`POST /api/messages/send`); the stored message, `queued` (or `held`, or scheduled)."""
        payload = _message_payload(
            MessageRequest(to=to, body=body),
            priority=priority,
            reference=reference,
            callback_url=callback_url,
            scheduled_at=scheduled_at,
            validity_seconds=validity_seconds,
        )
        data = self._request("POST", "/api/messages/send", json=payload, idempotency_key=_key(idempotency_key))
        return Message.from_api(data)

    def send_bulk(
        self, messages: Iterable[MessageRequest | Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> BulkResult:
        """Send up to 1,000 messages in one request; each is accepted or refused on its own."""
        payload = {"messages": [_message_payload(dict(message)) for message in messages]}
        return BulkResult.from_api(
            self._request("POST", "/api/messages/bulk", json=payload, idempotency_key=_key(idempotency_key))
        )

    def get(self, message_id: int) -> Message:
        """One of your messages, with its current status."""
        return Message.from_api(self._request("GET", f"/api/messages/{int(message_id)}"))

    def list(
        self,
        *,
        status: str | None = None,
        reference: str | None = None,
        created_after: datetime | str | None = None,
        created_before: datetime | str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> MessagePage:
        """One page of your messages, newest first."""
        params = {
            "status": status,
            "reference": reference,
            "created_after": _time_text(created_after),
            "created_before": _time_text(created_before),
            "limit": limit,
            "cursor": cursor,
        }
        data = self._request("GET", "/api/messages", params={k: v for k, v in params.items() if v is not None})
        return MessagePage(
            results=[Message.from_api(row) for row in data["results"]],
            next_cursor=_cursor(data.get("next")),
            previous_cursor=_cursor(data.get("previous")),
        )

    def iter_messages(self, **filters: Any) -> Iterator[Message]:
        """Every message matching the filters of `list`, page after page."""
        cursor = filters.pop("cursor", None)
        while True:
            page = self.list(cursor=cursor, **filters)
            yield from page.results
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def cancel(self, message_id: int) -> Message:
        """Cancel a message no phone has sent yet; ConflictError `message_not_cancellable` otherwise."""
        return Message.from_api(self._request("POST", f"/api/messages/{int(message_id)}/cancel", idempotent=True))

    # --- Money ----------------------------------------------------------------------------------------------------

    def balance(self, *, ledger: str = "PPT") -> Wallet:
        """The organisation's wallet: available, pending in and pending out (`GET /api/wallet`)."""
        return Wallet.from_api(self._request("GET", "/api/wallet", params={"ledger": ledger}))

    def top_up(self, amount: str | int, currency: Currency, *, method: str | None = None) -> TopUp:
        """Buy PPT through Baray: pay at the answer's `checkout_url` (or its KHQR for `method="aba_khqr"`).
        `amount` in whole units of the currency: `"10.50"` USD, `"40000"` KHR."""
        payload: dict[str, Any] = {"amount": amount, "currency": currency}
        if method is not None:
            payload["method"] = method
        return TopUp.from_api(self._request("POST", "/api/billing/topups", json=payload))

    def get_top_up(self, topup_id: str) -> TopUp:
        """A top-up and its status (`pending`, `succeeded`, `failed`, `expired`)."""
        return TopUp.from_api(self._request("GET", f"/api/billing/topups/{topup_id}"))

    # --- Plumbing -------------------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> PeerPower:
        return self

    def __exit__(self, kind: type | None, value: BaseException | None, traceback: TracebackType | None) -> None:
        self.close()

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Send a request, retrying as the module says; the decoded JSON answer, or an ApiError / TransportError."""
        headers = dict(self._headers)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        safe = idempotent if idempotent is not None else (method == "GET" or idempotency_key is not None)
        url = self._base_url + path
        attempt = 0
        while True:
            try:
                response = self._http.request(method, url, json=json, params=params, headers=headers)
            except httpx.TransportError as error:
                if safe and attempt < self.max_retries:
                    self._sleep(self._backoff(attempt))
                    attempt += 1
                    continue
                raise TransportError(f"{method} {path}: {error}") from error
            if response.is_success:
                return response.json() if response.content else None
            error = _api_error(response)
            retryable = response.status_code in RETRY_STATUSES or (
                safe and response.status_code in RETRY_STATUSES_IF_IDEMPOTENT
            )
            if not retryable or attempt >= self.max_retries:
                raise error
            delay = self._backoff(attempt) if error.retry_after is None else error.retry_after + self._jitter()
            if delay > self.max_retry_wait:
                raise error
            self._sleep(delay)
            attempt += 1

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: a random wait up to base x 2^attempt (capped)."""
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    def _jitter(self) -> float:
        # A little on top of Retry-After, so clients told the same moment do not all come back at once.
        return random.uniform(0, self.backoff_base / 5)


def _key(given: str | None) -> str:
    return given if given is not None else str(uuid.uuid4())


def _time_text(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _message_payload(message: dict[str, Any], **options: Any) -> dict[str, Any]:
    payload = {**message, **{name: value for name, value in options.items() if value is not None}}
    if isinstance(payload.get("scheduled_at"), datetime):
        payload["scheduled_at"] = payload["scheduled_at"].isoformat()
    return payload


def _cursor(url: str | None) -> str | None:
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("cursor")
    return values[0] if values else None


def _api_error(response: httpx.Response) -> ApiError:
    """The API's `{code, message, details}` as an exception of the status's class; any code, known or new."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "code" not in body:
        body = {"code": f"http_{response.status_code}", "message": response.text[:200] or response.reason_phrase}
    retry_after = _retry_after(response.headers.get("Retry-After"))
    return error_class(response.status_code)(
        status=response.status_code,
        code=str(body["code"]),
        message=str(body.get("message", "")),
        details=body.get("details") if isinstance(body.get("details"), dict) else {},
        request_id=response.headers.get("X-Request-ID"),
        retry_after=retry_after,
    )


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (PeerPower sends whole seconds; an HTTP date from a proxy is read too)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
