"""A local stand-in for Baray, speaking its wire protocol (see `apps.payments.baray`), in a process of its own
(`manage.py baray_fake`) or in a thread of a test:

- `POST /pay`, `POST /payments/aba/pay_qr`: checks `x-api-key` and decrypts the payload with the merchant's key and
  IV (401 / 400 like an API that refuses), validates it (amount a positive decimal string within Baray's minimums,
  USD 0.03 and KHR 100; currency; order id), and records an intent;
- `GET /pay/{id}`: the intent's status (`pending`, `success`, `failed`, `expired`) and amount;
- `GET /checkout/{id}`: a page a person (or a test) pays or fails the intent on; paying or failing posts
  `{"encrypted_order_id": …}` to the merchant's webhook URL, as Baray does.

Tests drive it directly: `pay`, `fail`, `expire`, `notify` (the webhook again: replays), `notify_raw` (garbage,
forged ids), `tamper` (the status answers another amount), `down`/`up` and `fail_next` (503s), `latency_seconds`.
It binds to loopback by default; it is a test double, not a server to expose.
"""

import html
import json
import logging
import re
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from apps.core.fakes import FakeRequestHandler, LoopbackFake
from apps.payments.baray import AesKey, DecryptionFailed

logger = logging.getLogger("peerpower.baray_fake")

BARAY_MINIMUMS = {"USD": Decimal("0.03"), "KHR": Decimal("100")}
STATUS_PATH = re.compile(r"^/pay/(?P<intent>[0-9a-f]{24})$")
CHECKOUT_PATH = re.compile(r"^/checkout/(?P<intent>[0-9a-f]{24})(?:/(?P<action>pay|fail))?$")


@dataclass
class Intent:
    id: str
    order_id: str
    amount: str
    currency: str
    aba_khqr: bool
    status: str = "pending"
    # What the status endpoint says was paid, when a test makes it differ from the intent (`tamper`).
    reported_amount: str | None = None
    reported_currency: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


class BarayFake(LoopbackFake):
    """The fake Baray server (its `endpoint` is what BARAY_API_URL takes). Thread-safe: tests configure and read it
    while its handler threads answer."""

    def __init__(
        self,
        *,
        api_key: str,
        secret_key: str,
        iv: str,
        webhook_url: str = "",
        webhook_secret_key: str = "",
        webhook_iv: str = "",
        host: str = "127.0.0.1",
        port: int = 0,
        latency_seconds: float = 0,
    ) -> None:
        self.api_key = api_key
        self.key = AesKey(secret_key, iv)
        self.webhook_key = AesKey(webhook_secret_key or secret_key, webhook_iv or iv)
        self.webhook_url = webhook_url
        self.latency_seconds = latency_seconds
        super().__init__(handler=_Handler, name="baray-fake", host=host, port=port)
        self._lock = threading.Lock()
        self._intents: dict[str, Intent] = {}
        self._down = False
        self._fail_next = 0
        self.requests: list[tuple[str, str]] = []  # (method, path) of every API request, in order

    @property
    def checkout_url(self) -> str:
        """The base URL to give BARAY_CHECKOUT_URL."""
        return f"{self.endpoint}/checkout"

    def reset(self) -> None:
        with self._lock:
            self._intents.clear()
            self._down = False
            self._fail_next = 0
            self.requests.clear()
            self.latency_seconds = 0

    # --- what tests (and the checkout page) do -----------------------------------------------------------------------
    def intent(self, intent_id: str) -> Intent:
        with self._lock:
            return self._intents[intent_id]

    @property
    def intents(self) -> list[Intent]:
        with self._lock:
            return list(self._intents.values())

    def pay(self, intent_id: str, *, notify: bool = True) -> int | None:
        """The payer pays: the intent succeeds and (unless `notify=False`) the webhook is posted; its HTTP status."""
        return self._settle(intent_id, "success", notify)

    def fail(self, intent_id: str, *, notify: bool = True) -> int | None:
        return self._settle(intent_id, "failed", notify)

    def expire(self, intent_id: str) -> None:
        """Baray gave up waiting for the payer (no webhook: Baray only notifies completed payments)."""
        with self._lock:
            self._intents[intent_id].status = "expired"

    def tamper(self, intent_id: str, *, amount: str | None = None, currency: str | None = None) -> None:
        """The status endpoint reports another amount or currency than the intent's (a mismatch to be refused)."""
        with self._lock:
            intent = self._intents[intent_id]
            intent.reported_amount, intent.reported_currency = amount, currency

    def webhook_body(self, order_id: str) -> bytes:
        """The body Baray posts for `order_id`."""
        return json.dumps({"encrypted_order_id": self.webhook_key.encrypt(order_id)}).encode()

    def notify(self, intent_id: str) -> int | None:
        """Post the intent's webhook (again: a replay)."""
        return self.notify_raw(self.webhook_body(self.intent(intent_id).order_id))

    def notify_raw(self, body: bytes) -> int | None:
        """Post any body to the webhook URL (garbage, a forged id); the HTTP status, None if nobody answered."""
        if not self.webhook_url:
            return None
        try:
            response = httpx.post(self.webhook_url, content=body, headers={"Content-Type": "application/json"})
        except httpx.HTTPError:
            logger.warning("webhook to %s failed", self.webhook_url, exc_info=True)
            return None
        return response.status_code

    def down(self) -> None:
        """Every API request is answered 503 until `up`."""
        with self._lock:
            self._down = True

    def up(self) -> None:
        with self._lock:
            self._down = False

    def fail_next(self, count: int = 1) -> None:
        """The next `count` API requests are answered 503."""
        with self._lock:
            self._fail_next += count

    def _settle(self, intent_id: str, status: str, notify: bool) -> int | None:
        with self._lock:
            intent = self._intents[intent_id]
            intent.status = status
        logger.info("intent %s %s", intent_id, status)
        return self.notify(intent_id) if notify else None

    # --- request handling (handler threads) ---------------------------------------------------------------------------
    def _api(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        with self._lock:
            self.requests.append((method, path))
            if self._down or self._fail_next:
                self._fail_next = max(self._fail_next - 1, 0)
                return 503, {"message": "Service unavailable"}
        if headers.get("x-api-key") != self.api_key:
            return 401, {"message": "Invalid API key"}
        if method == "GET":
            match = STATUS_PATH.match(path)
            if not match:
                return 404, {"message": "Not found"}
            with self._lock:
                intent = self._intents.get(match["intent"])
                if intent is None:
                    return 404, {"message": "Intent not found"}
                return 200, {
                    "_id": intent.id,
                    "order_id": intent.order_id,
                    "status": intent.status,
                    "amount": intent.reported_amount or intent.amount,
                    "currency": intent.reported_currency or intent.currency,
                }
        if path not in ("/pay", "/payments/aba/pay_qr"):
            return 404, {"message": "Not found"}
        try:
            data = json.loads(raw)["data"]
            payload = json.loads(self.key.decrypt(data))
        except (ValueError, KeyError, TypeError, DecryptionFailed):
            return 400, {"message": "Invalid encrypted payload"}
        problem = _invalid_intent(payload)
        if problem:
            return 400, {"message": problem}
        intent = Intent(
            id=secrets.token_hex(12),
            order_id=payload["order_id"],
            amount=payload["amount"],
            currency=payload["currency"],
            aba_khqr=path != "/pay",
            payload=payload,
        )
        with self._lock:
            self._intents[intent.id] = intent
        if not intent.aba_khqr:
            return 200, {"_id": intent.id, "amount": intent.amount, "currency": intent.currency}
        qr = f"00020101021230510016abaakhppxxx@abaa0115{intent.id[:15]}5303840540{len(intent.amount)}{intent.amount}"
        return 200, {
            "intent_id": intent.id,
            "qr_string": qr,
            "abapay_deeplink": f"abamobilebank://ababank.com?type=payway&qrcode={urllib.parse.quote(qr)}",
            "checkout_qr_url": f"{self.checkout_url}/{intent.id}",
        }

    def _checkout_page(self, intent_id: str) -> tuple[int, str]:
        with self._lock:
            intent = self._intents.get(intent_id)
        if intent is None:
            return 404, "<h1>No such payment</h1>"
        amount = html.escape(f"{intent.amount} {intent.currency}")
        if intent.status != "pending":
            return 200, f"<h1>Baray (local fake)</h1><p>{amount}: {html.escape(intent.status)}</p>"
        return 200, (
            f"<h1>Baray (local fake)</h1><p>Pay {amount} for order {html.escape(intent.order_id)}</p>"
            f'<form method="post" action="/checkout/{intent.id}/pay"><button>Pay</button></form>'
            f'<form method="post" action="/checkout/{intent.id}/fail"><button>Fail</button></form>'
        )


def _invalid_intent(payload: Any) -> str:
    if not isinstance(payload, dict):
        return "Payload must be an object"
    currency, amount, order_id = payload.get("currency"), payload.get("amount"), payload.get("order_id")
    if currency not in BARAY_MINIMUMS:
        return "Unsupported currency"
    if not isinstance(order_id, str) or not order_id:
        return "order_id is required"
    try:
        value = Decimal(amount) if isinstance(amount, str) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        return "amount must be a decimal string"
    if value < BARAY_MINIMUMS[currency]:
        return f"Minimum amount is {BARAY_MINIMUMS[currency]} {currency}"
    return ""


class _Handler(FakeRequestHandler):
    server_version = "BarayFake"

    @property
    def fake(self) -> BarayFake:
        return self.server.fake

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        match = CHECKOUT_PATH.match(path)
        if match and not match["action"]:
            self._reply_html(*self.fake._checkout_page(match["intent"]))
            return
        self._reply(*self.fake._api("GET", path, self._headers(), b""))

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urllib.parse.urlsplit(self.path).path
        match = CHECKOUT_PATH.match(path)
        if match and match["action"]:
            try:
                intent = self.fake.intent(match["intent"])
            except KeyError:
                self._reply_html(404, "<h1>No such payment</h1>")
                return
            if intent.status == "pending":
                settle = self.fake.pay if match["action"] == "pay" else self.fake.fail
                # The webhook is posted after this page answers, as Baray's server does, not in the payer's request.
                threading.Thread(target=settle, args=(intent.id,), daemon=True).start()
            self._reply_html(303, "", {"Location": f"/checkout/{intent.id}"})
            return
        self._reply(*self.fake._api("POST", path, self._headers(), raw))

    def _headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _reply_html(self, status: int, page: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, f"<!doctype html><meta charset=utf-8>{page}".encode(), "text/html; charset=utf-8", headers)

    def _send(self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_body(status, payload, content_type, headers)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s " + format, self.address_string(), *args)
