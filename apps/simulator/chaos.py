"""The chaos suite: the fleet simulator's traffic, with faults injected while it runs, and the network's promises
checked at the end — lost 0, sent twice 0, charged twice 0, rewarded twice 0, every message final (or explicitly
`unknown`), every webhook delivered once the client's receiver is back — plus the time to recover from each fault.

Faults, one after another while traffic runs (`ChaosConfig.faults`):
- `worker_kill`: a Celery worker (main process and pool) killed with SIGKILL mid-dispatch, restarted 2 s later as
  its supervisor would;
- `redis_restart`: Redis killed (SIGKILL) and started again, empty — broker queue, cache, counters and locks gone
  (only with a private Redis the suite may kill: `PrivateRedis`);
- `postgres_restart`: PostgreSQL restarted in immediate mode (a crash: every connection broken; only with a private
  cluster, `PrivatePostgres`);
- `phones_offline`: 10 % of the phones silent without warning (no heartbeat, acknowledgement or report) for a while;
- `webhook_down`: the clients' webhook receiver refusing connections for `webhook_down_seconds` (from the start).
Throughout, phones also misbehave (`Behaviour.duplicate_share`, `late_share`, `forged_share`): duplicate, late and
forged reports, none of which may change anything.

Recovery after a fault: the time from the fault until a probe message (high priority, submitted through the API as a
careful client does: retried with its Idempotency-Key) has been sent by a phone — the whole path, API to dispatch to
phone to report, working again.
"""

import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from django.db.models import Count, Q

from apps.delivery.webhooks.models import WebhookDelivery
from apps.messaging.models import Job, Message
from apps.messaging.state import FINAL
from apps.simulator.fleet import Behaviour, VirtualPhone
from apps.simulator.processes import Servers, free_port
from apps.simulator.run import Simulation, SimulationConfig, Summary, retrying_database
from apps.tokens.models import Transfer

logger = logging.getLogger("peerpower.chaos")
FAULTS = ("webhook_down", "worker_kill", "redis_restart", "postgres_restart", "phones_offline")


def misbehaving_phones(**overrides: Any) -> Behaviour:
    """The chaos suite's phones: honest and never dying on their own (the suite silences them), a few sends failing,
    and some duplicate, late and forged reports."""
    chaos = {
        "fail_share": 0.02,
        "offline_share": 0.0,
        "dishonest_share": 0.0,
        "duplicate_share": 0.05,
        "late_share": 0.02,
        "forged_share": 0.02,
    }
    return Behaviour(**{**chaos, **overrides})


def _wait(check: Any, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up within {seconds:.0f} s")


class PrivateRedis:
    """A redis-server of the suite's own on a free port, without persistence, that it may kill and start again."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None

    def start(self) -> "PrivateRedis":
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        _wait(self._answers, seconds=15, what="redis-server")
        return self

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def restart(self) -> None:
        """SIGKILL and start again: everything it held is gone."""
        self.stop(sig=signal.SIGKILL)
        time.sleep(1)
        self.start()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(sig)
            self._process.wait(timeout=15)


class PrivatePostgres:
    """A throwaway PostgreSQL cluster under a temporary folder on a free port, that the suite may crash and restart.
    Run as root, the cluster belongs to the `postgres` user (initdb refuses root)."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = port or free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str) -> None:
        subprocess.run([*self.as_postgres, *argv], check=True, stdout=subprocess.DEVNULL)  # noqa: S603

    def start(self) -> "PrivatePostgres":
        if not self.data.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            if self.as_postgres:
                shutil.chown(self.folder, "postgres", "postgres")
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-p {self.port} -k {self.folder} -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")
        return self

    def restart(self) -> None:
        """Immediate mode: no checkpoint, every connection cut, crash recovery on start (as after a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "restart")

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run([*self.as_postgres, "pg_ctl", "-D", str(self.data), "-m", "fast", "stop"], check=False)  # noqa: S603


class Receiver:
    """The clients' webhook receiver: counts each event id it is sent; `down()` closes its port (connections are
    refused), `up()` opens it again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.received: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.received[self.headers.get("PeerPower-Event-Id", "")] += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass
class ChaosConfig:
    simulation: SimulationConfig
    faults: tuple[str, ...] = FAULTS
    gap_seconds: float = 15.0  # between one fault's recovery and the next fault
    webhook_down_seconds: float = 600.0
    phones_offline_share: float = 0.1
    phones_offline_seconds: float = 90.0
    recovery_timeout: float = 300.0
    webhook_timeout: float = 300.0  # after the receiver is back, for every webhook to arrive
    redis: PrivateRedis | None = None
    postgres: PrivatePostgres | None = None


@dataclass
class ChaosReport:
    summary: Summary
    recovery: dict[str, float | None] = field(default_factory=dict)  # fault → seconds (None: did not recover)
    skipped: list[str] = field(default_factory=list)
    charged_twice: int = 0
    rewarded_twice: int = 0
    not_final: int = 0
    not_final_detail: list[str] = field(default_factory=list)
    unknown: int = 0
    webhooks_owed: int = 0
    webhooks_undelivered: int = 0
    webhook_events_missing: int = 0  # events the receiver never got
    replays: dict[str, int] = field(default_factory=dict)
    restarts: list[str] = field(default_factory=list)  # server processes that crashed and their supervisor restarted

    @property
    def ok(self) -> bool:
        return (
            self.summary.ok
            and self.charged_twice == 0
            and self.rewarded_twice == 0
            and self.not_final == 0
            and self.webhooks_undelivered == 0
            and self.webhook_events_missing == 0
            and all(seconds is not None for seconds in self.recovery.values())
        )

    def lines(self) -> list[str]:
        def seconds(value: float | None) -> str:
            return "did not recover" if value is None else f"{value:.1f} s"

        return [
            *self.summary.lines(),
            "--- chaos ---",
            f"lost           {self.summary.lost}",
            f"sent twice     {self.summary.sent_twice} (phones) / {self.summary.sent_twice_db} (database)",
            f"charged twice  {self.charged_twice}  (messages with more than one charge booked in the ledger)",
            f"rewarded twice {self.rewarded_twice}  (messages whose reward was booked for more than one job)",
            f"final          all but {self.not_final}; {self.unknown} explicitly unknown",
            *(f"  not final    {detail}" for detail in self.not_final_detail),
            f"webhooks       {self.webhooks_owed} owed, {self.webhooks_undelivered} not delivered, "
            f"{self.webhook_events_missing} events the receiver never got",
            f"bad reports    {', '.join(f'{k}: {v}' for k, v in sorted(self.replays.items())) or 'none'}",
            *(f"recovery       {fault}: {seconds(value)}" for fault, value in self.recovery.items()),
            *(f"skipped        {fault} (no private instance to break)" for fault in self.skipped),
            *(f"crashed        {restart}" for restart in self.restarts),
            f"verdict        {'OK' if self.ok else 'FAILED'}",
        ]


class ChaosSimulation(Simulation):
    def __init__(self, chaos: ChaosConfig) -> None:
        config = chaos.simulation
        # Webhooks to a loopback receiver over plain http, retried soon enough to finish within the run.
        config.servers.extra_env = {
            "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
            "WEBHOOK_REQUIRE_HTTPS": "false",
            "WEBHOOK_RETRY_BASE_SECONDS": "2",
            "WEBHOOK_RETRY_MAX_SECONDS": "30",
            "WEBHOOK_SWEEP_GRACE_SECONDS": "20",
            # The receiver is on this machine: short timeouts make the claim a worker leaves behind when a fault ends
            # its attempt (a killed worker, a task Celery terminates on a lost broker) end after 30 s instead of 60.
            "WEBHOOK_CONNECT_TIMEOUT_SECONDS": "2",
            "WEBHOOK_READ_TIMEOUT_SECONDS": "3",
            **config.servers.extra_env,
        }
        super().__init__(config)
        self.chaos = chaos
        self.receiver = Receiver()
        self.report: ChaosReport | None = None
        self.recovery: dict[str, float | None] = {}
        self.skipped: list[str] = []
        self.done = threading.Event()

    def _drive(
        self, http: httpx.Client, fleet: Any, phones: list[VirtualPhone], keys: list[str], *rest: Any, **options: Any
    ) -> Summary:
        servers: Servers = rest[-1]
        self.receiver.up()
        for key in keys:
            body = {"url": self.receiver.url}
            response = http.post("/api/webhooks", json=body, headers={"Authorization": f"Bearer {key}"})
            if response.status_code != 201:
                raise RuntimeError(f"webhook endpoint refused: {response.status_code} {response.text[:300]}")
        thread = threading.Thread(
            target=self._inject, args=(http, fleet, phones, keys[0], servers), name="chaos", daemon=True
        )
        thread.start()
        summary = super()._drive(http, fleet, phones, keys, *rest, **options)
        logger.warning("chaos: traffic settled; waiting for the faults to end")
        thread.join()
        # The probes of the last faults, and what the faults left in flight, settle too.
        ids = list(self.message_ids)
        deadline = time.monotonic() + self.config.settle_timeout
        while self._final_count(ids) < len(ids) and time.monotonic() < deadline:
            time.sleep(1)
        summary.lost = len(ids) - self._final_count(ids)
        summary.submitted = len(ids)
        summary.sent_twice = len(fleet.ledger.sent_twice())
        self.report = self._judge(summary, fleet)
        self.report.restarts = list(servers.restarts)
        return summary

    # --- faults ---------------------------------------------------------------------------------------------------
    def _inject(self, http: httpx.Client, fleet: Any, phones: list[VirtualPhone], key: str, servers: Servers) -> None:
        chaos = self.chaos
        receiver_back = None
        if "webhook_down" in chaos.faults:
            self.receiver.down()
            receiver_back = time.monotonic() + chaos.webhook_down_seconds
        try:
            for fault in chaos.faults:
                if fault == "webhook_down":
                    continue
                time.sleep(chaos.gap_seconds)
                started = time.monotonic()
                logger.warning("chaos: %s", fault)
                if not self._break(fault, fleet, phones, servers):
                    self.skipped.append(fault)
                    continue
                self.recovery[fault] = self._probe(http, key, started)
                logger.warning("chaos: %s recovered after %s s", fault, self.recovery[fault])
            if receiver_back is not None:
                time.sleep(max(0.0, receiver_back - time.monotonic()))
        finally:
            if receiver_back is not None:
                self.receiver.up()
            self.done.set()

    def _break(self, fault: str, fleet: Any, phones: list[VirtualPhone], servers: Servers) -> bool:
        chaos = self.chaos
        if fault == "worker_kill":
            servers.kill("worker-0", signal.SIGKILL)
            time.sleep(2)
            servers.respawn("worker-0")
        elif fault == "redis_restart":
            if chaos.redis is None:
                return False
            chaos.redis.restart()
        elif fault == "postgres_restart":
            if chaos.postgres is None:
                return False
            chaos.postgres.restart()
        elif fault == "phones_offline":
            count = max(1, round(len(phones) * chaos.phones_offline_share))
            fleet.silence(self.rng.sample(phones, count), chaos.phones_offline_seconds)
        else:
            raise ValueError(f"unknown fault {fault!r}")
        return True

    def _probe(self, http: httpx.Client, key: str, started: float) -> float | None:
        """Seconds from `started` until a new high-priority message, submitted now, has been sent by a phone."""
        deadline = started + self.chaos.recovery_timeout
        headers = {"Authorization": f"Bearer {key}"}
        message_id = None
        while message_id is None and time.monotonic() < deadline:
            probe = [{"to": "+85512000001", "body": "chaos probe", "priority": "high", "validity_seconds": 600}]
            ids, _ = self._post_messages(http, probe, headers)
            if ids:
                message_id = ids[0]
                with self._ids_lock:
                    self.message_ids.append(message_id)
            else:
                time.sleep(1)
        while message_id is not None and time.monotonic() < deadline:
            try:
                status = http.get(f"/api/messages/{message_id}", headers=headers).json().get("status")
            except (httpx.HTTPError, ValueError):
                status = None
            if status in ("sent", "delivered"):
                return time.monotonic() - started
            if status in FINAL:
                message_id = None  # failed or expired: try again with a new probe
                return self._probe(http, key, started) if time.monotonic() < deadline else None
            time.sleep(0.5)
        return None

    # --- the verdict ----------------------------------------------------------------------------------------------
    def _judge(self, summary: Summary, fleet: Any) -> ChaosReport:
        ids = list(self.message_ids)
        report = ChaosReport(summary=summary, recovery=dict(self.recovery), skipped=list(self.skipped))
        report.replays = dict(fleet.ledger.replays)

        def counts() -> None:
            messages = Message.objects.filter(pk__in=ids)
            report.not_final = messages.exclude(status__in=FINAL).count()
            for message in messages.exclude(status__in=FINAL).prefetch_related("jobs")[:10]:
                jobs = ", ".join(f"job {job.pk} {job.status} {job.end_reason}".strip() for job in message.jobs.all())
                report.not_final_detail.append(f"message {message.pk} {message.status}: {jobs or 'no job'}")
            report.unknown = messages.filter(status="unknown").count()
            report.charged_twice = charged_twice(ids)
            report.rewarded_twice = rewarded_twice(ids)

        retrying_database(counts)
        logger.warning("chaos: %d messages not final; waiting for the webhooks", report.not_final)
        deadline = time.monotonic() + self.chaos.webhook_timeout
        while True:
            owed = retrying_database(lambda: webhooks_owed(ids))
            if owed["pending"] == 0 or time.monotonic() > deadline:
                break
            time.sleep(2)
        report.webhooks_owed = owed["total"]
        report.webhooks_undelivered = owed["total"] - owed["succeeded"]
        events = retrying_database(
            lambda: set(
                WebhookDelivery.objects.filter(event__message_id__in=ids).values_list("event__public_id", flat=True)
            )
        )
        report.webhook_events_missing = len(events - set(self.receiver.received))
        self.receiver.down()
        return report


def webhooks_owed(message_ids: list[int]) -> dict[str, int]:
    """The webhook deliveries of these messages' events: how many, how many succeeded, how many still pending."""
    return WebhookDelivery.objects.filter(event__message_id__in=message_ids).aggregate(
        total=Count("id"),
        succeeded=Count("id", filter=Q(status="succeeded")),
        pending=Count("id", filter=Q(status="pending")),
    )


def _base_id(transfer_id: str) -> str:
    """A pending transfer's id for its own post or void (`charge:message:7:post` → `charge:message:7`)."""
    for suffix in (":post", ":void"):
        if transfer_id.endswith(suffix):
            return transfer_id[: -len(suffix)]
    return transfer_id


def charged_twice(message_ids: list[int]) -> int:
    """Messages with more than one charge in the ledger: distinct charge bookings (a hold and its post or void are
    one) referring to the message, or more than one post. Counted generically, whatever the charge ids look like."""
    rows = Transfer.objects.filter(
        Q(reason="charge") | Q(id__startswith="charge:"), message_id__in=message_ids
    ).values_list("message_id", "id")
    bookings: dict[int, set[str]] = {}
    posts: Counter[int] = Counter()
    for message_id, transfer_id in rows:
        bookings.setdefault(message_id, set()).add(_base_id(transfer_id))
        posts[message_id] += transfer_id.endswith(":post")
    return sum(1 for message_id, ids in bookings.items() if len(ids) > 1 or posts[message_id] > 1)


def rewarded_twice(message_ids: list[int]) -> int:
    """Messages whose reward was booked for more than one job (or more than once for one job). A reward booked again
    after a cleared strike voided it (`reward:job:7:restore:3`) is the same booking: the voided one paid nothing."""
    job_message = dict(Job.objects.filter(message_id__in=message_ids).values_list("id", "message_id"))
    rows = Transfer.objects.filter(
        Q(reason="reward") | Q(id__startswith="reward:job:"), job_id__in=list(job_message)
    ).values_list("job_id", "id")
    bookings: dict[int, set[str]] = {}
    for job_id, transfer_id in rows:
        bookings.setdefault(job_message[job_id], set()).add(_base_id(transfer_id).split(":restore:")[0])
    return sum(1 for ids in bookings.values() if len(ids) > 1)
