"""The fleet cashes out: each honest phone verifies its SIM, half of them register a bank account, and every phone
that earned something asks for one payout (airtime or cash) of everything it may cash out — its posted rewards, as
the app's earnings endpoint says — through the app's API, against the local airtime and PayWay fakes, a share of
whose calls time out. Afterwards the run settles pending payouts with status checks, as beat does, and counts
them by outcome and whether anybody was paid twice.

The run's rewards must have posted first (`Simulation` lets the verification window pass with injected time). A
minutes-long run earns a phone cents, not the production minimum payout, so the servers run with the minimum set to
`minimum` (PAYOUT_MIN_AMOUNT); a phone under it is refused by the API like any provider, and counted so."""

from __future__ import annotations

import random
import time
from collections import Counter
from decimal import Decimal
from typing import Any, Self

import httpx
from django.conf import settings
from django.test.utils import override_settings

from apps.incentives.models import Payout, PayoutRate
from apps.incentives.payouts.airtime_fake import AirtimeFake
from apps.incentives.payouts.choices import OPEN_STATUSES
from apps.incentives.payouts.payway_fake import PaywayFake
from apps.incentives.payouts.services import payouts_check_pending
from apps.simulator.fleet import VirtualPhone, expect, to_e164
from apps.simulator.otp import simulated_code

CLIENT_TIMEOUT_SECONDS = 1.0
# What one PPT pays out: the simulated clients buy PPT at 1 per US dollar; providers redeem at a 10 % spread.
PAYOUT_RATES = {"USD": Decimal("90"), "KHR": Decimal("3600")}


class CashOut:
    """The two payout fakes for one run (threads of the simulator's process), and the cash-out round."""

    def __init__(self, *, timeout_share: float, seed: int | None, minimum: int) -> None:
        self.airtime = AirtimeFake(
            client_id=settings.AIRTIME_CLIENT_ID, client_secret=settings.AIRTIME_CLIENT_SECRET, seed=seed
        )
        self.payway = PaywayFake(merchant_id=settings.PAYWAY_MERCHANT_ID, api_key=settings.PAYWAY_API_KEY, seed=seed)
        for fake in (self.airtime, self.payway):
            fake.faults.timeout_rate = timeout_share
            fake.faults.hang_seconds = CLIENT_TIMEOUT_SECONDS * 2
        self.minimum = minimum
        self.refused: Counter[str] = Counter()
        self.asked = 0  # 10⁻⁶ PPT the phones asked to be paid

    def __enter__(self) -> Self:
        self.airtime.start()
        self.payway.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.airtime.stop()
        self.payway.stop()

    def _clients(self) -> dict[str, Any]:
        """The payout clients' settings that reach the fakes: their addresses, and the credentials the fakes were made
        with (this process's: the servers run other settings, whose development credentials the fakes would refuse)."""
        return {
            "AIRTIME_API_URL": self.airtime.endpoint,
            "AIRTIME_AUTH_URL": self.airtime.endpoint,
            "AIRTIME_CLIENT_ID": settings.AIRTIME_CLIENT_ID,
            "AIRTIME_CLIENT_SECRET": settings.AIRTIME_CLIENT_SECRET,
            "AIRTIME_TIMEOUT_SECONDS": CLIENT_TIMEOUT_SECONDS,
            "AIRTIME_CALLBACK_URL": "",
            "PAYWAY_API_URL": self.payway.endpoint,
            "PAYWAY_MERCHANT_ID": settings.PAYWAY_MERCHANT_ID,
            "PAYWAY_API_KEY": settings.PAYWAY_API_KEY,
            "PAYWAY_TIMEOUT_SECONDS": CLIENT_TIMEOUT_SECONDS,
        }

    def environment(self) -> dict[str, str]:
        """What the web and worker processes need to reach the fakes, and the run's minimum payout."""
        return {
            **{name: str(value) for name, value in self._clients().items()},
            "PAYOUT_MIN_AMOUNT": str(self.minimum),
        }

    def run(self, http: httpx.Client, phones: list[VirtualPhone], rng: random.Random, settle: float = 60) -> None:
        for currency, units in PAYOUT_RATES.items():
            if not PayoutRate.objects.filter(currency=currency).exists():
                PayoutRate.objects.create(currency=currency, units_per_ppt=units, note="simulator")
        for phone in phones:
            if not phone.honest or phone.provider_id is None:
                continue
            available = expect(http.get("/api/incentives/earnings", headers=phone.headers), 200)["available"]
            if available <= 0:
                self.refused["nothing_earned_not_asked"] += 1
                continue
            method = "cash" if rng.random() < 0.5 else "airtime"
            if method == "cash" and not self._register_account(http, phone):
                # Its whitelisting timed out: the phone takes airtime instead, as a provider would (staff can
                # whitelist the account again later).
                self.refused["account_not_whitelisted_took_airtime"] += 1
                method = "airtime"
            body: dict[str, Any] = {"method": method, "amount": available}
            if method == "airtime":
                body["sim_id"] = self._verify_sim(http, phone)
            response = http.post("/api/payouts", json=body, headers=phone.headers)
            if response.status_code != 201:
                self.refused[response.json().get("code", str(response.status_code))] += 1
            else:
                self.asked += available
        # The worker sends them; then, as beat does every minute, status checks settle what stayed unknown.
        deadline = time.monotonic() + settle
        while Payout.objects.filter(status__in=("queued", "sending")).exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        # The status checks run here, in the simulator's process: pointed at the fakes like the servers.
        with override_settings(**self._clients()):
            for _ in range(3):
                if not Payout.objects.filter(status="pending").exists():
                    break
                payouts_check_pending()

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
            "asked": self.asked,
            "refused": dict(self.refused),
            "paid_twice": sum(1 for count in delivered.values() if count > 1),
            "pending_without_reason": Payout.objects.filter(status="pending", pending_reason="").count(),
            "not_settled": unresolved,
        }
