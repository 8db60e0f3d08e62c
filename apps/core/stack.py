"""The embedded default's process supervisor (`manage.py runstack`, which `scripts/run` execs): web, a Celery worker,
beat and the local Baray fake as child processes, restarted when they crash, stopped in order when the stack is asked
to stop.

Why not a shell script with `wait -n`: one crashed process took the whole stack down without saying which, and a
SIGTERM to the process group reached every process at once, including the worker's pool processes, which left
billiard's pool shutdown waiting for ever on a lock a killed pool process held.

So:
- each child runs in a process group (session) of its own: a signal to the supervisor's group (Ctrl-C in a terminal,
  `kill -- -PGID`, a process manager) reaches only the supervisor, which then stops the children itself, in order
  (web, beat, then the worker, which finishes the tasks it holds), each within `stop_timeout` seconds or killed;
- the worker uses the threads pool: it has no pool processes to lose, so its warm shutdown also holds when a signal
  reaches every process at once (systemd's control-group kill, `kill -- -PGID` of the worker alone);
- a child that exits while the stack runs is restarted after a back-off (doubling up to `backoff_max` seconds; a run
  longer than `stable_after` seconds starts the count again), with a log line naming it and its exit status;
- a second stop signal kills whatever is still running at once;
- on Linux a child is sent SIGTERM if the supervisor itself dies (a SIGKILL), so no process is left behind.
"""

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ProcessSpec:
    """One process of the stack: a name for log lines and its command."""

    name: str
    argv: list[str]


def stack_processes(
    *,
    port: int,
    var_dir: Path,
    worker_concurrency: int = 2,
    reload: bool = True,
    baray_fake_port: int | None = 9098,
    fcm_fake_port: int | None = None,
    fcm_credentials: str = "",
    chain_port: int | None = None,
    airtime_fake_port: int | None = None,
    payway_fake_port: int | None = None,
) -> list[ProcessSpec]:
    """Web (Django's development server), a Celery worker on every queue, beat, the local Baray fake that top-ups
    are paid on (`manage.py baray_fake`; None: not run), given `fcm_fake_port` the local FCM fake that pushes go to
    (`manage.py fcm_fake`, accepting `fcm_credentials`) and, given `chain_port`, the local development chain
    (`manage.py chain_node`), and given their ports the local payout fakes (`manage.py airtime_fake`, `manage.py
    payway_fake`, whose callbacks come back to web): in the order they are stopped (the fakes and the chain after
    the worker, which may still be sending)."""
    python = sys.executable
    baray_webhook = f"http://127.0.0.1:{port}/api/billing/baray/webhook"
    baray_fake = [python, "manage.py", "baray_fake", "--port", str(baray_fake_port), "--webhook-url", baray_webhook]
    baray = [ProcessSpec("baray-fake", baray_fake)] if baray_fake_port is not None else []
    fcm_fake = [python, "manage.py", "fcm_fake", "--port", str(fcm_fake_port), "--credentials-file", fcm_credentials]
    fcm = [ProcessSpec("fcm-fake", fcm_fake)] if fcm_fake_port else []
    chain = [ProcessSpec("chain", [python, "manage.py", "chain_node", "--port", str(chain_port)])] if chain_port else []
    payout_fakes = []
    if airtime_fake_port:
        payout_fakes.append(
            ProcessSpec("airtime-fake", [python, "manage.py", "airtime_fake", "--port", str(airtime_fake_port)])
        )
    if payway_fake_port:
        payway_callback = f"http://127.0.0.1:{port}/api/payouts/callbacks/cash"
        payway = [
            python,
            "manage.py",
            "payway_fake",
            "--port",
            str(payway_fake_port),
            "--callback-url",
            payway_callback,
        ]
        payout_fakes.append(ProcessSpec("payway-fake", payway))
    web = [python, "manage.py", "runserver", f"127.0.0.1:{port}", *([] if reload else ["--noreload"])]
    celery = [python, "-m", "celery", "-A", "peerpower"]
    return [
        ProcessSpec("web", web),
        ProcessSpec(
            "beat", [*celery, "beat", "--loglevel", "INFO", "--schedule", str(var_dir / "celerybeat-schedule")]
        ),
        ProcessSpec(
            "worker",
            [
                *celery,
                "worker",
                "-Q",
                "high,default,low",
                "--pool",
                "threads",
                "--concurrency",
                str(worker_concurrency),
                "--loglevel",
                "INFO",
            ],
        ),
        *baray,
        *fcm,
        *chain,
        *payout_fakes,
    ]


def restart_delay(failures: int, *, base: float, cap: float) -> float:
    """Seconds to wait before the `failures`-th restart in a row: base, twice that, ... up to cap."""
    return min(base * 2 ** max(failures - 1, 0), cap)


def describe_exit(returncode: int) -> str:
    """ "status 1", or "signal 9 (SIGKILL)" for a process a signal ended."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown"
        return f"signal {-returncode} ({name})"
    return f"status {returncode}"


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the supervisor dies, whatever killed it (Linux only)."""
    libc_name = ctypes.util.find_library("c")
    if sys.platform.startswith("linux") and libc_name:
        ctypes.CDLL(libc_name, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class _Child:
    spec: ProcessSpec
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None


@dataclass
class Supervisor:
    """Runs `specs` until SIGTERM, SIGINT or SIGHUP; `run()` returns the exit status for the command."""

    specs: list[ProcessSpec]
    env: dict[str, str]
    cwd: Path
    say: Callable[[str], None]
    stop_timeout: float = 30.0
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    stable_after: float = 60.0
    _children: list[_Child] = field(default_factory=list)
    _stopping: bool = False
    _signals: int = 0
    _wake: threading.Event = field(default_factory=threading.Event)

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        self._children = [_Child(spec) for spec in self.specs]
        for child in self._children:
            self._start(child)
        while not self._stopping:
            self._watch()
            self._wake.wait(0.2)
        self._stop_all()
        return 0

    def _on_signal(self, signum: int, frame: object) -> None:
        self._signals += 1
        if self._signals == 1:
            self.say(f"{signal.Signals(signum).name} received: stopping web, beat and worker in turn")
            self._stopping = True
            self._wake.set()
        else:
            self.say(f"{signal.Signals(signum).name} received again: killing what is still running")
            self._kill_all()

    def _start(self, child: _Child) -> None:
        child.process = subprocess.Popen(  # noqa: S603 - our own interpreter and commands
            child.spec.argv, cwd=self.cwd, env=self.env, start_new_session=True, preexec_fn=_die_with_parent
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        self.say(f"{child.spec.name} started (pid {child.process.pid})")

    def _watch(self) -> None:
        """Notice children that exited and restart them when their back-off is over."""
        now = time.monotonic()
        for child in self._children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._start(child)
                continue
            if child.process is None or child.process.poll() is None:
                continue
            if now - child.started_at >= self.stable_after:
                child.failures = 0
            child.failures += 1
            delay = restart_delay(child.failures, base=self.backoff_base, cap=self.backoff_max)
            child.restart_at = now + delay
            self.say(
                f"{child.spec.name} (pid {child.process.pid}) exited with {describe_exit(child.process.returncode)}; "
                f"restarting in {delay:g} s (restart {child.failures} in a row)"
            )

    def _stop_all(self) -> None:
        for child in self._children:
            process = child.process
            if process is None or child.restart_at is not None or process.poll() is not None:
                continue
            self._signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.say(f"{child.spec.name} (pid {process.pid}) did not stop within {self.stop_timeout:g} s: killed")
                self._signal_group(process, signal.SIGKILL)
                process.wait()
            self.say(f"{child.spec.name} stopped ({describe_exit(process.returncode)})")

    def _kill_all(self) -> None:
        for child in self._children:
            if child.process is not None and child.process.poll() is None:
                self._signal_group(child.process, signal.SIGKILL)

    @staticmethod
    def _signal_group(process: subprocess.Popen, signum: int) -> None:
        # The child leads its own group (start_new_session), which also holds what it started (runserver's
        # auto-reloading child). While it has not been reaped its group id cannot be reused.
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            pass
