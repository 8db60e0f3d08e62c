"""Virtual phones and clients that drive a running PeerPower only through its public interfaces.

Phones sign in with OTP, bind a did:key, register as providers with SIMs on Cambodian carriers, and then react to
the pushes that reach the simulator's FCM fake: acknowledge, "send" after a realistic delay, report sent and
delivered (signed with the DID key), or fail, or go offline after acknowledging. A busy phone sends what it has
queued in the protocol's order: `sent` (and `failed`) reports first, then `delivered` ones, then acknowledgements of
new jobs. When a heartbeat says jobs are still reserved for it, a phone pulls the jobs whose outcome the server does
not know (acknowledged, lease ended without a report) and answers each: `sent` if it sent it, else `failed` with
`not_sent`. A share of them are dishonest:
they report delivered without sending. Honest phones that "send" to an audit number make that audit phone confirm
it (`POST /api/audit/inbound`), as the network's real receiving phones do.

Clients sign in, create a client organisation and an API key, and submit messages over HTTP at the chosen rate.

The phones' work is driven by one scheduler (a heap of timed steps) and a pool of HTTP threads, so thousands of
phones in flight do not need thousands of sleeping threads.
"""

import base64
import heapq
import itertools
import json
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from multiformats import multibase, multicodec

from apps.delivery.fcm_fake import FcmFake
from apps.delivery.sealed_push import SUITE, seal_info
from apps.simulator.otp import simulated_code

# Mobile prefixes (leading 0) and the SIM's MCC-MNC per carrier; six more digits make a valid number.
CARRIERS = {
    "smart": (("010", "015", "016", "069", "070", "081", "086", "093", "098"), "456-06"),
    "cellcard": (("011", "012", "014", "017", "061", "077", "078", "085", "089", "092", "095", "099"), "456-01"),
    "metfone": (("060", "066", "067", "068", "090", "097"), "456-08"),
}

ENGLISH = (
    "Your verification code is {code}. It expires in 5 minutes.",
    "Your order #{code} has been shipped and will arrive tomorrow.",
    "Reminder: your appointment is on Monday at 9:00. Reply STOP to opt out.",
    "Payment of ${amount} received. Thank you for banking with us.",
)
KHMER = (
    "លេខកូដផ្ទៀងផ្ទាត់របស់អ្នកគឺ {code}។ វានឹងផុតកំណត់ក្នុងរយៈពេល ៥ នាទី។",
    "ការបញ្ជាទិញរបស់អ្នក #{code} ត្រូវបានដឹកជញ្ជូនហើយ។",
    "សូមរំលឹក៖ ការណាត់ជួបរបស់អ្នកនៅថ្ងៃច័ន្ទ ម៉ោង ៩ ព្រឹក។",
    "យើងបានទទួលការទូទាត់ ${amount}។ សូមអរគុណ។",
)


def random_number(carrier: str, rng: random.Random) -> str:
    prefixes, _ = CARRIERS[carrier]
    return f"{rng.choice(prefixes)}{rng.randint(2, 9)}{rng.randint(0, 99999):05d}"


def to_e164(local: str) -> str:
    return "+855" + local[1:]


def message_body(rng: random.Random, khmer_share: float) -> str:
    templates = KHMER if rng.random() < khmer_share else ENGLISH
    return rng.choice(templates).format(code=f"{rng.randint(0, 999999):06d}", amount=rng.randint(1, 500))


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# The order a busy phone sends its queued reports in: whether an SMS went out first (a `sent` report the server has
# not processed when the lease ends leaves the outcome unknown), then deliveries.
REPORT_ORDER = {"sent": 0, "failed": 0, "delivered": 1}


class ApiError(RuntimeError):
    pass


def unanswered(response: httpx.Response | None) -> bool:
    """No answer the phone can act on: the connection broke, or the server could not serve it (5xx, such as 503
    while a store restarts). The app keeps what it sent and sends it again later."""
    return response is None or response.status_code >= 500


def retry_after(response: httpx.Response | None, default: float = 2.0) -> float:
    """Seconds before sending again: the server's Retry-After when it gave one."""
    try:
        return max(0.5, float(response.headers["Retry-After"])) if response is not None else default
    except (KeyError, ValueError):
        return default


def expect(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    if response.status_code not in statuses:
        raise ApiError(f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text}")
    return response.json() if response.content else {}


def sign_in(http: httpx.Client, phone_local: str) -> str:
    """OTP sign-in as a real user does; the code comes from the simulator's OTP sender."""
    expect(http.post("/api/auth/otp/request", json={"phone": phone_local}), 202)
    code = None
    for _ in range(100):
        code = simulated_code(to_e164(phone_local))
        if code:
            break
        time.sleep(0.05)
    if not code:
        raise ApiError(f"no OTP code for {phone_local}: is the server's OTP_SENDER the simulator's?")
    body = expect(http.post("/api/auth/otp/verify", json={"phone": phone_local, "code": code}), 200)
    return body["access"]


class Scheduler:
    """Runs callables at given monotonic times on a thread pool."""

    def __init__(self, threads: int) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._counter = itertools.count()
        self._condition = threading.Condition()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="phone")
        self._stopped = False
        self.errors: Counter[str] = Counter()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def at(self, when: float, step: Callable[[], None]) -> None:
        with self._condition:
            heapq.heappush(self._heap, (when, next(self._counter), step))
            self._condition.notify()

    def soon(self, step: Callable[[], None]) -> None:
        self.at(time.monotonic(), step)

    def _run(self, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as error:  # noqa: BLE001 - a phone's trouble is counted, not fatal to the run
            self.errors[type(error).__name__ + ": " + str(error)[:120]] += 1

    def _loop(self) -> None:
        while True:
            with self._condition:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._condition.wait(timeout)
                if self._stopped:
                    return
                _, _, step = heapq.heappop(self._heap)
            self._pool.submit(self._run, step)

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify()
        self._pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class Behaviour:
    """How the virtual phones act; delays are in seconds."""

    send_delay: tuple[float, float] = (0.5, 1.5)
    deliver_delay: tuple[float, float] = (1.6, 3.0)
    fail_share: float = 0.03
    offline_share: float = 0.01  # per job: acknowledge, then go offline (the job is never reported)
    offline_seconds: tuple[float, float] = (30.0, 90.0)  # how long until the phone is back
    dishonest_share: float = 0.1
    # 0: each acknowledgement and report is its own request (POST /api/jobs/{id}/ack, /api/jobs/{id}/report); above
    # 0: a phone collects them for this many seconds and sends each kind in one request (POST /api/jobs/ack,
    # /api/jobs/reports), as the app does when it is busy: the reports first (sent before delivered), then the acks
    # (folded: riding on the reports' request, which takes them after the reports).
    batch_seconds: float = 0.0
    # The folded protocol (fewer requests per message): a phone that has the delivery receipt before its `sent` report
    # left reports `delivered` alone; it sends no heartbeat while its other requests count as one; and it acknowledges
    # the offered jobs a report's answer lists. False: the classic protocol (every report, a heartbeat every round).
    folded: bool = True
    # Misbehaving phones (the chaos suite), per report: send it again at once (a retry after a lost answer), again
    # much later (a phone that was offline replays its queue), or a forged copy (signed with another key, or sent by
    # another phone). None of them may change anything; each is answered without a server error.
    duplicate_share: float = 0.0
    late_share: float = 0.0
    late_seconds: tuple[float, float] = (60.0, 120.0)
    forged_share: float = 0.0


@dataclass
class Ledger:
    """What the phones really did (the ground truth the server's view is checked against)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sent_by: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))  # message id -> phone ids
    faked: Counter[int] = field(default_factory=Counter)  # message id -> delivered reports without sending
    pushes: int = 0
    acks: int = 0
    opened: int = 0  # jobs taken from a sealed push, without an acknowledgement (the report acknowledges them)
    reports: Counter[str] = field(default_factory=Counter)
    audit_confirmations: int = 0
    unknown_answered: int = 0  # answers to the server's "did you send it?" for jobs whose lease ended unreported
    resent: int = 0  # reports and acknowledgements sent again after no answer or a 5xx
    replays: Counter[str] = field(default_factory=Counter)  # "duplicate 200", "forged 403"...: misbehaviour answers

    def sent_twice(self) -> list[int]:
        with self.lock:
            return [message_id for message_id, phones in self.sent_by.items() if len(phones) > 1]


class VirtualPhone:
    def __init__(self, index: int, carrier: str, honest: bool, rng: random.Random) -> None:
        self.index = index
        self.carrier = carrier
        self.honest = honest
        # A phone that never fails a send at random: the trusted pool's (a partner's SIM), so that a sign-in code,
        # which waits for the pool rather than go to another phone, is not left waiting by the dice.
        self.reliable = False
        self.number = random_number(carrier, rng)
        self.fcm_token = f"sim-{index}-{rng.getrandbits(64):016x}"
        self.key = Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.did = "did:key:" + multibase.encode(multicodec.wrap("ed25519-pub", raw), "base58btc")
        # The HPKE key pair pushed jobs are sealed to: the app's Tink keyset (its public half registered with the
        # device).
        self.seal_private = X25519PrivateKey.generate()
        seal_public = self.seal_private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.seal_key = base64.b64encode(seal_public).decode()
        self.offline = False
        self.headers: dict[str, str] = {}
        self.provider_id: int | None = None
        self.device_id: int | None = None
        self.outbox: list[dict[str, Any]] = []  # reports waiting for the next batch
        self.acks: list[int] = []  # job ids waiting for the next batch acknowledgement
        self.taken: dict[int, dict[str, Any]] = {}  # jobs this phone has acknowledged, by id
        self.sent: set[int] = set()  # jobs it really sent (reported or not)
        self.delivered: set[int] = set()  # jobs whose delivery receipt it holds (reported or not)
        self.dropped: set[int] = set()  # jobs it told the server it did not send: never sent afterwards
        self.flush_due = False  # a batch of queued reports and acknowledgements is scheduled
        self.last_request_at = 0.0  # monotonic time of its last request (any request counts as a heartbeat)
        self.outbox_lock = threading.Lock()

    def sign(self, text: str) -> str:
        return base64.b64encode(self.key.sign(text.encode())).decode()

    def open_sealed(self, data: dict[str, str]) -> dict[str, Any] | None:
        """The job a push carries sealed to this phone (docs/provider-protocol.md §7), or None: no `sealed`, or one
        that does not open as this job's (the phone then fetches the job as before)."""
        sealed, job_id = data.get("sealed"), data.get("job", "")
        if not sealed or not job_id.isdigit():
            return None
        try:
            plain = SUITE.decrypt(base64.b64decode(sealed), self.seal_private, info=seal_info(int(job_id)))
            job = json.loads(plain)
        except (InvalidTag, ValueError):
            return None
        return job if isinstance(job, dict) and job.get("id") == int(job_id) else None

    @staticmethod
    def forger_signature(report: dict[str, Any]) -> str:
        """A well-formed signature by a key nobody registered."""
        return base64.b64encode(Ed25519PrivateKey.generate().sign(report["occurred_at"].encode())).decode()

    def enrol(self, http: httpx.Client, rng: random.Random) -> None:
        """Sign in, bind the DID key, register as a provider with one or two SIMs on the phone's carrier."""
        self.headers = {"Authorization": f"Bearer {sign_in(http, self.number)}"}
        challenge = expect(http.post("/api/me/did/challenge", headers=self.headers), 201)
        bind = {"did": self.did, "signature": self.sign(challenge["message"])}
        expect(http.post("/api/me/did", json=bind, headers=self.headers), 200)
        _, mcc_mnc = CARRIERS[self.carrier]
        sims = [{"msisdn": self.number, "slot": 0, "mcc_mnc": mcc_mnc}]
        if rng.random() < 0.3:
            sims.append({"msisdn": random_number(self.carrier, rng), "slot": 1, "mcc_mnc": mcc_mnc})
        registration = {
            "sims": sims,
            "device": {
                "fcm_token": self.fcm_token,
                "platform": "android",
                "app_version": "1.0.0-sim",
                "seal_key": self.seal_key,
            },
            "province": "phnom_penh",
        }
        body = expect(http.post("/api/providers/register", json=registration, headers=self.headers), 201, 200)
        self.provider_id = body.get("id")
        devices = body.get("devices") or []
        self.device_id = devices[0]["id"] if devices and isinstance(devices[0], dict) else None

    def go_online(self, http: httpx.Client) -> None:
        expect(http.patch("/api/providers/me", json={"availability": "online"}, headers=self.headers), 200)

    def heartbeat(self, http: httpx.Client) -> int:
        """Send a heartbeat; returns how many jobs the server still holds for this phone (0 while offline)."""
        if self.offline:
            return 0
        body = expect(http.post("/api/providers/me/heartbeat", json={"battery": 80}, headers=self.headers), 200)
        return int(body.get("jobs") or 0)


class Fleet:
    """The virtual phones, fed by the FCM fake's pushes."""

    def __init__(
        self,
        *,
        http: httpx.Client,
        behaviour: Behaviour,
        scheduler: Scheduler,
        audit_numbers: set[str],
        audit_token: str,
        rng: random.Random,
    ) -> None:
        self.http = http
        self.behaviour = behaviour
        self.scheduler = scheduler
        self.audit_numbers = audit_numbers
        self.audit_token = audit_token
        self.rng = rng
        self.phones: dict[str, VirtualPhone] = {}  # by FCM token
        self.ledger = Ledger()

    def add(self, phone: VirtualPhone) -> None:
        self.phones[phone.fcm_token] = phone

    def on_push(self, token: str | None, data: dict[str, str] | None) -> None:
        phone = self.phones.get(token or "")
        if phone is None or not data:
            return
        if data.get("kind") == "wake" and self.behaviour.folded and not phone.offline:
            # The server marked the phone offline (its requests no longer count as heartbeats): a heartbeat now,
            # whatever else it sent lately, puts it back.
            self.scheduler.soon(lambda: self.heartbeat(phone))
            return
        if data.get("kind") != "job":
            return
        with self.ledger.lock:
            self.ledger.pushes += 1
        if phone.offline:
            return
        job_id = int(data["job"])
        if self.behaviour.folded and job_id in phone.taken:
            return  # acknowledged already (listed in a report's answer before its push came)
        job = phone.open_sealed(data)
        if job is not None:
            # The push carries the job: the phone sends it at once, and its report acknowledges it (`ack_folded`).
            self._accepted(phone, job, acknowledged=False)
            return
        if self.behaviour.batch_seconds <= 0:
            self.scheduler.soon(lambda: self._ack(phone, job_id))
            return
        with phone.outbox_lock:
            phone.acks.append(job_id)
        self._flush_later(phone)

    def _ack(self, phone: VirtualPhone, job_id: int) -> None:
        phone.last_request_at = time.monotonic()
        response = self.http.post(f"/api/jobs/{job_id}/ack", headers=phone.headers)
        if response.status_code == 200:
            self._accepted(phone, response.json())
        # Otherwise already acknowledged (a repeated push) or given to someone else meanwhile.

    def _flush_later(self, phone: VirtualPhone) -> None:
        """Send what the phone queued once the batching window ends (one window at a time per phone)."""
        with phone.outbox_lock:
            if phone.flush_due:
                return
            phone.flush_due = True
        self.scheduler.at(time.monotonic() + self.behaviour.batch_seconds, lambda: self._flush(phone))

    def _flush(self, phone: VirtualPhone) -> None:
        """Reports first — `sent` and `failed` (what settles whether an SMS went out, so the server never thinks
        it lost one), then `delivered` — and only then the acknowledgements of new jobs."""
        with phone.outbox_lock:
            phone.flush_due = False
            batch, phone.outbox = phone.outbox, []
            job_ids, phone.acks = list(dict.fromkeys(phone.acks)), []
        if batch:
            if self.behaviour.folded:
                batch = delivered_implies_sent(batch)
            batch.sort(key=lambda report: REPORT_ORDER[report["status"]])  # stable: each job's sent before delivered
            # The folded protocol: the acknowledgements ride on the reports' request (taken after them).
            riding = job_ids if self.behaviour.folded else []
            offered = self._post_reports(phone, batch, waiting_acks=job_ids, acks=riding)
            if offered is None:
                return  # reports first: the acknowledgements wait with them for the next try
            if riding:
                job_ids = []
            if self.behaviour.folded:  # the answer lists new offers: acknowledge them now, before their pushes
                with phone.outbox_lock:
                    job_ids += [job_id for job_id in offered if job_id not in phone.taken and job_id not in job_ids]
        if job_ids:
            response = self._post("/api/jobs/ack", phone, json={"jobs": job_ids})
            if unanswered(response):
                self._requeue(phone, acks=job_ids, response=response)
                return
            body = expect(response, 200)
            for row in body["results"]:
                if row["ok"]:
                    self._accepted(phone, row["job"])

    def _accepted(self, phone: VirtualPhone, job: dict[str, Any], *, acknowledged: bool = True) -> None:
        """The phone has the job (acknowledged, or opened from a sealed push): send it after a while, or go offline
        with it."""
        with phone.outbox_lock:
            if job["id"] in phone.taken:
                return  # a repeated push raced the first acknowledgement: the app knows its jobs
            phone.taken[job["id"]] = job
        with self.ledger.lock:
            if acknowledged:
                self.ledger.acks += 1
            else:
                self.ledger.opened += 1
        behaviour, rng = self.behaviour, self.rng
        if rng.random() < behaviour.offline_share:
            # The battery died: no report, no acks, no heartbeats until it is back; the lease will expire.
            phone.offline = True
            back = time.monotonic() + rng.uniform(*behaviour.offline_seconds)
            self.scheduler.at(back, lambda: self._back_online(phone))
            return
        delay = rng.uniform(*behaviour.send_delay)
        self.scheduler.at(time.monotonic() + delay, lambda: self._send(phone, job))

    def _back_online(self, phone: VirtualPhone) -> None:
        phone.offline = False
        phone.go_online(self.http)
        self.heartbeat(phone)

    def heartbeat(self, phone: VirtualPhone, *, every: float = 0.0) -> None:
        """A heartbeat; when the server still holds jobs for the phone, it asks about the ones it lost track of. With
        the folded protocol the round of heartbeats (every `every` seconds) skips a phone that made another request
        in that time: the server counted that one as a heartbeat."""
        if self.behaviour.folded and every and time.monotonic() - phone.last_request_at < every:
            return
        phone.last_request_at = time.monotonic()
        if phone.heartbeat(self.http):
            self.answer_unknown(phone)

    def answer_unknown(self, phone: VirtualPhone) -> None:
        """Answer for each job the server lists as `unknown` (acknowledged, lease ended without a report): `delivered`
        if this phone holds its receipt, `sent` if it sent it, else `failed` with `not_sent` so the message can go to
        another phone."""
        response = self.http.get("/api/providers/me/jobs", params={"status": "unknown"}, headers=phone.headers)
        for row in expect(response, 200):
            with phone.outbox_lock:
                job, sent = phone.taken.get(row["id"]), row["id"] in phone.sent
                delivered = row["id"] in phone.delivered
                if job is not None and not sent:
                    # Answered "not sent": the app drops the job, so it can never go out after all (it may go to
                    # another phone now).
                    phone.dropped.add(row["id"])
            if job is None:
                continue  # not one this phone knows (cannot sign for it without its trace token)
            with self.ledger.lock:
                self.ledger.unknown_answered += 1
            if delivered:
                # It holds the receipt: `delivered` answers for both (its first `delivered`, sent while the lease was
                # ending, came too late to count; answering only `sent` would leave the message waiting for ever).
                self._report(phone, job, "delivered")
            elif sent:
                self._report(phone, job, "sent")
            else:
                self._report(phone, job, "failed", error_code="not_sent")

    def _send(self, phone: VirtualPhone, job: dict[str, Any]) -> None:
        rng = self.rng
        failing = phone.honest and not phone.reliable and rng.random() < self.behaviour.fail_share
        with phone.outbox_lock:
            if job["id"] in phone.dropped:
                return  # the phone already told the server it did not send it
            if phone.honest and not failing:
                phone.sent.add(job["id"])  # under the lock that answering "not sent" takes
        if failing:
            self._report(phone, job, "failed", error_code=rng.choice(["generic_failure", "no_service", "radio_off"]))
            return
        if phone.honest:
            with self.ledger.lock:
                self.ledger.sent_by[job["message_id"]].append(phone.index)
            if job["to"] in self.audit_numbers:
                # The network's own phone received it and says so.
                expect(
                    self.http.post(
                        "/api/audit/inbound",
                        json={"to": job["to"], "body": job["body"]},
                        headers={"Authorization": f"Bearer {self.audit_token}"},
                    ),
                    200,
                    202,
                )
                with self.ledger.lock:
                    self.ledger.audit_confirmations += 1
        if not (self.behaviour.folded and self.behaviour.batch_seconds <= 0):
            self._report(phone, job, "sent")  # unbatched and folded: the delivery receipt comes first, reported alone
        delay = rng.uniform(*self.behaviour.deliver_delay)
        self.scheduler.at(time.monotonic() + delay, lambda: self._deliver(phone, job))

    def _deliver(self, phone: VirtualPhone, job: dict[str, Any]) -> None:
        if not phone.honest:
            with self.ledger.lock:
                self.ledger.faked[job["message_id"]] += 1
        else:
            with phone.outbox_lock:
                phone.delivered.add(job["id"])
        self._report(phone, job, "delivered")

    def _report(self, phone: VirtualPhone, job: dict[str, Any], status: str, error_code: str = "") -> None:
        if phone.offline:  # no data connection: the app keeps the report until the phone is back
            retry = time.monotonic() + 5
            self.scheduler.at(retry, lambda: self._report(phone, job, status, error_code=error_code))
            return
        occurred_at = now_text()
        text = f"peerpower-report\n{job['id']}\n{status}\n{occurred_at}\n{job['trace_token']}"
        report = {"status": status, "occurred_at": occurred_at, "signature": phone.sign(text)}
        if error_code:
            report["error_code"] = error_code
        self._misbehave(phone, job, report)
        if self.behaviour.batch_seconds <= 0:
            self._post_report(phone, job, report)
            return
        with phone.outbox_lock:
            phone.outbox.append({"job_id": job["id"], **report})
        self._flush_later(phone)

    def _post(self, path: str, phone: VirtualPhone, **kwargs: Any) -> httpx.Response | None:
        phone.last_request_at = time.monotonic()
        try:
            return self.http.post(path, headers=phone.headers, **kwargs)
        except httpx.TransportError:
            return None

    def _resend_later(self, response: httpx.Response | None, send: Callable[[], None]) -> None:
        with self.ledger.lock:
            self.ledger.resent += 1
        self.scheduler.at(time.monotonic() + retry_after(response), send)

    def _post_report(self, phone: VirtualPhone, job: dict[str, Any], report: dict[str, Any]) -> None:
        response = self._post(f"/api/jobs/{job['id']}/report", phone, json=report)
        if unanswered(response):  # the same report again (a repeat the server took is answered as a duplicate)
            self._resend_later(response, lambda: self._post_report(phone, job, report))
            return
        expect(response, 200, 201)
        with self.ledger.lock:
            self.ledger.reports[report["status"]] += 1

    def _misbehave(self, phone: VirtualPhone, job: dict[str, Any], report: dict[str, Any]) -> None:
        """Schedule the duplicate, late and forged copies of a report the behaviour asks for (after the real one)."""
        behaviour, rng = self.behaviour, self.rng
        soon = time.monotonic() + behaviour.batch_seconds + 0.2
        if rng.random() < behaviour.duplicate_share:
            self.scheduler.at(soon, lambda: self._replay("duplicate", phone, job, report))
        if rng.random() < behaviour.late_share:
            later = time.monotonic() + rng.uniform(*behaviour.late_seconds)
            self.scheduler.at(later, lambda: self._replay("late", phone, job, report))
        if rng.random() < behaviour.forged_share:
            others = [other for other in self.phones.values() if other is not phone]
            if rng.random() < 0.5 or not others:
                forged = {**report, "signature": VirtualPhone.forger_signature(report)}
                self.scheduler.at(soon, lambda: self._replay("forged", phone, job, forged))
            else:  # another phone claims this job
                self.scheduler.at(soon, lambda: self._replay("forged", rng.choice(others), job, report))

    def _replay(self, kind: str, phone: VirtualPhone, job: dict[str, Any], report: dict[str, Any]) -> None:
        response = self.http.post(f"/api/jobs/{job['id']}/report", json=report, headers=phone.headers)
        with self.ledger.lock:
            self.ledger.replays[f"{kind} {response.status_code}"] += 1
        # A 503 while a store restarts is an answer (try later); any other 5xx is a fault.
        if response.status_code >= 500 and response.status_code != 503:
            raise ApiError(f"{kind} report of job {job['id']}: {response.status_code} {response.text[:200]}")

    def silence(self, phones: list[VirtualPhone], seconds: float) -> None:
        """Take phones offline without warning (no availability change, no heartbeats, no acks, no reports) for
        `seconds`; then they come back and answer for what they hold."""
        for phone in phones:
            phone.offline = True
            self.scheduler.at(time.monotonic() + seconds, lambda phone=phone: self._back_online(phone))

    def _requeue(
        self, phone: VirtualPhone, *, response: httpx.Response | None, reports: list | None = None, acks: list = ()
    ) -> None:
        """Put what got no answer back at the head of the phone's queue and flush again after Retry-After."""
        with phone.outbox_lock:
            phone.outbox[:0] = reports or []
            phone.acks[:0] = list(acks)
        with self.ledger.lock:
            self.ledger.resent += 1
        self.scheduler.at(time.monotonic() + retry_after(response), lambda: self._flush_later(phone))

    def _post_reports(
        self, phone: VirtualPhone, batch: list[dict[str, Any]], waiting_acks: list = (), acks: list = ()
    ) -> list[int] | None:
        """Send a batch of reports, with `acks` riding on it; the ids of the jobs the answer lists as offered, or
        None if it got no answer (it is queued again, with the acknowledgements that were to follow it)."""
        response = self._post("/api/jobs/reports", phone, json={"reports": batch, **({"acks": acks} if acks else {})})
        if unanswered(response):
            self._requeue(phone, reports=batch, acks=waiting_acks, response=response)
            return None
        body = expect(response, 200)
        refused = [row for row in body["results"] if not row["ok"]]
        if refused:
            raise ApiError(f"POST /api/jobs/reports: {len(refused)} refused, first {refused[0]['error']}")
        with self.ledger.lock:
            self.ledger.reports.update(report["status"] for report in batch)
        for row in body.get("acks", []):
            if row["ok"]:
                self._accepted(phone, row["job"])
        return [row["id"] for row in body.get("offered", [])]


def delivered_implies_sent(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The folded protocol: a `sent` report whose job's `delivered` is in the same batch is not sent."""
    delivered = {report["job_id"] for report in batch if report["status"] == "delivered"}
    return [report for report in batch if not (report["status"] == "sent" and report["job_id"] in delivered)]


class SimulatorFcm(FcmFake):
    """The FCM fake, handing every accepted push to the fleet as a phone would receive it."""

    def __init__(self, *, on_push: Callable[[str | None, dict | None], None] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_push = on_push

    def _send(self, project_id: str, body: Any, headers: dict[str, str]) -> tuple[int, dict, dict]:
        answer = super()._send(project_id, body, headers)
        if answer[0] == 200 and self.on_push is not None and isinstance(body, dict):
            message = body.get("message") or {}
            self.on_push(message.get("token"), message.get("data"))
        return answer
