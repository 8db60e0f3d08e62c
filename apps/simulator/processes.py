"""The server side of a simulation: gunicorn, Celery workers and beat, started as child processes with the settings a
simulation needs, on the simulator's own database and stores. They stop with the simulation."""

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from django.conf import settings
from django.db import connection

from apps.core.metrics import multiprocess_dir_reset
from apps.core.stack import describe_exit, restart_delay
from apps.simulator.checks import SIMULATOR_SENDER

logger = logging.getLogger("peerpower.simulator")

# As production runs its workers (compose.yaml, deploy/k8s/worker.yaml): no worker-to-worker event traffic. Gossip
# (every worker consuming every other's heartbeat events), the heartbeat events themselves (a PUBLISH every 2 s per
# worker) and mingle (a start-up exchange of revoked task ids) serve event monitors and `celery control` elections,
# which PeerPower does not use: its monitoring is Prometheus, its liveness check `celery inspect ping` (remote control,
# kept). Without them an idle worker's CPU halved, and a busy worker's event loop has one channel fewer to serve.
WORKER_QUIET_FLAGS = ("--without-gossip", "--without-mingle", "--without-heartbeat")

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stats() -> dict[int, tuple[int, str, float]]:
    """Every process on this machine: pid → (parent pid, command name, CPU seconds of its own and of its reaped
    children). Read from /proc (Linux); elsewhere empty."""
    stats = {}
    for entry in Path("/proc").glob("[0-9]*/stat") if Path("/proc").is_dir() else ():
        try:
            raw = entry.read_text()
        except OSError:
            continue  # ended while we looked
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        # After the name: state, ppid, ... utime (14th field of the line), stime, cutime, cstime.
        ticks = sum(int(value) for value in fields[11:15])
        stats[int(entry.parent.name)] = (int(fields[1]), name, ticks / CLOCK_TICKS)
    return stats


def cpu_seconds(roots: dict[str, int], names: dict[str, str]) -> dict[str, float]:
    """CPU seconds used so far by each named process tree (`roots`: label → pid; the process, its descendants, and
    children already reaped) and by every process with a given command name (`names`: label → name, e.g. the
    machine's PostgreSQL backends)."""
    stats = _proc_stats()
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    totals = {}
    for label, root in roots.items():
        total, stack = 0.0, [root]
        while stack:
            pid = stack.pop()
            if pid in stats:
                total += stats[pid][2]
                stack.extend(children.get(pid, []))
        totals[label] = total
    for label, name in names.items():
        totals[label] = sum(seconds for _, command, seconds in stats.values() if command == name)
    return totals


def _descendants(roots: dict[str, int], stats: dict[int, tuple[int, str, float]]) -> dict[int, str]:
    """pid → label for every process in each named tree."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    owners: dict[int, str] = {}
    for label, root in roots.items():
        stack = [root]
        while stack:
            pid = stack.pop()
            if pid in stats and pid not in owners:
                owners[pid] = label
                stack.extend(children.get(pid, []))
    return owners


def _local_ports(pids: dict[int, str]) -> dict[int, str]:
    """Local TCP port → label of the process (in `pids`) holding that socket: its descriptors' socket inodes, matched
    against this machine's TCP tables (Linux /proc; elsewhere empty)."""
    inode_owner: dict[str, str] = {}
    for pid, label in pids.items():
        try:
            descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                target = os.readlink(descriptor)
            except OSError:
                continue
            if target.startswith("socket:["):
                inode_owner[target[8:-1]] = label
    ports: dict[int, str] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[9] in inode_owner:
                ports[int(fields[1].rsplit(":", 1)[1], 16)] = inode_owner[fields[9]]
    return ports


def postgres_backends_by_client(roots: dict[str, int]) -> dict[int, str]:
    """PostgreSQL process pid → whose work it does, for the processes running now: the label of the process tree
    (`roots`) at the other end of a connection (pg_stat_activity's client_port matched to the clients' sockets);
    "other" for the rest of this database's backends (autovacuum, another client); "server" for PostgreSQL's own
    background processes (WAL writer, checkpointer, background writer, launchers), whose work is the writes of
    whoever uses the server — counted, as on a machine that serves this run alone they do its work. Backends of other
    databases are left out."""
    owners = _descendants(roots, _proc_stats())
    ports = _local_ports(owners)
    if not ports:
        return {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid, client_port, datname = current_database(), datname IS NULL FROM pg_stat_activity")
        rows = cursor.fetchall()
    labels = {pid: ports[port] for pid, port, _, _ in rows if port in ports}
    for pid, _, ours, background in rows:
        if pid not in labels and (ours or background):
            # Autovacuum and any other connection to this database whose client is none of the given processes;
            # PostgreSQL's own processes (no database).
            labels[pid] = "other" if ours else "server"
    return labels


def process_cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """CPU seconds so far of each given process still running (its own and its reaped children's)."""
    stats = _proc_stats()
    return {pid: stats[pid][2] for pid in pids if pid in stats}


def redis_server_pids() -> set[int] | None:
    """The process ids of the Redis servers this run uses (the cache's and the broker's), as they report them, when
    they run on this machine; None when the run uses no Redis or a server is not among this machine's processes (in a
    container, say)."""
    urls = {settings.REDIS_URL} | (
        {settings.CELERY_BROKER_URL} if settings.CELERY_BROKER_URL.startswith("redis") else set()
    )
    urls.discard("")
    if not urls:
        return None
    pids = set()
    for url in urls:
        client = redis.Redis.from_url(url)
        try:
            pids.add(int(client.info("server")["process_id"]))
        except (redis.RedisError, KeyError, ValueError):
            return None
        finally:
            client.close()
    stats = _proc_stats()
    if not all(pid in stats and stats[pid][1] == "redis-server" for pid in pids):
        return None
    return pids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The URL of the database this process uses, so the servers see the same one (a test database included)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@dataclass
class ServerConfig:
    web_workers: int = 2
    # > 0: the phones' requests go to a web pool of their own with this many workers (docs/deployment.md's shape:
    # reports, acknowledgements and heartbeats never queue behind client sends, which under overload are mostly
    # refused but still take a worker each); 0: one pool for everyone.
    phone_web_workers: int = 0
    worker_processes: int = 1
    worker_concurrency: int = 2
    max_jobs_in_flight: int = 3
    lease_seconds: int = 60
    ack_seconds: int = 5
    # How long a job acknowledged and left unreported past its lease waits for the phone's answer (the phones answer
    # at their next heartbeat, every 30 s, or when they come back online).
    unknown_answer_seconds: int = 120
    audit_recipients: tuple[str, ...] = ()
    audit_confirm_seconds: int = 10
    log_dir: Path | None = None
    log_level: str = "WARNING"
    dispatch_backoff_max: float = 300.0
    # A delivery reported sooner than this after the offer is struck as invented (REPORT_MIN_DELIVERY_SECONDS); load
    # runs' phones answer in ~0.1 s, faster than any real SIM, and set it to 0.
    min_delivery_seconds: float = 2.0
    # Settings for the servers beyond these (the payout fakes' URLs; the chaos suite points them at its own Redis and
    # shortens webhook retries).
    extra_env: dict[str, str] = field(default_factory=dict)


def log_folder(config: ServerConfig) -> Path:
    """Where the servers' logs go: `log_dir`, else the simulator's folder under PEERPOWER_VAR_DIR."""
    return config.log_dir or Path(settings.VAR_DIR) / "simulator"


class Servers:
    """Starts web, workers and beat; `stop()` (or leaving the `with` block) ends them, gracefully first.

    Web and workers share a metrics folder of this run (emptied at start), so the web server's /metrics adds up the
    workers' push and webhook counters too."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        fcm_endpoint: str,
        fcm_credentials: Path,
        project_id: str,
    ) -> None:
        self.config = config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.phone_port = free_port() if config.phone_web_workers else self.port
        self.phone_url = f"http://127.0.0.1:{self.phone_port}"
        self.audit_token = secrets.token_urlsafe(24)
        self.fcm = (fcm_endpoint, fcm_credentials, project_id)
        self.log_dir = log_folder(config)
        self.metrics_dir = self.log_dir / f"metrics-{self.port}"
        self._processes: list[subprocess.Popen] = []
        self._names: list[str] = []
        self._logs: list = []
        self._argv: dict[str, tuple[list[str], dict[str, str]]] = {}
        # Supervision, as production's process manager does it (compose `restart: unless-stopped`, Kubernetes): a
        # server process that exits by itself is started again after a back-off. `kill` (a fault the chaos suite
        # injects) leaves it down until `respawn`. Each restart is recorded for the run's report.
        self.restarts: list[str] = []
        self._lock = threading.RLock()
        self._held_down: set[str] = set()
        self._failures: dict[str, int] = {}
        self._restart_at: dict[str, float] = {}
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def environment(self) -> dict[str, str]:
        config = self.config
        endpoint, credentials, project_id = self.fcm
        huge = "100000000"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "peerpower.settings.development",
            "DATABASE_URL": database_url(),
            # The servers encrypt and hash personal data with this process's keys, so that what they store, the
            # simulator (which reads the database for its summary) can read too.
            "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
            "BLIND_INDEX_KEY": settings.BLIND_INDEX_KEY,
            "PEERPOWER_VAR_DIR": str(settings.VAR_DIR),
            "DEBUG": "false",
            "LOG_LEVEL": config.log_level,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "OTP_SENDER": SIMULATOR_SENDER,
            "OTP_RATE_PER_PHONE": "1000000/h",
            "OTP_RATE_PER_IP": "1000000/h",
            "OTP_VERIFY_RATE_PER_IP": "1000000/h",
            "JWT_ACCESS_MINUTES": "600",
            "PUSH_BACKEND": "fcm",
            "FCM_ENDPOINT": endpoint,
            "FCM_CREDENTIALS_FILE": str(credentials),
            "FCM_PROJECT_ID": project_id,
            # Virtual phones send far more than a real SIM may: lift the per-SIM limits and the burst rule that
            # exists because of them, or the simulation would only measure the caps.
            "PROVIDER_SIM_WARMUP_DAYS": "0",
            "PROVIDER_SIM_HOURLY_CAP": huge,
            "PROVIDER_SIM_DAILY_CAP": huge,
            "PROVIDER_SIM_HOURLY_CAP_MAX": huge,
            "PROVIDER_SIM_DAILY_CAP_MAX": huge,
            "FRAUD_BURST_PER_MINUTE": huge,
            "FRAUD_OUTLIER_MIN_VOLUME": huge,
            "PROVIDER_MAX_JOBS_IN_FLIGHT": str(config.max_jobs_in_flight),
            "MESSAGE_RATE_PER_SECOND": "100000",
            "MESSAGE_QUOTA_PER_DAY": huge,
            "MESSAGE_DISPATCH_BACKOFF_MAX": str(config.dispatch_backoff_max),
            "JOB_LEASE_SECONDS": str(config.lease_seconds),
            "JOB_ACK_SECONDS": str(config.ack_seconds),
            "JOB_UNKNOWN_ANSWER_SECONDS": str(config.unknown_answer_seconds),
            "REPORTS_ALLOW_UNSIGNED": "false",
            "AUDIT_RECIPIENTS": ",".join(config.audit_recipients),
            "AUDIT_INBOUND_TOKEN": self.audit_token,
            "AUDIT_CONFIRM_WINDOW_SECONDS": str(config.audit_confirm_seconds),
            "REPORT_MIN_DELIVERY_SECONDS": str(config.min_delivery_seconds),
            # The simulator sends canaries itself, so a run knows how many there were.
            "AUDIT_CANARY_PROBABILITY": "0",
            # No chain node in a simulation: without this the development default (a local node on port 8545) has
            # the worker retry chain tasks every few seconds against nothing, or against another run's node.
            "CHAIN_RPC_URL": "",
        }
        env.update(config.extra_env)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(self.metrics_dir.resolve())
        env.update(config.extra_env)
        return env

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")
        self._logs.append(log)
        process = subprocess.Popen(  # noqa: S603 - our own executables, fixed arguments
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR, start_new_session=True
        )
        self._processes.append(process)
        self._names.append(name)
        self._argv[name] = (argv, env)

    def start(self) -> "Servers":
        multiprocess_dir_reset(self.metrics_dir)
        env = self.environment()
        bin_dir = Path(sys.executable).parent
        config = self.config
        self._spawn(
            "web",
            [
                str(bin_dir / "gunicorn"),
                "-c",
                "python:peerpower.gunicorn_config",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(config.web_workers),
                "peerpower.wsgi",
            ],
            env,
        )
        if config.phone_web_workers:
            self._spawn(
                "web-phones",
                [
                    str(bin_dir / "gunicorn"),
                    "-c",
                    "python:peerpower.gunicorn_config",
                    "--bind",
                    f"127.0.0.1:{self.phone_port}",
                    "--workers",
                    str(config.phone_web_workers),
                    "peerpower.wsgi",
                ],
                env,
            )
        for index in range(config.worker_processes):
            self._spawn(
                f"worker-{index}",
                [
                    str(bin_dir / "celery"),
                    "-A",
                    "peerpower",
                    "worker",
                    "-Q",
                    "high,default,low",
                    "--concurrency",
                    str(config.worker_concurrency),
                    "--hostname",
                    f"sim{index}-{self.port}@%h",
                    "--loglevel",
                    "WARNING",
                    *WORKER_QUIET_FLAGS,
                ],
                env,
            )
        schedule = Path(settings.VAR_DIR) / "simulator" / f"beat-{self.port}"
        self._spawn(
            "beat",
            [str(bin_dir / "celery"), "-A", "peerpower", "beat", "--loglevel", "WARNING", "--schedule", str(schedule)],
            env,
        )
        self._wait_ready()
        self._watcher = threading.Thread(target=self._watch, name="servers-supervisor", daemon=True)
        self._watcher.start()
        return self

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill a server process and its children at once (the chaos suite: a machine or container dies). It stays
        down until `respawn`."""
        with self._lock:
            self._held_down.add(name)
            process = self._processes[self._names.index(name)]
        os.killpg(process.pid, sig)
        process.wait()

    def respawn(self, name: str) -> None:
        """Start a killed server process again, as its supervisor would."""
        with self._lock:
            index = self._names.index(name)
            argv, env = self._argv[name]
            del self._processes[index], self._names[index]
            self._spawn(name, argv, env)
            self._held_down.discard(name)
            self._restart_at.pop(name, None)

    def _watch(self) -> None:
        """Restart a server process that exited by itself (a crash) after a back-off: 1 s, and twice as long for
        each further crash of the same process, up to 10 s."""
        while not self._stopping.wait(0.5):
            with self._lock:
                now = time.monotonic()
                for name, process in list(zip(self._names, self._processes, strict=True)):
                    if name in self._held_down or process.poll() is None:
                        continue
                    if name not in self._restart_at:
                        self._failures[name] = self._failures.get(name, 0) + 1
                        self._restart_at[name] = now + restart_delay(self._failures[name], base=1.0, cap=10.0)
                        ended = describe_exit(process.returncode)
                        self.restarts.append(f"{name} exited ({ended}), restarted")
                        logger.warning("servers: %s exited (%s); restarting it (see %s.log)", name, ended, name)
                    elif now >= self._restart_at[name]:
                        self.respawn(name)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by web, workers and beat (each with its children), by the run's Redis server(s)
        when they run on this machine (found by the process id they report; by name, every redis-server here, when
        they do not), and by every PostgreSQL process on this machine (`postgres_all`: it includes whatever else uses
        that server; `postgres_backends` tells the run's own backends apart)."""
        roots = dict(zip(self._names, (process.pid for process in self._processes), strict=True))
        services = {}
        if connection.vendor == "postgresql":
            services["postgres_all"] = "postgres"
        redis_pids = redis_server_pids()
        if redis_pids is None:
            services["redis"] = "redis-server"
        totals = cpu_seconds(roots, services)
        workers = sum(seconds for name, seconds in totals.items() if name.startswith("worker-"))
        figures = {
            "web": totals.get("web", 0.0) + totals.get("web-phones", 0.0),
            "workers": workers,
            "beat": totals.get("beat", 0.0),
            **{name: totals[name] for name in services},
        }
        if redis_pids:
            figures["redis"] = sum(process_cpu_seconds(redis_pids).values())
        return figures

    def postgres_backends(self, **others: int) -> dict[int, str]:
        """PostgreSQL backend pid → "web", "workers", "beat" or one of `others` (label → pid, e.g. the simulator's
        own process): whose connection each backend serves now. Empty when the run does not use PostgreSQL."""
        if connection.vendor != "postgresql":
            return {}
        roots = {**dict(zip(self._names, (process.pid for process in self._processes), strict=True)), **others}
        labels = postgres_backends_by_client(roots)
        return {
            pid: "workers" if label.startswith("worker-") else label.removesuffix("-phones")
            for pid, label in labels.items()
        }

    def _wait_ready(self, timeout: float = 180) -> None:
        # Minutes, not seconds: on a shared, loaded machine booting two web pools and the workers takes a while.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in self._processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.args[0]} exited with {process.returncode}; see {self.log_dir}/*.log")
            try:
                if all(httpx.get(f"{url}/health", timeout=1).status_code == 200 for url in {self.url, self.phone_url}):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the web server did not answer /health in time; see {self.log_dir / 'web.log'}")

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
        # SIGTERM to each main process only: gunicorn's master and Celery's main process stop their own children (a
        # prefork pool process signalled directly dies at once and can leave Celery's pool shutdown hanging).
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for process in self._processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for log in self._logs:
            log.close()
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
        self._processes.clear()
        self._names.clear()

    def __enter__(self) -> "Servers":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
