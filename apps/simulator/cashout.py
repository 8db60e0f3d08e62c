"""The fleet cashes out: each honest phone verifies its SIM, half of them register a bank account, and every phone
asks for one payout (airtime or cash) through the app's API, against the local airtime and PayWay fakes, a share of
whose calls time out. Afterwards the run settles pending payouts with status checks, as beat does, and counts
them by outcome and whether anybody was paid twice."""

from __future__ import annotations

import random
import time
from collections import Counter
from decimal import Decimal
from typing import Any, Self

import httpx
from django.conf import settings

from apps.incentives.models import Payout, PayoutRate
from apps.incentives.payouts.airtime_fake import AirtimeFake
from apps.incentives.payouts.choices import OPEN_STATUSES
from apps.incentives.payouts.payway_fake import PaywayFake
from apps.incentives.payouts.services import payouts_check_pending
from apps.simulator.fleet import VirtualPhone, expect, to_e164
from apps.simulator.otp import simulated_code
from apps.tokens.choices import PlatformAccount, Reason
from apps.tokens.services import TransferSpec, account_open, platform_account, transfers_create

PPT = 1_000_000
CLIENT_TIMEOUT_SECONDS = 1.0


class CashOut:
    """The two payout fakes for one run (threads of the simulator's process), and the cash-out round."""

    def __init__(self, *, timeout_share: float, seed: int | None, earnings_ppt: int, payout_ppt: int) -> None:
        self.airtime = AirtimeFake(
            client_id=settings.AIRTIME_CLIENT_ID, client_secret=settings.AIRTIME_CLIENT_SECRET, seed=seed
        )
        self.payway = PaywayFake(merchant_id=settings.PAYWAY_MERCHANT_ID, api_key=settings.PAYWAY_API_KEY, seed=seed)
        for fake in (self.airtime, self.payway):
            fake.faults.timeout_rate = timeout_share
            fake.faults.hang_seconds = CLIENT_TIMEOUT_SECONDS * 2
        self.earnings, self.amount = earnings_ppt * PPT, payout_ppt * PPT
        self.refused: Counter[str] = Counter()

    def __enter__(self) -> Self:
        self.airtime.start()
        self.payway.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.airtime.stop()
        self.payway.stop()

    def environment(self) -> dict[str, str]:
        """What the web and worker processes need to reach the fakes (with the development credentials)."""
        return {
            "AIRTIME_API_URL": self.airtime.endpoint,
            "AIRTIME_AUTH_URL": self.airtime.endpoint,
            "AIRTIME_TIMEOUT_SECONDS": str(CLIENT_TIMEOUT_SECONDS),
            "AIRTIME_CALLBACK_URL": "",
            "PAYWAY_API_URL": self.payway.endpoint,
            "PAYWAY_TIMEOUT_SECONDS": str(CLIENT_TIMEOUT_SECONDS),
        }

    def run(self, http: httpx.Client, phones: list[VirtualPhone], rng: random.Random, settle: float = 60) -> None:
        for currency, units in (("USD", Decimal("2.5")), ("KHR", Decimal("100"))):
            if not PayoutRate.objects.filter(currency=currency).exists():
                PayoutRate.objects.create(currency=currency, units_per_ppt=units, note="simulator")
        for phone in phones:
            if not phone.honest or phone.provider_id is None:
                continue
            self._earn(phone)
            method = "cash" if rng.random() < 0.5 else "airtime"
            if method == "cash" and not self._register_account(http, phone):
                # Its whitelisting timed out: the phone takes airtime instead, as a provider would (staff can
                # whitelist the account again later).
                self.refused["account_not_whitelisted_took_airtime"] += 1
                method = "airtime"
            body: dict[str, Any] = {"method": method, "amount": self.amount}
            if method == "airtime":
                body["sim_id"] = self._verify_sim(http, phone)
            response = http.post("/api/payouts", json=body, headers=phone.headers)
            if response.status_code != 201:
                self.refused[response.json().get("code", str(response.status_code))] += 1
        # The worker sends them; then, as beat does every minute, status checks settle what stayed unknown.
        deadline = time.monotonic() + settle
        while Payout.objects.filter(status__in=("queued", "sending")).exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        for _ in range(3):
            if not Payout.objects.filter(status="pending").exists():
                break
            payouts_check_pending()

    def _earn(self, phone: VirtualPhone) -> None:
        """Posted earnings to cash out. The rewards flow books them per verified delivery; until it does, the run
        books a fixed amount per honest phone from the platform's rewards account, so that cash-out can be run."""
        from apps.providers.models import Provider

        provider = Provider.objects.get(pk=phone.provider_id)
        transfers_create(
            [
                TransferSpec(
                    id=f"simulator:earnings:{provider.pk}",
                    amount=self.earnings,
                    debit_account_id=platform_account(PlatformAccount.REWARDS).pk,
                    credit_account_id=account_open(provider=provider).pk,
                    reason=Reason.REWARD,
                    memo="simulator earnings",
                )
            ]
        )

    def _verify_sim(self, http: httpx.Client, phone: VirtualPhone) -> int:
        me = expect(http.get("/api/providers/me", headers=phone.headers), 200)
        sim = me["sims"][0]
        if not sim["verified"]:
            expect(http.post(f"/api/providers/me/sims/{sim['id']}/verification", headers=phone.headers), 202)
            code = simulated_code(to_e164(sim["msisdn"]) if not sim["msisdn"].startswith("+") else sim["msisdn"])
            expect(
                http.post(f"/api/providers/me/sims/{sim['id']}/verify", json={"code": code}, headers=phone.headers),
                200,
            )
        return sim["id"]

    def _register_account(self, http: httpx.Client, phone: VirtualPhone) -> bool:
        """Register a bank account; whether the payout service whitelisted it."""
        account = {"account_number": f"{900000000 + phone.index}", "holder_name": f"Provider {phone.index}"}
        return bool(expect(http.post("/api/payouts/accounts", json=account, headers=phone.headers), 201)["whitelisted"])

    def summary(self) -> dict[str, Any]:
        statuses = Counter(Payout.objects.values_list("status", flat=True))
        delivered = {**self.airtime.delivered, **self.payway.delivered}
        unresolved = Payout.objects.filter(status__in=OPEN_STATUSES).exclude(status="pending").count()
        return {
            "statuses": dict(statuses),
            "refused": dict(self.refused),
            "paid_twice": sum(1 for count in delivered.values() if count > 1),
            "pending_without_reason": Payout.objects.filter(status="pending", pending_reason="").count(),
            "not_settled": unresolved,
        }
