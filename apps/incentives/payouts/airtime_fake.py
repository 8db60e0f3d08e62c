"""A local stand-in for the airtime aggregator, speaking Reloadly's wire protocol (see `clients.AirtimeClient`), in
a process of its own (`manage.py airtime_fake`) or in a thread of a test:

- `POST /oauth/token`: client credentials → a bearer token;
- `POST /topups`: checks the token and the body, refuses a `customIdentifier` seen before
  (`TRANSACTION_ALREADY_EXISTS`), and tops up: `SUCCESSFUL` by default, or what `outcome_next` says (`FAILED`:
  answered 400 like a refused top-up; `PROCESSING`: answered 200 and settled later by `settle`);
- `GET /topups/{transactionId}/status` and `GET /topups/reports/transactions?customIdentifier=…`: the status.

Tests drive it: `outcome_next`, `settle` (and the late callback to `callbackUrl`), `callback`, `faults` (503,
carried-out-then-500, reset or timeout; `timeout_rate` for chaos). `delivered` counts top-ups per reference: a
double payout would show as a count of 2. It binds to loopback; it is a test double, not a server to expose.
"""

from __future__ import annotations

import itertools
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from apps.core.fakes import LoopbackFake
from apps.incentives.payouts.fakebase import Faults, JsonFakeHandler, post_callback

STATUS_PATH = re.compile(r"^/topups/(?P<id>\d+)/status$")


@dataclass
class Topup:
    transaction_id: int
    custom_identifier: str
    number: str
    amount: str
    operator_id: int
    status: str
    callback_url: str = ""
    body: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "transactionId": self.transaction_id,
            "status": self.status,
            "customIdentifier": self.custom_identifier,
            "recipientPhone": f"855{self.number}",
            "countryCode": "KH",
            "operatorId": self.operator_id,
            "requestedAmount": self.amount,
            "requestedAmountCurrencyCode": "USD",
        }


class AirtimeFake(LoopbackFake):
    def __init__(
        self, *, client_id: str, client_secret: str, host: str = "127.0.0.1", port: int = 0, seed: int | None = None
    ) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        super().__init__(handler=JsonFakeHandler, name="airtime-fake", host=host, port=port)
        self.faults = Faults(seed=seed)
        self._lock = threading.Lock()
        self._ids = itertools.count(1000)
        self._tokens: set[str] = set()
        self._topups: dict[int, Topup] = {}
        self._by_reference: dict[str, Topup] = {}
        self._outcomes: deque[str] = deque()
        self.delivered: dict[str, int] = {}

    def reset(self) -> None:
        with self._lock:
            self._tokens.clear()
            self._topups.clear()
            self._by_reference.clear()
            self._outcomes.clear()
            self.delivered.clear()
        self.faults.clear()

    # --- what tests do ---------------------------------------------------------------------------------------------
    def outcome_next(self, status: str, count: int = 1) -> None:
        """The next `count` top-ups end `status`: SUCCESSFUL, FAILED (refused) or PROCESSING (settled later)."""
        with self._lock:
            self._outcomes.extend([status] * count)

    def topup(self, custom_identifier: str) -> Topup:
        with self._lock:
            return self._by_reference[custom_identifier]

    @property
    def topups(self) -> list[Topup]:
        with self._lock:
            return list(self._topups.values())

    def settle(self, custom_identifier: str, status: str = "SUCCESSFUL", *, notify: bool = True) -> int | None:
        """A PROCESSING top-up ends (SUCCESSFUL or REFUNDED); the callback is posted unless `notify=False`."""
        with self._lock:
            topup = self._by_reference[custom_identifier]
            topup.status = status
            if status == "SUCCESSFUL":
                self.delivered[custom_identifier] = self.delivered.get(custom_identifier, 0) + 1
        return self.callback(custom_identifier) if notify else None

    def callback(self, custom_identifier: str) -> int | None:
        """Post the top-up's callback (again: a late or repeated one)."""
        topup = self.topup(custom_identifier)
        return post_callback(topup.callback_url, topup.as_json())

    # --- request handling (handler threads) ------------------------------------------------------------------------
    def faultable(self, method: str, path: str, headers: dict[str, str]) -> bool:
        with self._lock:
            return path != "/oauth/token" and headers.get("authorization", "").removeprefix("Bearer ") in self._tokens

    def answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        if method == "POST" and path == "/oauth/token":
            return self._token(body)
        token = headers.get("authorization", "").removeprefix("Bearer ")
        with self._lock:
            authorized = token in self._tokens
        if not authorized:
            return 401, {"errorCode": "INVALID_TOKEN", "message": "Full authentication is required"}
        if method == "POST" and path == "/topups":
            return self._create(body)
        if method == "GET" and path == "/topups/reports/transactions":
            with self._lock:
                topup = self._by_reference.get(query.get("customIdentifier", ""))
                return 200, {"content": [topup.as_json()] if topup else [], "totalElements": int(topup is not None)}
        match = STATUS_PATH.match(path)
        if method == "GET" and match:
            with self._lock:
                topup = self._topups.get(int(match["id"]))
                if topup is None:
                    return 404, {"errorCode": "TRANSACTION_NOT_FOUND", "message": "Transaction not found"}
                return 200, {"code": None, "message": None, "status": topup.status, "transaction": topup.as_json()}
        return 404, {"errorCode": "NOT_FOUND", "message": "Not found"}

    def _token(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or (body.get("client_id"), body.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return 401, {"errorCode": "INVALID_CREDENTIALS", "message": "Access Denied"}
        if body.get("grant_type") != "client_credentials":
            return 400, {"errorCode": "INVALID_GRANT", "message": "grant_type must be client_credentials"}
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens.add(token)
        return 200, {"access_token": token, "scope": "developer", "expires_in": 3600, "token_type": "Bearer"}

    def _create(self, body: Any) -> tuple[int, Any]:
        problem = _invalid_topup(body)
        if problem:
            return 400, {"errorCode": "INVALID_REQUEST", "message": problem}
        reference = body["customIdentifier"]
        with self._lock:
            if reference in self._by_reference:
                return 400, {"errorCode": "TRANSACTION_ALREADY_EXISTS", "message": "Duplicate customIdentifier"}
            outcome = self._outcomes.popleft() if self._outcomes else "SUCCESSFUL"
            topup = Topup(
                transaction_id=next(self._ids),
                custom_identifier=reference,
                number=body["recipientPhone"]["number"],
                amount=str(body["amount"]),
                operator_id=body["operatorId"],
                status=outcome,
                callback_url=str(body.get("callbackUrl") or ""),
                body=body,
            )
            self._topups[topup.transaction_id] = topup
            self._by_reference[reference] = topup
            if outcome == "SUCCESSFUL":
                self.delivered[reference] = self.delivered.get(reference, 0) + 1
        if outcome == "FAILED":
            return 400, {"errorCode": "TOPUP_FAILED", "message": "The operator refused the top-up"}
        return 200, topup.as_json()


def _invalid_topup(body: Any) -> str:
    if not isinstance(body, dict):
        return "Body must be an object"
    if not isinstance(body.get("customIdentifier"), str) or not body["customIdentifier"]:
        return "customIdentifier is required"
    if not isinstance(body.get("operatorId"), int) or body["operatorId"] <= 0:
        return "operatorId is required"
    phone = body.get("recipientPhone")
    if not isinstance(phone, dict) or phone.get("countryCode") != "KH" or not str(phone.get("number", "")).isdigit():
        return "recipientPhone must be a Cambodian number"
    try:
        amount = Decimal(str(body.get("amount")))
    except InvalidOperation:
        return "amount must be a number"
    if not amount.is_finite() or amount <= 0:
        return "amount must be positive"
    return ""
