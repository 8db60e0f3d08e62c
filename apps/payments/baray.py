"""Baray's wire protocol, as its merchant libraries speak it (baray-io/baray-js `PrivateClient`, baray-io/baray-rs):

- `POST {api}/pay` creates a payment intent, `POST {api}/payments/aba/pay_qr` one paid by ABA's KHQR (answering also
  the QR string and the ABA Mobile deeplink). Both carry the header `x-api-key` and the body `{"data": <payload>}`,
  where the payload is the intent's JSON (`amount` as a decimal string, `currency`, `order_id`, `tracking`,
  `order_details`) encrypted with AES-256-CBC, PKCS#7 padding, under the merchant's secret key and IV (each given in
  base64: 32 and 16 bytes), and base64-encoded. The answer names the intent: `_id`.
- The payer pays on `{checkout}/{intent id}`.
- When a payment completes Baray posts `{"encrypted_order_id": …}` to the merchant's webhook: the order id alone,
  encrypted the same way under the webhook key and IV, with no signature. So the webhook is only a hint: the status
  is asked of Baray before anything is booked.
- `GET {api}/pay/{intent id}` (with `x-api-key`) answers the intent's `status` and `amount`. Baray's public
  libraries do not show a status call; this path and its fields are our assumption (README, "Top-ups").

`BarayClient` is the only code that talks to Baray; the fake (`apps.payments.baray_fake`) answers the same wire.
"""

import base64
import binascii
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings

BLOCK_BITS = 128


class DecryptionFailed(Exception):
    """Any reason a ciphertext did not give a plaintext (base64, length, padding, encoding): deliberately one kind, so
    no caller can answer a bad padding differently from any other failure (no padding oracle)."""


def _key_bytes(value: str, size: int) -> bytes:
    # Keys may come as Baray's console shows them, `sk_prod_<base64>` / `wh_sk_<base64>`: base64 has no underscore.
    raw = base64.b64decode(value.rsplit("_", 1)[-1], validate=True)
    if len(raw) != size:
        raise ValueError(f"expected {size} bytes of key material, got {len(raw)}")
    return raw


@dataclass(frozen=True)
class AesKey:
    """An AES-256-CBC key and IV, both base64 as Baray hands them out."""

    secret_key: str
    iv: str

    def encrypt(self, plaintext: str) -> str:
        padder = padding.PKCS7(BLOCK_BITS).padder()
        data = padder.update(plaintext.encode()) + padder.finalize()
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode()

    def decrypt(self, ciphertext: str) -> str:
        """The plaintext, or `DecryptionFailed` whatever went wrong."""
        try:
            raw = base64.b64decode(ciphertext, validate=True)
            if not raw or len(raw) % 16:
                raise ValueError("not whole blocks")
            decryptor = self._cipher().decryptor()
            padded = decryptor.update(raw) + decryptor.finalize()
            unpadder = padding.PKCS7(BLOCK_BITS).unpadder()
            return (unpadder.update(padded) + unpadder.finalize()).decode()
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise DecryptionFailed() from None

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(_key_bytes(self.secret_key, 32)), modes.CBC(_key_bytes(self.iv, 16)))


def intent_key() -> AesKey:
    return AesKey(settings.BARAY_SECRET_KEY, settings.BARAY_IV)


def webhook_key() -> AesKey:
    return AesKey(
        settings.BARAY_WEBHOOK_SECRET_KEY or settings.BARAY_SECRET_KEY, settings.BARAY_WEBHOOK_IV or settings.BARAY_IV
    )


class BarayUnavailable(Exception):
    """Baray did not answer usefully (connection, timeout, 5xx, unreadable body): the outcome is unknown."""


@dataclass(frozen=True)
class Exchange:
    """One request to Baray and its answer, as the back office shows it: the payload in clear (it holds no secret),
    never the API key or the ciphertext."""

    method: str
    url: str
    request_body: dict[str, Any]
    http_status: int | None
    response_body: Any
    error: str
    duration_ms: int


@dataclass(frozen=True)
class IntentCreated:
    intent_id: str
    checkout_url: str
    khqr: str
    deeplink: str


@dataclass(frozen=True)
class IntentStatus:
    intent_id: str
    order_id: str
    status: str  # pending, success, failed, expired
    amount: str
    currency: str


class BarayClient:
    """Baray's merchant API over httpx. Every call returns its `Exchange` (for the record) with its result, or raises
    `BarayUnavailable` carrying the exchange."""

    def __init__(self) -> None:
        self.api_url = settings.BARAY_API_URL.rstrip("/")
        self.checkout_url = settings.BARAY_CHECKOUT_URL.rstrip("/")
        self.timeout = settings.BARAY_TIMEOUT_SECONDS
        self.key = intent_key()

    def create_intent(
        self, *, order_id: str, amount: str, currency: str, aba_khqr: bool, details: dict[str, Any]
    ) -> tuple[Exchange, IntentCreated]:
        payload = {
            "amount": amount,
            "currency": currency,
            "order_id": order_id,
            "tracking": {"order_id": order_id},
            "order_details": details,
        }
        path = "/payments/aba/pay_qr" if aba_khqr else "/pay"
        exchange, body = self._call(
            "POST", path, payload, json_body={"data": self.key.encrypt(json.dumps(payload, separators=(",", ":")))}
        )
        intent_id = body.get("intent_id") if aba_khqr else body.get("_id")
        if not isinstance(intent_id, str) or not intent_id:
            raise BarayUnavailable(_with_error(exchange, "the answer names no intent"))
        return exchange, IntentCreated(
            intent_id=intent_id,
            checkout_url=f"{self.checkout_url}/{intent_id}",
            khqr=str(body.get("qr_string") or ""),
            deeplink=str(body.get("abapay_deeplink") or ""),
        )

    def intent_status(self, intent_id: str) -> tuple[Exchange, IntentStatus]:
        exchange, body = self._call("GET", f"/pay/{intent_id}", {})
        try:
            status = IntentStatus(
                intent_id=str(body["_id"]),
                order_id=str(body.get("order_id") or ""),
                status=str(body["status"]),
                amount=str(body["amount"]),
                currency=str(body["currency"]),
            )
        except KeyError as missing:
            raise BarayUnavailable(_with_error(exchange, f"the answer has no {missing}")) from None
        return exchange, status

    def _call(
        self, method: str, path: str, payload: dict[str, Any], json_body: dict[str, Any] | None = None
    ) -> tuple[Exchange, dict[str, Any]]:
        url = f"{self.api_url}{path}"
        started = time.monotonic()
        try:
            response = httpx.request(
                method,
                url,
                json=json_body,
                headers={"x-api-key": settings.BARAY_API_KEY, "Accept": "application/json"},
                timeout=self.timeout,
            )
        except httpx.HTTPError as error:
            exchange = Exchange(method, url, payload, None, None, f"{type(error).__name__}: {error}", _ms(started))
            raise BarayUnavailable(exchange) from error
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:2000]
        exchange = Exchange(method, url, payload, response.status_code, body, "", _ms(started))
        if response.status_code >= 400 or not isinstance(body, dict):
            raise BarayUnavailable(_with_error(exchange, f"HTTP {response.status_code}"))
        return exchange, body


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _with_error(exchange: Exchange, error: str) -> Exchange:
    return Exchange(
        exchange.method,
        exchange.url,
        exchange.request_body,
        exchange.http_status,
        exchange.response_body,
        error,
        exchange.duration_ms,
    )
