"""A local stand-in for the cash payout API, speaking ABA PayWay's payout protocol (see `clients.PaywayClient`), in
a process of its own (`manage.py payway_fake`) or in a thread of a test. Every request is checked: merchant id,
`hash` (base64 HMAC-SHA512 of the fields in order, keyed with the API key), `merchant_auth` readable.

- `POST …/add-whitelist-payout`: whitelists the payee;
- `POST …/direct-payment/merchant/payout`: pays a whitelisted payee (code "00", `payment_status` APPROVED by
  default or what `outcome_next` says: DECLINED, or PENDING settled later by `settle`); a `tran_id` seen before
  is refused;
- `POST …/check-transaction-2`: the payout's status, or code "11" (no such transaction).

Tests drive it: `outcome_next`, `settle` (with the late callback to `callback_url`), `callback`, `faults`.
`delivered` counts approved payouts per `tran_id`.
"""

from __future__ import annotations

import base64
import hmac
import itertools
import json
import threading
from collections import deque
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from apps.core.fakes import LoopbackFake
from apps.incentives.payouts.clients import PAYWAY_NOT_FOUND, PAYWAY_OK, PaywayClient, payway_hash
from apps.incentives.payouts.fakebase import Faults, JsonFakeHandler, post_callback


@dataclass
class CashPayout:
    tran_id: str
    transaction_id: str
    payee: str
    amount: str
    currency: str
    payment_status: str

    def as_json(self) -> dict[str, Any]:
        return {
            "tran_id": self.tran_id,
            "transaction_id": self.transaction_id,
            "payment_status": self.payment_status,
            "payee": self.payee,
            "amount": self.amount,
            "currency": self.currency,
        }


def _status(code: str, message: str) -> dict[str, Any]:
    return {"status": {"code": code, "message": message}}


class PaywayFake(LoopbackFake):
    def __init__(
        self, *, merchant_id: str, api_key: str, host: str = "127.0.0.1", port: int = 0, seed: int | None = None
    ) -> None:
        self.merchant_id, self.api_key = merchant_id, api_key
        self.callback_url = ""
        super().__init__(handler=JsonFakeHandler, name="payway-fake", host=host, port=port)
        self.faults = Faults(seed=seed)
        self._lock = threading.Lock()
        self._ids = itertools.count(500000)
        self.whitelist: set[str] = set()
        self._payouts: dict[str, CashPayout] = {}
        self._outcomes: deque[str] = deque()
        self.delivered: dict[str, int] = {}

    def reset(self) -> None:
        with self._lock:
            self.whitelist.clear()
            self._payouts.clear()
            self._outcomes.clear()
            self.delivered.clear()
            self.callback_url = ""
        self.faults.clear()

    def outcome_next(self, status: str, count: int = 1) -> None:
        """The next `count` payouts end `status`: APPROVED, DECLINED or PENDING (settled later)."""
        with self._lock:
            self._outcomes.extend([status] * count)

    def payout(self, tran_id: str) -> CashPayout:
        with self._lock:
            return self._payouts[tran_id]

    def settle(self, tran_id: str, status: str = "APPROVED", *, notify: bool = True) -> int | None:
        with self._lock:
            payout = self._payouts[tran_id]
            payout.payment_status = status
            if status == "APPROVED":
                self.delivered[tran_id] = self.delivered.get(tran_id, 0) + 1
        return self.callback(tran_id) if notify else None

    def callback(self, tran_id: str) -> int | None:
        return post_callback(self.callback_url, self.payout(tran_id).as_json())

    # --- request handling -----------------------------------------------------------------------------------------
    def faultable(self, method: str, path: str, headers: dict[str, str]) -> bool:
        return True

    def answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        if method != "POST" or path not in (
            PaywayClient.WHITELIST_PATH,
            PaywayClient.PAYOUT_PATH,
            PaywayClient.CHECK_PATH,
        ):
            return 404, _status("404", "Not found")
        if not isinstance(body, dict) or body.get("merchant_id") != self.merchant_id:
            return 403, _status("6", "Wrong merchant")
        fields = [str(value) for name, value in body.items() if name != "hash"]
        if not hmac.compare_digest(str(body.get("hash", "")), payway_hash(*fields, key=self.api_key)):
            return 403, _status("1", "Wrong hash")
        if path == PaywayClient.CHECK_PATH:
            with self._lock:
                payout = self._payouts.get(str(body.get("tran_id", "")))
                if payout is None:
                    return 200, _status(PAYWAY_NOT_FOUND, "Transaction not found")
                return 200, {"data": payout.as_json(), **_status(PAYWAY_OK, "Success")}
        try:
            auth = json.loads(base64.b64decode(str(body.get("merchant_auth", "")), validate=True))
        except ValueError:
            return 400, _status("2", "merchant_auth cannot be read")
        if path == PaywayClient.WHITELIST_PATH:
            payee = str(auth.get("payee") or "")
            if not payee.isdigit():
                return 400, _status("3", "Invalid payee")
            with self._lock:
                self.whitelist.add(payee)
            return 200, _status(PAYWAY_OK, "Success")
        return self._pay(auth)

    def _pay(self, auth: dict[str, Any]) -> tuple[int, Any]:
        tran_id, currency = str(auth.get("tran_id") or ""), str(auth.get("currency") or "")
        beneficiaries = auth.get("beneficiaries")
        if (
            not tran_id
            or currency not in ("USD", "KHR")
            or not isinstance(beneficiaries, list)
            or len(beneficiaries) != 1
        ):
            return 400, _status("3", "Invalid payout instruction")
        payee, amount = str(beneficiaries[0].get("account") or ""), str(beneficiaries[0].get("amount") or "")
        try:
            if Decimal(amount) <= 0:
                raise InvalidOperation
        except InvalidOperation:
            return 400, _status("3", "Invalid amount")
        with self._lock:
            if payee not in self.whitelist:
                return 400, _status("PTL07", "Beneficiary is not whitelisted")
            if tran_id in self._payouts:
                return 400, _status("PTL09", "Duplicate tran_id")
            status = self._outcomes.popleft() if self._outcomes else "APPROVED"
            payout = CashPayout(tran_id, str(next(self._ids)), payee, amount, currency, status)
            self._payouts[tran_id] = payout
            if status == "APPROVED":
                self.delivered[tran_id] = self.delivered.get(tran_id, 0) + 1
        if status == "DECLINED":
            return 400, _status("PTL05", "Payout declined")
        return 200, {"data": payout.as_json(), **_status(PAYWAY_OK, "Success")}
