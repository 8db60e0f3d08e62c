"""One simulation run: start the servers and the FCM and Baray fakes, enrol phones and clients (each buys PPT through
the Baray fake's checkout first), submit traffic, wait until every message is final, judge the canaries, let the
rewards' verification window pass (injected time: the posting sweep runs as if it were over), cash out, and summarise
what happened — from the phones' own ledger (what was really sent) and from the database (what the system believes)."""

import base64
import os
import random
import resource
import secrets
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import ROUND_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.db.models import Count, Min, Sum
from django.test.utils import override_settings
from django.utils import timezone

from apps.accounts.models import ClientOrganization
from apps.accounts.services import client_go_live, client_plan_internal
from apps.delivery.canaries import canaries_judge, canary_send
from apps.delivery.models import Canary, FraudFlag
from apps.delivery.settling import unsettled_figures
from apps.incentives.choices import RewardStatus
from apps.incentives.management.commands.ensure_demo_billing import DEFAULT_PRICES
from apps.incentives.models import Price, Reward
from apps.incentives.rewards import rewards_post_due
from apps.messaging.models import Job, Message
from apps.messaging.state import FINAL
from apps.payments.baray_fake import BarayFake
from apps.payments.services import exchange_rate_ensure
from apps.providers.models import Provider
from apps.providers.services import provider_approve
from apps.simulator.abuse import (
    AbuseSummary,
    abuse_summarise,
    code_reader,
    grade_honest,
    send_sign_in_codes,
    spam_burst,
    trust_one,
)
from apps.simulator.cashout import CashOut
from apps.simulator.fleet import (
    CARRIERS,
    Behaviour,
    Fleet,
    Scheduler,
    SimulatorFcm,
    VirtualPhone,
    expect,
    message_body,
    random_number,
    sign_in,
    to_e164,
)
from apps.simulator.processes import ServerConfig, Servers, process_cpu_seconds
from apps.simulator.work import WorkCounts, metric_samples, work_counts


@dataclass
class SimulationConfig:
    providers: int = 10
    clients: int = 2
    messages: int = 200
    rate: float = 20.0  # messages per second submitted
    bulk_share: float = 0.2  # share of messages that go through /bulk
    bulk_size: int = 50
    khmer_share: float = 0.6
    canaries: int = 20
    audit_phones: int = 4  # per carrier
    canary_carrier: str | None = None  # send canaries only to the audit phones on this carrier
    validity_seconds: int = 300
    settle_timeout: float = 180.0
    seed: int | None = None
    behaviour: Behaviour = field(default_factory=Behaviour)
    servers: ServerConfig = field(default_factory=ServerConfig)
    http_threads: int = 32
    submit_threads: int = 8
    # Each client buys at least this many US dollars of PPT through the Baray fake before it sends ("" or 0: none);
    # more when its share of the run's messages needs it (`Simulation._topup_usd`).
    topup_usd: str = "10"
    client_retries: int = 6  # a client's retries of a request after a server error or a broken connection
    # After the canaries are judged, the rewards' verification window (and the establishment hold) is let pass:
    # the posting sweep runs with the clock past it, so what phones earned posts or stays voided.
    post_rewards: bool = True
    # Then honest phones cash out (airtime or cash) what posted, against the payout fakes, this share of whose
    # calls time out; the servers' minimum payout is `payout_minimum` (10⁻⁶ PPT: a short run earns cents).
    cash_out: bool = True
    payout_timeout_share: float = 0.2
    payout_minimum: int = 100_000
    # The abusers (apps.simulator.abuse): a client's burst to neighbouring numbers (0: none), and sign-in codes sent
    # while an ordinary phone on the victims' carrier waits for them (0: none; needs two honest phones).
    spam_messages: int = 20
    sign_in_codes: int = 3
    # Seconds the FCM fake waits before each answer: Google's round trip (~0.05–0.15 s) where the fake answers at once.
    fcm_latency: float = 0.0


@dataclass
class Summary:
    submitted: int = 0
    refused: int = 0
    server_errors: int = 0
    unanswered: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    lost_detail: list[str] = field(default_factory=list)
    sent_twice: int = 0
    sent_twice_db: int = 0
    assigned_latency: dict[str, float] = field(default_factory=dict)
    delivered_latency: dict[str, float] = field(default_factory=dict)
    submit_seconds: float = 0
    total_seconds: float = 0
    throughput: float = 0
    canaries: int = 0
    canaries_missed: int = 0
    dishonest: int = 0
    dishonest_caught: int = 0
    honest_flagged: int = 0
    phone_errors: dict[str, int] = field(default_factory=dict)
    pushes: int = 0
    acks: int = 0
    opened: int = 0
    faked_deliveries: int = 0
    unknown_answered: int = 0
    resent: int = 0  # phones' reports and acknowledgements sent again after no answer or a 5xx
    topped_up_ppt: int = 0  # 10⁻⁶ PPT the clients bought through the Baray fake before sending
    topups: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by component while traffic ran
    # PostgreSQL's CPU seconds while traffic ran by whose connection its backends served (web, workers, beat,
    # simulator); backends that ended within the window are not in it (their CPU is in the postmaster's).
    postgres_by_client: dict[str, float] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)  # HTTP requests made while traffic ran, by kind
    work: WorkCounts | None = None  # tasks, transactions and cache commands while traffic ran (apps.simulator.work)
    pushes_on_metrics: int = 0  # pushes sent as the web server's /metrics counts them (the workers send them)
    payouts: dict[str, Any] = field(default_factory=dict)  # CashOut.summary()
    charged: int = 0  # 10⁻⁶ PPT captured from the clients for delivered messages
    charges_held: int = 0  # 10⁻⁶ PPT still held from the clients for messages not final
    rewards: dict[str, tuple[int, int]] = field(default_factory=dict)  # status -> (rewards, 10⁻⁶ PPT)
    paid_for_faked: int = 0  # rewards posted for deliveries dishonest phones faked
    held_for_faked: int = 0  # rewards of faked deliveries still in their window (a strike voids them)
    abuse: AbuseSummary = field(default_factory=AbuseSummary)

    @property
    def ok(self) -> bool:
        return (
            self.abuse.ok
            and self.lost == 0
            and self.sent_twice == 0
            and self.sent_twice_db == 0
            and self.paid_for_faked == 0
            and not self.payouts.get("paid_twice")
            and not self.payouts.get("pending_without_reason")
        )

    def lines(self) -> list[str]:
        def percentiles(values: dict[str, float]) -> str:
            if not values:
                return "n/a"
            return " ".join(f"{name} {value * 1000:.0f} ms" for name, value in values.items())

        statuses = self.statuses
        return [
            f"submitted      {self.submitted} (refused by the API: {self.refused}, "
            f"{self.refused / max(1, self.submitted + self.refused):.0%} of those answered); followed to a final state "
            f"with the {self.canaries} canaries: {self.submitted + self.canaries}",
            f"client retries {self.server_errors} server errors or broken connections (each retried with the same "
            f"Idempotency-Key); {self.unanswered} messages never answered",
            f"delivered      {statuses.get('delivered', 0)}",
            f"failed         {statuses.get('failed', 0)}",
            f"expired        {statuses.get('expired', 0)}",
            f"unknown        {statuses.get('unknown', 0)}  (final and explicit, not lost: a phone took it, its lease "
            f"ended and nobody answered whether it was sent; never sent again)",
            f"other final    rejected {statuses.get('rejected', 0)}, cancelled {statuses.get('cancelled', 0)}",
            f"lost           {self.lost}  (must be 0: accepted messages or canaries not final when the run ended)",
            *(f"  not final    {detail}" for detail in self.lost_detail[:10]),
            f"sent twice     {self.sent_twice}  (must be 0: phones that really sent one message; database: "
            f"{self.sent_twice_db})",
            f"submit→assigned   {percentiles(self.assigned_latency)}",
            f"submit→delivered  {percentiles(self.delivered_latency)}",
            f"throughput     {self.throughput:.1f} messages/s delivered or failed over {self.total_seconds:.1f} s "
            f"(submission took {self.submit_seconds:.1f} s)",
            f"phones         {self.pushes} pushes received, {self.acks} jobs acknowledged, {self.opened} opened from "
            f"sealed pushes (no acknowledgement), "
            f"{self.faked_deliveries} deliveries faked by dishonest phones, {self.unknown_answered} questions about "
            f"unknown jobs answered, {self.resent} reports or acknowledgements sent again after no answer",
            f"top-ups        {self.topups} paid through the Baray fake: {self.topped_up_ppt / 1_000_000:,.6f} PPT "
            f"topped up (a receipt each)",
            f"canaries       {self.canaries} sent, {self.canaries_missed} missed (fake delivery caught)",
            f"metrics        {self.pushes_on_metrics} pushes sent on the web server's /metrics (the workers' counters)",
            f"dishonest      {self.dishonest_caught} of {self.dishonest} caught (a fraud strike)",
            f"honest flagged {self.honest_flagged} (strikes against honest providers; should be 0)",
            f"PPT charged    {self.charged / 1_000_000:.2f} PPT captured from clients for delivered messages "
            f"(still held for messages not final: {self.charges_held / 1_000_000:.2f} PPT)",
            f"rewards        {self._rewards_line()}",
            f"paid for unverified or faked deliveries: {self.paid_for_faked} (must be 0); faked deliveries' rewards "
            f"still held: {self.held_for_faked} (they post after the verification window unless a strike voids them)",
            *self._payout_lines(),
            *self.abuse.lines(),
            *self._request_lines(),
            *(self.work.lines(self.submitted) if self.work else []),
            *self._cpu_lines(),
            *(f"phone error    {count}× {error}" for error, count in self.phone_errors.items()),
        ]

    def _payout_lines(self) -> list[str]:
        if not self.payouts:
            return []
        payouts = self.payouts
        outcomes = ", ".join(f"{status} {count}" for status, count in sorted(payouts["statuses"].items())) or "none"
        refused = ", ".join(f"{code} {count}" for code, count in sorted(payouts["refused"].items())) or "none"
        return [
            f"payouts        {outcomes} ({payouts.get('asked', 0) / 1_000_000:.2f} PPT of posted rewards asked); "
            f"refused or not asked: {refused}",
            f"paid twice     {payouts['paid_twice']}  (must be 0); pending without a reason "
            f"{payouts['pending_without_reason']} (must be 0); not sent when the run ended {payouts['not_settled']}",
        ]

    def _rewards_line(self) -> str:
        def ppt(units: int) -> str:
            return f"{units / 1_000_000:.2f} PPT"

        return ", ".join(
            f"{state} {count} ({ppt(units)})"
            for state, (count, units) in (
                ("posted", self.rewards.get("posted", (0, 0))),
                ("held", self.rewards.get("pending", (0, 0))),
                ("voided", self.rewards.get("voided", (0, 0))),
            )
        )

    def _request_lines(self) -> list[str]:
        if not self.requests:
            return []
        total = sum(self.requests.values())
        parts = ", ".join(f"{kind} {count}" for kind, count in sorted(self.requests.items()))
        per_message = total / self.submitted if self.submitted else 0
        return [f"requests       {total} while traffic ran = {per_message:.2f} per message: {parts}"]

    def _cpu_lines(self) -> list[str]:
        if not self.cpu:
            return []
        own = {name: seconds for name, seconds in self.cpu.items() if name != "postgres_all"}
        total = sum(own.values())
        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in own.items())
        per_message = total / self.submitted * 1000 if self.submitted else 0
        lines = [f"cpu            {total:.1f} s while traffic ran = {per_message:.1f} ms per message: {parts}"]
        if self.postgres_by_client:
            parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in sorted(self.postgres_by_client.items()))
            rest = self.cpu.get("postgres_all", 0.0) - sum(self.postgres_by_client.values())
            lines.append(
                f"               postgres: this run's database's backends by client and the server's own processes "
                f"({parts}; the simulator's not counted above); every PostgreSQL process on this machine "
                f"{self.cpu.get('postgres_all', 0.0):.1f} s, "
                f"of which {rest:.1f} s other databases' clients and ended backends"
            )
        elif "postgres" in self.cpu:
            lines.append("               (postgres: all its processes on this machine)")
        return lines


REQUEST_KINDS = (
    ("/api/messages/", "submit"),
    ("/ack", "ack"),
    ("/report", "report"),
    ("/heartbeat", "heartbeat"),
    ("/api/providers/me/jobs", "pull"),
)


def request_kind(path: str) -> str:
    """The kind of an API request by its path: submit, ack, report (one or a batch), heartbeat, pull, or other."""
    return next((kind for marker, kind in REQUEST_KINDS if marker in path), "other")


def pushes_on_metrics(http: httpx.Client) -> int:
    """Pushes counted as sent on the servers' /metrics. The Celery workers send them, so a figure above 0 shows that
    the workers' counters reach the web server's /metrics."""
    samples = metric_samples(http, "peerpower_push_total")
    return int(sum(sample.value for sample in samples if sample.labels.get("outcome") == "sent"))


def postgres_by_client_since(
    backends: dict[int, str], before: dict[int, float], after: dict[int, float]
) -> dict[str, float]:
    """CPU seconds each client's PostgreSQL backends used between two readings (`before`, `after`: backend pid → CPU
    seconds); a backend opened in between counts from 0, one that ended in between is left out."""
    totals: dict[str, float] = {}
    for pid, label in backends.items():
        if pid in after:
            totals[label] = totals.get(label, 0.0) + after[pid] - before.get(pid, 0.0)
    return totals


def own_cpu(cpu: dict[str, float], postgres_by_client: dict[str, float]) -> dict[str, float]:
    """The summary's CPU by component, with PostgreSQL's as the run's own database's backends and the server's own
    background processes, less the simulator's backends (every PostgreSQL process on the machine, `postgres_all`,
    counts other databases' clients too, and the simulator's own reads are not PeerPower's); `postgres_all` stays
    where no backend could be attributed."""
    figures = dict(cpu)
    machine = figures.pop("postgres_all", None)
    if postgres_by_client:
        figures["postgres"] = sum(seconds for client, seconds in postgres_by_client.items() if client != "simulator")
    elif machine is not None:
        figures["postgres"] = machine
    if machine is not None:
        figures["postgres_all"] = machine
    return figures


def retrying_database(read: Callable[[], Any], *, seconds: float = 120.0) -> Any:
    """A read of the simulator's own that outlives a database restart: a broken connection is closed and the read
    tried again until `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return read()
        except (OperationalError, InterfaceError):
            if time.monotonic() > deadline:
                raise
            connection.close()
            time.sleep(1)


def percentile_summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    values = sorted(values)

    def at(share: float) -> float:
        return values[min(len(values) - 1, int(share * len(values)))]

    return {"p50": statistics.median(values), "p90": at(0.90), "p99": at(0.99), "max": values[-1]}


class Simulation:
    def __init__(self, config: SimulationConfig, *, progress: Callable[[int, int], None] | None = None) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.progress = progress
        self.message_ids: list[int] = []
        self.refused = 0
        self.server_errors = 0  # 5xx answers and broken connections seen by the clients (each retried)
        self.unanswered = 0  # messages whose request never got an answer after every retry (stored or not: unknown)
        self._ids_lock = threading.Lock()
        self.topped_up_ppt = 0
        self.topups = 0
        self.seal_key = secrets.token_hex(16)
        self.requests: Counter[str] = Counter()
        self.requests_lock = threading.Lock()

    # --- setup ----------------------------------------------------------------------------------------------------
    def _audit_numbers(self) -> list[str]:
        # Several per carrier: matching remembers who last delivered to a number (sticky sender), so with one audit
        # phone per carrier every canary would go to the same provider.
        return [random_number(carrier, self.rng) for carrier in CARRIERS for _ in range(self.config.audit_phones)]

    def _enrol_phones(self, http: httpx.Client, fleet: Fleet) -> list[VirtualPhone]:
        config = self.config
        carriers = list(CARRIERS)
        dishonest = max(1, round(config.providers * config.behaviour.dishonest_share)) if config.providers > 1 else 0
        if config.behaviour.dishonest_share == 0:
            dishonest = 0
        phones = [
            VirtualPhone(index, carriers[index % len(carriers)], honest=index >= dishonest, rng=self.rng)
            for index in range(config.providers)
        ]
        for phone in phones:
            phone.enrol(http, self.rng)
            fleet.add(phone)
            provider = Provider.objects.get(user__phone=to_e164(phone.number))
            phone.provider_id = provider.pk
            if provider.status != "active":
                provider_approve(provider=provider, actor=None, reason="fleet simulator")
            phone.go_online(http)
            phone.heartbeat(http)
        return phones

    def _topup_usd(self) -> str:
        """What each client buys: `topup_usd`, or enough for its share of the run's messages at the dearest price
        twice over (no template is longer than two segments), so a long run is never refused for want of PPT: a
        refusal would measure the clients' balance, not the network. At 1 PPT per US dollar (the rate `run` sets),
        within the largest top-up the server takes."""
        config = self.config
        share = -(-config.messages // max(1, config.clients))
        needed = Decimal(share * 2 * max(DEFAULT_PRICES.values())) / 1_000_000
        largest = Decimal(settings.TOPUP_MAX_USD) / 100
        amount = min(largest, max(Decimal(config.topup_usd), needed.quantize(Decimal("0.01"), rounding=ROUND_UP)))
        return str(amount)

    def _top_up(self, http: httpx.Client, key: str) -> int:
        """Buy PPT as a client does: create the top-up, pay on the Baray fake's checkout page (which posts Baray's
        webhook to the web server), and wait until the server, having asked Baray, issued the PPT. The PPT bought."""
        headers = {"X-API-Key": key}
        topup = expect(
            http.post("/api/billing/topups", json={"amount": self._topup_usd(), "currency": "USD"}, headers=headers),
            201,
        )
        paid = httpx.post(f"{topup['checkout_url']}/pay", timeout=10)  # the checkout page's "Pay" button
        if paid.status_code != 303:
            raise RuntimeError(f"Baray checkout of {topup['id']}: {paid.status_code} {paid.text[:200]}")
        deadline = time.monotonic() + 30
        while topup["status"] != "succeeded":
            if topup["status"] in ("failed", "expired") or time.monotonic() > deadline:
                raise RuntimeError(f"top-up {topup['id']} not paid: {topup['status']} {topup['failure_reason']}")
            time.sleep(0.2)
            topup = expect(http.get(f"/api/billing/topups/{topup['id']}", headers=headers), 200)
        return int(topup["ppt"]["amount"])

    def _enrol_clients(self, http: httpx.Client) -> list[str]:
        return [self._enrol_client(http, f"Simulated client {index}") for index in range(self.config.clients)]

    def _enrol_client(self, http: httpx.Client, name: str) -> str:
        """A client organisation with an API key (and PPT, when the run tops up); its key."""
        number = random_number("smart", self.rng)
        headers = {"Authorization": f"Bearer {sign_in(http, number)}"}
        client = expect(http.post("/api/clients", json={"name": name}, headers=headers), 201)
        # Staff approve the simulated clients, on the internal plan (the simulator's keys ask for 10,000/s), as the
        # fleet's providers are approved: the simulation is of the network, not of vetting.
        client_go_live(
            organization=ClientOrganization.objects.get(pk=client["id"]),
            actor=None,
            reason="fleet simulator",
            plan=client_plan_internal(),
        )
        key = expect(
            http.post(
                f"/api/clients/{client['id']}/api-keys",
                json={"name": "simulator", "rate_per_second": 10_000},
                headers=headers,
            ),
            201,
        )
        if self.config.topup_usd:
            self.topped_up_ppt += self._top_up(http, key["secret"])
            self.topups += 1
        return key["secret"]

    # --- traffic ----------------------------------------------------------------------------------------------------
    def _plan(self) -> list[list[dict[str, Any]]]:
        """The requests to make: each a list of messages (one for /send, several for /bulk)."""
        config, rng = self.config, self.rng
        carriers = list(CARRIERS)
        requests: list[list[dict[str, Any]]] = []
        # The chance that a request is a bulk one, so that `bulk_share` of the messages go through /bulk.
        share, size = config.bulk_share, max(2, config.bulk_size)
        bulk_chance = share / (size * (1 - share) + share) if share < 1 else 1.0
        remaining = config.messages
        while remaining > 0:
            size = min(config.bulk_size, remaining) if rng.random() < bulk_chance else 1
            batch = []
            for _ in range(size):
                batch.append(
                    {
                        "to": random_number(rng.choice(carriers), rng),
                        "body": message_body(rng, config.khmer_share),
                        "priority": rng.choices(["high", "normal", "low"], weights=[2, 6, 2])[0],
                        "validity_seconds": config.validity_seconds,
                    }
                )
            requests.append(batch)
            remaining -= size
        return requests

    def _submit(self, http: httpx.Client, keys: list[str], requests: list[list[dict[str, Any]]]) -> None:
        config = self.config
        start = time.monotonic()
        schedule, sent_before = [], 0
        for batch in requests:
            schedule.append((start + sent_before / config.rate, batch))
            sent_before += len(batch)
        cursor = iter(enumerate(schedule))
        cursor_lock = threading.Lock()

        def worker() -> None:
            while True:
                with cursor_lock:
                    item = next(cursor, None)
                if item is None:
                    return
                index, (when, batch) = item
                pause = when - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                headers = {"Authorization": f"Bearer {keys[index % len(keys)]}"}
                ids, refused = self._post_messages(http, batch, headers)
                with self._ids_lock:
                    self.message_ids.extend(ids)
                    self.refused += refused

        threads = [threading.Thread(target=worker, name=f"client-{n}") for n in range(config.submit_threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _post_messages(
        self, http: httpx.Client, batch: list[dict[str, Any]], headers: dict[str, str]
    ) -> tuple[list[int], int]:
        """Submit one request as a careful client does: with an Idempotency-Key, retried the same way after a server
        error or a broken connection (the answer may have been lost after the message was stored), never after a
        refusal. Returns the accepted ids and how many messages were refused."""
        single = len(batch) == 1
        path, body = ("/api/messages/send", batch[0]) if single else ("/api/messages/bulk", {"messages": batch})
        headers = {**headers, "Idempotency-Key": f"sim-{self.rng.getrandbits(64):016x}"}
        response = None
        for attempt in range(self.config.client_retries + 1):
            try:
                response = http.post(path, json=body, headers=headers)
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code < 500:
                break
            with self._ids_lock:
                self.server_errors += 1
            time.sleep(min(8.0, 0.5 * 2**attempt))
        if response is None or response.status_code >= 500:
            with self._ids_lock:
                self.unanswered += len(batch)
            return [], 0
        if single:
            return ([response.json()["id"]], 0) if response.status_code == 202 else ([], 1)
        if response.status_code not in (200, 202):
            return [], len(batch)  # refused as a whole (overloaded, rate limited)
        answer = response.json()
        return [result["message"]["id"] for result in answer["results"] if result["ok"]], answer["refused"]

    def _canaries(self, audit_numbers: list[str], stop: threading.Event, duration: float) -> list[int]:
        """Canaries spread over the submission, as the beat task mixes them into traffic."""
        if self.config.canary_carrier:
            prefixes, _ = CARRIERS[self.config.canary_carrier]
            audit_numbers = [number for number in audit_numbers if "0" + number[4:6] in prefixes]
        ids = []
        count = self.config.canaries
        for index in range(count):
            if stop.wait(duration / max(1, count) if index else 0.5):
                break
            ids.append(canary_send(to=self.rng.choice(audit_numbers)).message_id)
        connection.close()  # this thread's own connection
        return ids

    def _final_count(self, ids: list[int]) -> int:
        final = 0
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            final += retrying_database(
                lambda chunk=chunk: Message.objects.filter(pk__in=chunk, status__in=FINAL).count()
            )
        return final

    # --- the run ----------------------------------------------------------------------------------------------------
    def run(self) -> Summary:
        config = self.config
        audit_numbers = self._audit_numbers()
        audit_e164 = [to_e164(number) for number in audit_numbers]
        config.servers.audit_recipients = tuple(audit_e164)
        scheduler = Scheduler(config.http_threads)
        fleet: Fleet | None = None

        def on_push(token: str | None, data: dict | None) -> None:
            if fleet is not None:
                fleet.on_push(token, data)

        credentials = Path(settings.VAR_DIR) / "simulator" / "fcm-service-account.json"
        baray_keys = {
            "api_key": f"pk_sim_{secrets.token_hex(8)}",
            "secret_key": base64.b64encode(secrets.token_bytes(32)).decode(),
            "iv": base64.b64encode(secrets.token_bytes(16)).decode(),
        }
        self.cash_out = CashOut(
            timeout_share=config.payout_timeout_share, seed=config.seed, minimum=config.payout_minimum
        )
        fcm_fake = SimulatorFcm(on_push=on_push, latency_seconds=config.fcm_latency)
        with fcm_fake as fcm, BarayFake(**baray_keys) as baray, self.cash_out:
            fcm.write_service_account(credentials)
            baray_env = {
                "BARAY_API_URL": baray.endpoint,
                "BARAY_CHECKOUT_URL": baray.checkout_url,
                "BARAY_API_KEY": baray_keys["api_key"],
                "BARAY_SECRET_KEY": baray_keys["secret_key"],
                "BARAY_IV": baray_keys["iv"],
                "BARAY_WEBHOOK_SECRET_KEY": "",
                "BARAY_WEBHOOK_IV": "",
            }
            # Sign-in codes are sealed by this process and opened by the web servers: one key for both.
            extra_env = {
                **config.servers.extra_env,
                **baray_env,
                **self.cash_out.environment(),
                "MESSAGE_SEAL_KEY": self.seal_key,
            }
            servers = Servers(
                replace(config.servers, extra_env=extra_env),
                fcm_endpoint=fcm.endpoint,
                fcm_credentials=credentials,
                project_id=fcm.project_id,
            )
            baray.webhook_url = f"{servers.url}/api/billing/baray/webhook"
            if config.topup_usd:
                exchange_rate_ensure(currency="USD", ppt_per_unit=Decimal(1), note="fleet simulator")
                self._ensure_prices()
            try:
                servers.start()
                limits = httpx.Limits(max_connections=config.http_threads + config.submit_threads + 8)
                hooks = {"request": [self._count_request]}
                with (
                    httpx.Client(base_url=servers.url, timeout=30, limits=limits, event_hooks=hooks) as http,
                    httpx.Client(
                        base_url=servers.phone_url, timeout=30, limits=limits, event_hooks=hooks
                    ) as phone_http,
                ):
                    fleet = Fleet(
                        http=phone_http,  # the phones' own web pool when there is one
                        behaviour=config.behaviour,
                        scheduler=scheduler,
                        audit_numbers=set(audit_e164),
                        audit_token=servers.audit_token,
                        rng=self.rng,
                    )
                    phones = self._enrol_phones(http, fleet)
                    keys = self._enrol_clients(http)
                    spam_key = self._enrol_client(http, "Simulated spammer") if config.spam_messages else ""
                    summary = self._drive(http, fleet, phones, keys, audit_e164, servers, spam_key=spam_key)
                    return summary
            finally:
                scheduler.stop()
                servers.stop()

    def _drive(
        self,
        http: httpx.Client,
        fleet: Fleet,
        phones: list[VirtualPhone],
        keys: list[str],
        audit: list[str],
        servers: Servers,
        *,
        spam_key: str = "",
    ) -> Summary:
        config = self.config
        requests = self._plan()
        honest = [phone for phone in phones if phone.honest]
        trusted = trust_one(phones) if config.sign_in_codes and len(honest) >= 2 else None
        reader = code_reader(phones, trusted) if trusted else None
        grade_honest(phones, except_phone=reader)
        spam_ids = spam_burst(http, spam_key, self.rng, config.spam_messages) if spam_key else []
        stop = threading.Event()
        canary_ids: list[int] = []
        expected_duration = config.messages / config.rate
        canary_thread = threading.Thread(
            target=lambda: canary_ids.extend(self._canaries(audit, stop, expected_duration)), name="canaries"
        )

        def heartbeats() -> None:
            while not stop.wait(30):
                for phone in phones:
                    fleet.scheduler.soon(lambda phone=phone: fleet.heartbeat(phone, every=30))

        heartbeat_thread = threading.Thread(target=heartbeats, name="heartbeats", daemon=True)
        backends_before = servers.postgres_backends(simulator=os.getpid())
        backend_cpu_before = process_cpu_seconds(backends_before)
        cpu_before = self._cpu(servers)
        work_before = work_counts(http)
        requests_before = self.requests.copy()
        started = time.monotonic()
        canary_thread.start()
        heartbeat_thread.start()
        self._submit(http, keys, requests)
        code_ids = send_sign_in_codes(reader, self.rng, config.sign_in_codes, seal_key=self.seal_key) if reader else []
        submit_seconds = time.monotonic() - started
        canary_thread.join()

        ids = [*self.message_ids, *canary_ids, *code_ids]
        deadline = time.monotonic() + config.settle_timeout
        final = self._final_count(ids)
        while final < len(ids) and time.monotonic() < deadline:
            if self.progress:
                self.progress(final, len(ids))
            time.sleep(0.5)
            final = self._final_count(ids)
        if self.progress:
            self.progress(final, len(ids))
        # The deliveries' captures and rewards are the workers' settle task's, a moment after the last report: it
        # must have run before the canaries' strikes and the rewards' posting are judged (apps.delivery.settling).
        while unsettled_figures()[0] and time.monotonic() < deadline:
            time.sleep(0.2)
        total_seconds = time.monotonic() - started
        pushes_counted = pushes_on_metrics(http)
        cpu = {name: seconds - cpu_before.get(name, 0.0) for name, seconds in self._cpu(servers).items()}
        backends = {**backends_before, **servers.postgres_backends(simulator=os.getpid())}
        postgres_by_client = postgres_by_client_since(backends, backend_cpu_before, process_cpu_seconds(backends))
        cpu = own_cpu(cpu, postgres_by_client)
        work = work_counts(http).since(work_before)
        requests_made = {kind: count - requests_before.get(kind, 0) for kind, count in self.requests.items()}
        stop.set()

        # Canary judgement: after the confirmation window, as the beat task would do it every minute.
        with override_settings(AUDIT_CONFIRM_WINDOW_SECONDS=config.servers.audit_confirm_seconds):
            wait_until = time.monotonic() + config.servers.audit_confirm_seconds + 1
            while time.monotonic() < wait_until:
                time.sleep(0.5)
            canaries_judge()
        time.sleep(0.5)  # reports still in flight from phones (none should change anything now)
        if config.post_rewards or config.cash_out:
            self._post_rewards()
        if config.cash_out:
            self.cash_out.run(http, phones, self.rng)
        summary = self._summarise(fleet, phones, ids, canary_ids, submit_seconds, total_seconds)
        if config.cash_out:
            summary.payouts = self.cash_out.summary()
        summary.cpu = cpu
        summary.postgres_by_client = postgres_by_client
        summary.work = work
        summary.requests = {kind: count for kind, count in requests_made.items() if count}
        summary.pushes_on_metrics = pushes_counted
        summary.topups, summary.topped_up_ppt = self.topups, self.topped_up_ppt
        summary.abuse = abuse_summarise(
            http=http,
            spam_ids=spam_ids,
            spam_count=config.spam_messages,
            code_ids=code_ids,
            reader=reader,
            trusted=trusted,
        )
        return summary

    @staticmethod
    def _ensure_prices() -> None:
        """Clients pay per segment: the development prices, where staff have set none."""
        if not Price.objects.exists():
            Price.objects.bulk_create(
                Price(priority=priority, route=route, amount=amount, note="fleet simulator")
                for (priority, route), amount in DEFAULT_PRICES.items()
            )

    @staticmethod
    def _post_rewards() -> int:
        """Post what is due once the verification window and the establishment hold are over, as the beat task will
        then, with the clock injected past both; how many posted. Strikes (the canaries' judgement) came first."""
        hold = max(settings.INCENTIVES_VERIFICATION_WINDOW_SECONDS, settings.INCENTIVES_ESTABLISHMENT_HOLD_SECONDS)
        later = timezone.now() + timedelta(seconds=hold + 60)
        posted = 0
        while batch := rewards_post_due(now=later):
            posted += batch
        return posted

    def _count_request(self, request: httpx.Request) -> None:
        """Count each request the phones and clients make, by kind (what a message costs in requests)."""
        kind = request_kind(request.url.path)
        with self.requests_lock:
            self.requests[kind] += 1

    @staticmethod
    def _cpu(servers: Servers) -> dict[str, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {**servers.cpu_seconds(), "simulator": usage.ru_utime + usage.ru_stime}

    def _summarise(
        self,
        fleet: Fleet,
        phones: list[VirtualPhone],
        ids: list[int],
        canary_ids: list[int],
        submit_seconds: float,
        total_seconds: float,
    ) -> Summary:
        summary = Summary(
            submitted=len(self.message_ids),
            refused=self.refused,
            server_errors=self.server_errors,
            unanswered=self.unanswered,
        )
        messages = Message.objects.filter(pk__in=self.message_ids)
        summary.statuses = dict(messages.values_list("status").annotate(n=Count("id")).order_by())
        summary.charged = messages.aggregate(total=Sum("price_charged"))["total"] or 0
        summary.charges_held = messages.exclude(status__in=FINAL).aggregate(total=Sum("price_held"))["total"] or 0
        summary.lost = len(ids) - self._final_count(ids)
        if summary.lost:
            for message in Message.objects.filter(pk__in=ids).exclude(status__in=FINAL)[:10]:
                jobs = ", ".join(f"job {job.pk} {job.status} {job.end_reason}".strip() for job in message.jobs.all())
                summary.lost_detail.append(f"message {message.pk} {message.status} attempts: {jobs or 'none'}")
        summary.sent_twice = len(fleet.ledger.sent_twice())
        summary.sent_twice_db = (
            Job.objects.filter(message_id__in=ids, sent_at__isnull=False)
            .values("message_id")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .count()
        )
        rows = messages.annotate(first_offer=Min("jobs__offered_at")).values_list(
            "created_at", "first_offer", "delivered_at"
        )
        assigned, delivered = [], []
        for created, offered, delivered_at in rows:
            if offered:
                assigned.append((offered - created).total_seconds())
            if delivered_at:
                delivered.append((delivered_at - created).total_seconds())
        summary.assigned_latency = percentile_summary(assigned)
        summary.delivered_latency = percentile_summary(delivered)
        summary.submit_seconds = submit_seconds
        summary.total_seconds = total_seconds
        finished = sum(summary.statuses.get(status, 0) for status in ("delivered", "failed"))
        summary.throughput = finished / total_seconds if total_seconds else 0
        summary.canaries = len(canary_ids)
        summary.canaries_missed = Canary.objects.filter(message_id__in=canary_ids, status="missed").count()
        struck = set(
            FraudFlag.objects.filter(provider_id__in=[p.provider_id for p in phones], strike=True)
            .values_list("provider_id", flat=True)
            .distinct()
        )
        summary.dishonest = sum(1 for p in phones if not p.honest)
        summary.dishonest_caught = sum(1 for p in phones if not p.honest and p.provider_id in struck)
        summary.honest_flagged = sum(1 for p in phones if p.honest and p.provider_id in struck)
        summary.phone_errors = dict(fleet.scheduler.errors.most_common(5))
        summary.pushes, summary.acks, summary.opened = fleet.ledger.pushes, fleet.ledger.acks, fleet.ledger.opened
        summary.faked_deliveries = sum(fleet.ledger.faked.values())
        summary.unknown_answered = fleet.ledger.unknown_answered
        summary.resent = fleet.ledger.resent
        rewards = Reward.objects.filter(provider_id__in=[p.provider_id for p in phones])
        summary.rewards = {
            status: (count, units or 0)
            for status, count, units in rewards.values("status")
            .annotate(n=Count("id"), total=Sum("amount"))
            .values_list("status", "n", "total")
            .order_by()
        }
        faked = rewards.filter(message_id__in=list(fleet.ledger.faked))
        summary.paid_for_faked = faked.filter(status=RewardStatus.POSTED).count()
        summary.held_for_faked = faked.filter(status=RewardStatus.PENDING).count()
        return summary
