"""Wire clients of the two payout APIs, over httpx. Each call answers an `Outcome`; none raises for what the other
side did, so the caller books exactly what is known:

- `succeeded` / `failed`: the other side said so (a failure is definite only when the answer says the request was
  refused or the transaction failed);
- `unknown`: no usable answer (timeout, connection reset, 5xx, an answer we cannot read) or still in progress —
  the payout stays pending and only a status check resolves it, the request is never sent again;
- `not_found`: a status check found no transaction under our reference (it never arrived).

Airtime speaks Reloadly's API: an OAuth2 client-credentials token (`POST {auth}/oauth/token`, cached until it
expires), `POST /topups` with our `customIdentifier`, and status by `GET /topups/{transactionId}/status` or, when the
top-up's answer was lost, `GET /topups/reports/transactions?customIdentifier=…`.

Cash speaks ABA PayWay's payout API: beneficiaries are whitelisted first (`add-whitelist-payout`), each request
carries `hash` = base64(HMAC-SHA512(concatenated fields, API key)). PayWay RSA-encrypts `merchant_auth` with the
bank's public key; here it is base64 of the same JSON, which the fake reads (the RSA step is a deployment detail
to add with the bank's key, not a change of flow).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

State = Literal["succeeded", "failed", "unknown", "not_found"]
AIRTIME_ACCEPT = "application/com.reloadly.topups-v1+json"
TOKEN_CACHE_KEY = "payouts:airtime:token"  # noqa: S105 - a cache key, not a secret
# Reloadly's transaction statuses.
AIRTIME_SUCCEEDED = {"SUCCESSFUL"}
AIRTIME_FAILED = {"FAILED", "REFUNDED"}
# PayWay's answer codes: "00" success; "11" no such transaction (status check).
PAYWAY_OK = "00"
PAYWAY_NOT_FOUND = "11"
PAYWAY_DUPLICATE = "PTL09"
PAYWAY_APPROVED = {"APPROVED"}
PAYWAY_FAILED = {"DECLINED", "REFUNDED", "CANCELLED"}


@dataclass(frozen=True)
class Outcome:
    state: State
    external_id: str = ""
    reason: str = ""


class _Unreadable(Exception):
    """No usable answer: the outcome is unknown."""


class _ProcessClient:
    """One httpx client per process, shared by its threads (httpx's pool is thread-safe). `httpx.request` built a
    client, with its SSL context (loading the CA bundle), for every call — most of a payout's CPU — and opened a new
    connection each time. A forked child (a Celery prefork pool process, a gunicorn worker) builds its own: the
    parent's pooled sockets must not be shared across processes. Timeouts stay per call. httpx never sends a request
    twice on its own, so a dropped kept-alive connection is an unknown outcome, as a reset was before."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._pid = 0

    def get(self) -> httpx.Client:
        client, pid = self._client, os.getpid()
        if client is not None and self._pid == pid:
            return client
        with self._lock:
            if self._client is None or self._pid != pid:
                # The parent's client is dropped, not closed: closing would shut sockets the parent still uses.
                self._client, self._pid = httpx.Client(), pid
            return self._client


_http = _ProcessClient()


def _call(method: str, url: str, *, timeout: float, **kwargs: Any) -> tuple[int, Any]:
    """(status, JSON body); `_Unreadable` for a timeout, a connection error, a 5xx or a body that is not JSON."""
    try:
        response = _http.get().request(method, url, timeout=timeout, **kwargs)
    except httpx.HTTPError as error:
        raise _Unreadable(f"{type(error).__name__}: {error}"[:200]) from error
    if response.status_code >= 500:
        raise _Unreadable(f"HTTP {response.status_code}")
    try:
        return response.status_code, response.json()
    except ValueError:
        raise _Unreadable(f"HTTP {response.status_code}, body not JSON") from None


def decimal_amount(units: int, scale: int) -> str:
    """Smallest units as the decimal string the wire APIs take (250, 2 → "2.50")."""
    if scale == 0:
        return str(units)
    return f"{units // 10**scale}.{units % 10**scale:0{scale}d}"


class AirtimeClient:
    """The airtime aggregator (Reloadly's shape)."""

    def __init__(self) -> None:
        self.api_url = settings.AIRTIME_API_URL.rstrip("/")
        self.auth_url = settings.AIRTIME_AUTH_URL.rstrip("/")
        self.timeout = settings.AIRTIME_TIMEOUT_SECONDS

    def _token(self, *, fresh: bool = False) -> str:
        token = None if fresh else cache.get(TOKEN_CACHE_KEY)
        if token:
            return token
        status, body = _call(
            "POST",
            f"{self.auth_url}/oauth/token",
            timeout=self.timeout,
            json={
                "client_id": settings.AIRTIME_CLIENT_ID,
                "client_secret": settings.AIRTIME_CLIENT_SECRET,
                "grant_type": "client_credentials",
                "audience": self.api_url,
            },
        )
        if status != 200 or not isinstance(body, dict) or not body.get("access_token"):
            raise _Unreadable(f"no token (HTTP {status})")
        token = str(body["access_token"])
        cache.set(TOKEN_CACHE_KEY, token, max(int(body.get("expires_in") or 60) - 30, 1))
        return token

    def _authorized(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """One call with the cached token; a 401 (expired or revoked token: the request was refused, not run) is
        tried once more with a new token."""
        for fresh in (False, True):
            headers = {"Authorization": f"Bearer {self._token(fresh=fresh)}", "Accept": AIRTIME_ACCEPT}
            status, body = _call(method, f"{self.api_url}{path}", timeout=self.timeout, headers=headers, **kwargs)
            if status != 401:
                return status, body
        return status, body

    def topup(
        self, *, custom_identifier: str, msisdn: str, amount: str, operator_id: int, callback_url: str = ""
    ) -> Outcome:
        payload: dict[str, Any] = {
            "operatorId": operator_id,
            "amount": amount,
            "useLocalAmount": False,
            "customIdentifier": custom_identifier,
            "recipientPhone": {"countryCode": "KH", "number": msisdn.removeprefix("+855")},
        }
        if callback_url:
            payload["callbackUrl"] = callback_url
        try:
            status, body = self._authorized("POST", "/topups", json=payload)
        except _Unreadable as error:
            return Outcome("unknown", reason=str(error))
        if status == 200 and isinstance(body, dict):
            return _airtime_outcome(body)
        error_code = str(body.get("errorCode") or "") if isinstance(body, dict) else ""
        if error_code == "TRANSACTION_ALREADY_EXISTS" or status == 401:
            # Our reference is there already (an earlier answer was lost) or we could not authenticate: only a
            # status check can say what happened.
            return Outcome("unknown", reason=f"HTTP {status} {error_code}".strip())
        message = str(body.get("message") or "") if isinstance(body, dict) else ""
        return Outcome("failed", reason=f"{error_code or status}: {message}"[:200])

    def status(self, *, custom_identifier: str, transaction_id: str = "") -> Outcome:
        try:
            if transaction_id:
                status, body = self._authorized("GET", f"/topups/{transaction_id}/status")
                if status == 200 and isinstance(body, dict):
                    transaction = body.get("transaction") or {}
                    return _airtime_outcome({**transaction, "status": body.get("status")})
            else:
                status, body = self._authorized(
                    "GET", "/topups/reports/transactions", params={"customIdentifier": custom_identifier}
                )
                if status == 200 and isinstance(body, dict):
                    content = body.get("content") or []
                    if not content:
                        return Outcome("not_found", reason="no top-up under our reference")
                    return _airtime_outcome(content[0])
        except _Unreadable as error:
            return Outcome("unknown", reason=str(error))
        if status == 404:
            return Outcome("not_found", reason="no such top-up")
        return Outcome("unknown", reason=f"status check answered HTTP {status}")


def _outcome(state: str, external_id: str, *, succeeded: set[str], failed: set[str], noun: str) -> Outcome:
    """A transaction status as an outcome: any status but a known final one is still unknown."""
    if state in succeeded:
        return Outcome("succeeded", external_id=external_id)
    if state in failed:
        return Outcome("failed", external_id=external_id, reason=f"{noun} {state.lower()}")
    return Outcome("unknown", external_id=external_id, reason=f"{noun} {state.lower() or 'in an unknown state'}")


def _airtime_outcome(body: dict[str, Any]) -> Outcome:
    return _outcome(
        str(body.get("status") or ""),
        str(body.get("transactionId") or ""),
        succeeded=AIRTIME_SUCCEEDED,
        failed=AIRTIME_FAILED,
        noun="top-up",
    )


def payway_hash(*fields: str, key: str | None = None) -> str:
    """PayWay's request hash: base64 of HMAC-SHA512 over the fields concatenated, keyed with the API key."""
    secret = (settings.PAYWAY_API_KEY if key is None else key).encode()
    return base64.b64encode(hmac.new(secret, "".join(fields).encode(), hashlib.sha512).digest()).decode()


def merchant_auth(data: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(data, separators=(",", ":"), sort_keys=True).encode()).decode()


class PaywayClient:
    """The cash payout API (ABA PayWay's shape)."""

    WHITELIST_PATH = "/api/merchant-portal/merchant-access/whitelist-account/add-whitelist-payout"
    PAYOUT_PATH = "/api/payment-gateway/v2/direct-payment/merchant/payout"
    CHECK_PATH = "/api/payment-gateway/v1/payments/check-transaction-2"

    def __init__(self) -> None:
        self.api_url = settings.PAYWAY_API_URL.rstrip("/")
        self.merchant_id = settings.PAYWAY_MERCHANT_ID
        self.timeout = settings.PAYWAY_TIMEOUT_SECONDS

    def _signed(self, path: str, fields: dict[str, str], time_field: str = "req_time") -> tuple[int, Any]:
        now = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        body = {time_field: now, "merchant_id": self.merchant_id, **fields}
        body["hash"] = payway_hash(*body.values())
        return _call("POST", f"{self.api_url}{path}", timeout=self.timeout, json=body)

    def whitelist(self, *, payee: str) -> Outcome:
        auth = merchant_auth({"mc_id": self.merchant_id, "payee": payee})
        try:
            status, body = self._signed(self.WHITELIST_PATH, {"merchant_auth": auth}, time_field="request_time")
        except _Unreadable as error:
            return Outcome("unknown", reason=str(error))
        code, message = _payway_status(body)
        if status == 200 and code == PAYWAY_OK:
            return Outcome("succeeded")
        return Outcome("failed", reason=f"{code or status}: {message}"[:200])

    def payout(self, *, tran_id: str, payee: str, amount: str, currency: str) -> Outcome:
        auth = merchant_auth(
            {
                "mc_id": self.merchant_id,
                "tran_id": tran_id,
                "currency": currency,
                "beneficiaries": [{"account": payee, "amount": amount}],
            }
        )
        try:
            status, body = self._signed(self.PAYOUT_PATH, {"merchant_auth": auth})
        except _Unreadable as error:
            return Outcome("unknown", reason=str(error))
        code, message = _payway_status(body)
        if status == 200 and code == PAYWAY_OK:
            return _payway_outcome(body.get("data") or {})
        if code == PAYWAY_DUPLICATE:
            # Our tran_id is there already (an earlier answer was lost): only a status check can say what happened.
            return Outcome("unknown", reason=f"{code}: {message}"[:200])
        return Outcome("failed", reason=f"{code or status}: {message}"[:200])

    def check(self, *, tran_id: str) -> Outcome:
        try:
            status, body = self._signed(self.CHECK_PATH, {"tran_id": tran_id})
        except _Unreadable as error:
            return Outcome("unknown", reason=str(error))
        code, message = _payway_status(body)
        if status == 200 and code == PAYWAY_OK:
            return _payway_outcome(body.get("data") or {})
        if code == PAYWAY_NOT_FOUND:
            return Outcome("not_found", reason="no payout under our reference")
        return Outcome("unknown", reason=f"status check answered {code or status}: {message}"[:200])


def _payway_status(body: Any) -> tuple[str, str]:
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(status, dict):
        return "", ""
    return str(status.get("code") or ""), str(status.get("message") or "")


def _payway_outcome(data: dict[str, Any]) -> Outcome:
    return _outcome(
        str(data.get("payment_status") or ""),
        str(data.get("transaction_id") or ""),
        succeeded=PAYWAY_APPROVED,
        failed=PAYWAY_FAILED,
        noun="payout",
    )
