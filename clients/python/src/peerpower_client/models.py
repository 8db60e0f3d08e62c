"""What the API answers, as typed dataclasses. Each keeps the answer it was read from in `raw`, so a field the API adds
later is readable before this package knows it."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, TypedDict, TypeVar

Priority = Literal["high", "normal", "low"]
Currency = Literal["KHR", "USD"]


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time from the API (`Z` or an offset) as an aware datetime."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class MessageRequest(TypedDict, total=False):
    """One message to send (`to` and `body` are required), as `send_bulk` takes them."""

    to: str
    body: str
    priority: Priority
    reference: str
    callback_url: str
    scheduled_at: str
    validity_seconds: int


@dataclass(frozen=True)
class Message:
    """A message as `GET /api/messages/{id}` shows it (and as webhook events carry it)."""

    id: int
    status: str
    status_reason: str
    to: str
    carrier: str
    encoding: str
    segments: int
    priority: str
    reference: str
    created_at: datetime | None
    scheduled_at: datetime | None
    expires_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Message:
        return _read(cls, data)


@dataclass(frozen=True)
class ErrorInfo:
    """An error inside a successful answer (a refused item of a bulk send)."""

    code: str
    message: str
    details: dict[str, Any]

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ErrorInfo:
        return cls(code=data.get("code", ""), message=data.get("message", ""), details=data.get("details") or {})


@dataclass(frozen=True)
class BulkItem:
    """One item of a bulk send, at its position in the request: the stored `message`, or its `error`."""

    index: int
    ok: bool
    message: Message | None
    error: ErrorInfo | None


@dataclass(frozen=True)
class BulkResult:
    accepted: int
    refused: int
    results: list[BulkItem]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> BulkResult:
        items = [
            BulkItem(
                index=row["index"],
                ok=row["ok"],
                message=Message.from_api(row["message"]) if row.get("message") else None,
                error=ErrorInfo.from_api(row["error"]) if row.get("error") else None,
            )
            for row in data["results"]
        ]
        return cls(accepted=data["accepted"], refused=data["refused"], results=items, raw=data)


@dataclass(frozen=True)
class MessagePage:
    """One page of `GET /api/messages`, newest first; pass `next_cursor` back as `cursor` for the next page."""

    results: list[Message]
    next_cursor: str | None
    previous_cursor: str | None


@dataclass(frozen=True)
class Amount:
    """An amount in the smallest unit (10⁻⁶ PPT, riel, US cents) and as a decimal string."""

    amount: int
    decimal: str

    @property
    def value(self) -> Decimal:
        return Decimal(self.decimal)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Amount:
        return cls(amount=data["amount"], decimal=data["decimal"])


@dataclass(frozen=True)
class Wallet:
    """`GET /api/wallet`: the organisation's balances on one ledger."""

    ledger: str
    scale: int
    owner: str
    organization: int | None
    available: Amount
    pending_in: Amount
    pending_out: Amount
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Wallet:
        return _read(cls, data)


@dataclass(frozen=True)
class TopUp:
    """A top-up (buying PPT through Baray): pay at `checkout_url` (or the KHQR); `succeeded` once the PPT is yours."""

    id: str
    organization: int
    status: str
    method: str
    amount: Amount
    currency: str
    ppt: Amount
    checkout_url: str
    khqr: str
    deeplink: str
    failure_reason: str
    created_at: datetime | None
    expires_at: datetime | None
    settled_at: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> TopUp:
        return _read(cls, data)


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook event: `message.*` events carry `data["message"]`, `payment.*` ones `data["topup"]`."""

    id: str
    type: str
    created_at: datetime | None
    data: dict[str, Any]

    @property
    def message(self) -> Message | None:
        found = self.data.get("message")
        return Message.from_api(found) if isinstance(found, dict) else None

    @property
    def topup(self) -> TopUp | None:
        found = self.data.get("topup")
        return TopUp.from_api(found) if isinstance(found, dict) else None


Model = TypeVar("Model", Message, Wallet, TopUp)
# How a field's API value becomes its Python value, by the field's annotation (absent: taken as it is).
_CONVERTERS: dict[str, Any] = {"datetime | None": parse_time, "Amount": Amount.from_api}
# What a field the API left out reads as (absent: the field is required and its absence is a KeyError).
_DEFAULTS: dict[str, Any] = {"str": "", "int": 0, "int | None": None, "datetime | None": None}


def _read(cls: type[Model], data: dict[str, Any]) -> Model:
    """A model from an API answer, field by field as the dataclass declares them; `raw` keeps the answer."""
    values: dict[str, Any] = {"raw": data}
    for item in fields(cls):
        if item.name == "raw":
            continue
        annotation = str(item.type)
        value = data[item.name] if annotation not in _DEFAULTS else data.get(item.name, _DEFAULTS[annotation])
        convert = _CONVERTERS.get(annotation)
        values[item.name] = convert(value) if convert is not None and value is not None else value
    return cls(**values)
