"""`manage.py runstack` (what scripts/run runs): the real web server, Celery worker and beat under the supervisor, on
a SQLite database, file cache and SQLite broker of their own. Every way a stop signal can arrive ends every process
within a bound; a crashed process is restarted and named; a worker's counters reach the web server's /metrics."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from apps.core.management.commands.runstack import local_chain_port
from apps.core.stack import describe_exit, restart_delay, stack_processes

pytestmark = [
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)"),
    pytest.mark.standalone,  # the stack has a SQLite database, file cache and broker of its own (STORES removed)
]

STOP_BOUND = 60  # seconds: the supervisor's per-process stop timeout is 15 s here, three processes in turn
QUICK = ["--stop-timeout", "15", "--backoff-max", "2"]
STORES = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "PROMETHEUS_MULTIPROC_DIR")


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    """Poll `condition` until it is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def running(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def descendants(root: int) -> set[int]:
    """Every live process below `root`."""
    listing = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True, check=True).stdout
    children: dict[int, list[int]] = {}
    for line in listing.splitlines():
        pid, ppid = map(int, line.split())
        children.setdefault(ppid, []).append(pid)
    found, stack = set(), [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return {pid for pid in found if running(pid)}


@dataclass
class Stack:
    supervisor: subprocess.Popen
    log: Path
    url: str
    env: dict[str, str]
    baray_fake_url: str = ""
    fcm_fake_url: str = ""
    var_dir: Path | None = None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def pid_of(self, name: str) -> int:
        """The pid of the latest `name` process the supervisor started."""
        lines = [line for line in self.output().splitlines() if line.startswith(f"runstack: {name} started (pid ")]
        return int(lines[-1].rsplit("(pid ", 1)[1].rstrip(")"))

    def processes(self) -> set[int]:
        return {self.supervisor.pid, *descendants(self.supervisor.pid)}

    def assert_all_end(self, pids: set[int]) -> None:
        started = time.monotonic()
        wait_for(
            lambda: self.supervisor.poll() is not None and not any(running(pid) for pid in pids),
            STOP_BOUND,
            f"every process of the stack to end; left: {[p for p in pids if running(p)]}\n{self.output()[-3000:]}",
        )
        assert time.monotonic() - started < STOP_BOUND
        assert "did not stop within" not in self.output()  # each stopped by itself: none had to be killed


@pytest.fixture(scope="module")
def migrated_database(tmp_path_factory) -> Path:
    """A migrated SQLite database that each test copies (beat's scheduler reads its tables)."""
    folder = tmp_path_factory.mktemp("stack-template")
    env = {key: value for key, value in os.environ.items() if key not in STORES}
    env.update(DJANGO_SETTINGS_MODULE="peerpower.settings.development", PEERPOWER_VAR_DIR=str(folder))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=settings.BASE_DIR, env=env, check=True
    )
    return folder / "db.sqlite3"


@pytest.fixture
def stack(tmp_path, migrated_database, closed_port) -> Iterator[Stack]:
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    shutil.copy(migrated_database, var_dir / "db.sqlite3")
    baray_fake_port = free_port()
    fcm_fake_port = free_port()
    # The embedded default in a folder of its own: none of the test run's database, Redis or broker.
    env = {key: value for key, value in os.environ.items() if key not in STORES}
    env.update(DJANGO_SETTINGS_MODULE="peerpower.settings.development", PEERPOWER_VAR_DIR=str(var_dir))
    env["DEBUG"] = "false"
    # No development chain: it would listen on the shared port 8545 (its place in the stack is tested on its own).
    env["CHAIN_RPC_URL"] = ""
    log = tmp_path / "stack.log"
    with open(log, "wb") as output:
        supervisor = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "runstack",
                "--port",
                str(closed_port),
                "--noreload",
                "--baray-fake-port",
                str(baray_fake_port),
                "--fcm-fake-port",
                str(fcm_fake_port),
                *QUICK,
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own, as a terminal or process manager gives it
        )
    running_stack = Stack(
        supervisor,
        log,
        f"http://127.0.0.1:{closed_port}",
        env,
        f"http://127.0.0.1:{baray_fake_port}",
        f"http://127.0.0.1:{fcm_fake_port}",
        var_dir,
    )
    try:
        wait_for(lambda: healthy(running_stack.url), 90, "the web server's /health")
        wait_for(lambda: " ready." in running_stack.output(), 90, "the worker to be ready")
        yield running_stack
    finally:
        for pid in running_stack.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        supervisor.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_stack_runs_the_baray_and_fcm_fakes_and_points_pushes_at_it(stack):
    """Top-ups on the embedded default are paid on the local Baray fake, a process of the stack's. With no real FCM
    configured (development's PUSH_BACKEND=log), pushes go to the local FCM fake: it runs in the stack and accepts
    the service-account file written for web and worker before they started. (One test: a stack takes half a minute
    to start.)"""
    wait_for(lambda: "Baray fake listening" in stack.output(), 30, "the Baray fake")
    answer = httpx.get(f"{stack.baray_fake_url}/pay/{'0' * 24}", headers={"x-api-key": "pk_dev_peerpower-local"})
    assert (answer.status_code, answer.json()) == (404, {"message": "Intent not found"})

    wait_for(lambda: "FCM fake listening" in stack.output(), 30, "the FCM fake")
    credentials = json.loads((stack.var_dir / "fcm-fake" / "service-account.json").read_text())
    assert credentials["token_uri"] == f"{stack.fcm_fake_url}/token"
    assert "fcm-fake started (pid " in stack.output()


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def metrics_text(url: str) -> str:
    return httpx.get(f"{url}/metrics", timeout=5).text


def test_sigterm_to_the_whole_process_group_stops_every_process(stack):
    # First, a counter incremented in the worker process shows on the web server's /metrics.
    ping = "from apps.core.tasks import ping; ping.delay('metrics')"
    subprocess.run([sys.executable, "manage.py", "shell", "-c", ping], cwd=settings.BASE_DIR, env=stack.env, check=True)
    wait_for(
        lambda: 'peerpower_celery_tasks_total{state="SUCCESS",task="core.ping"} 1.0' in metrics_text(stack.url),
        60,
        "the worker's task count on the web server's /metrics",
    )

    pids = stack.processes()
    assert len(pids) >= 4  # supervisor, web, worker, beat
    os.killpg(stack.supervisor.pid, signal.SIGTERM)  # `kill -- -PGID`, or a process manager's stop
    stack.assert_all_end(pids)
    assert stack.supervisor.returncode == 0
    assert "worker stopped (status 0)" in stack.output()


def test_a_crashed_process_is_restarted_and_named_and_the_supervisor_alone_stops_the_rest(stack):
    worker = stack.pid_of("worker")
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: stack.pid_of("worker") != worker, 30, "the worker to be restarted")
    assert f"worker (pid {worker}) exited with signal 9 (SIGKILL); restarting in 1 s" in stack.output()

    # SIGTERM to the worker's own process group: it stops gracefully (no pool processes to lose), and is restarted.
    worker = stack.pid_of("worker")
    wait_for(lambda: stack.output().count(" ready.") >= 2, 60, "the restarted worker to be ready")
    os.killpg(worker, signal.SIGTERM)
    wait_for(lambda: not running(worker), STOP_BOUND, "the worker to stop")
    assert f"worker (pid {worker}) exited with status 0" in wait_for(
        lambda: f"worker (pid {worker}) exited" in stack.output() and stack.output(), 10, "the exit to be logged"
    )

    pids = stack.processes()
    stack.supervisor.send_signal(signal.SIGTERM)  # the supervisor alone
    stack.assert_all_end(pids)


def test_sigterm_to_every_process_at_once_stops_them_all(stack):
    """What systemd's control-group kill (and `pkill -g`) does: each process gets the signal itself."""
    pids = stack.processes()
    for pid in pids:
        # One already gone (the supervisor, signalled first, may have stopped it) is what the test wants anyway.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    stack.assert_all_end(pids)


def test_a_stop_signal_while_beat_builds_its_scheduler_stops_it(tmp_path, migrated_database):
    """Celery's own handler saved the schedule inside the signal handler; during the scheduler's construction that
    built a second scheduler whose error was swallowed, and beat ran on until killed (a stack stop in CI waited out
    its 15 s). The scheduler here sends beat SIGTERM from inside the transaction that saves its first entry."""
    shutil.copy(migrated_database, tmp_path / "db.sqlite3")
    env = {key: value for key, value in os.environ.items() if key not in STORES}
    env.update(DJANGO_SETTINGS_MODULE="peerpower.settings.development", PEERPOWER_VAR_DIR=str(tmp_path))
    scheduler = "apps.core.tests.beat_schedulers:StoppedWhileBuilt"
    command = [sys.executable, "-m", "celery", "-A", "peerpower", "beat", "--scheduler", scheduler]
    command += ["--schedule", str(tmp_path / "celerybeat-schedule")]
    beat = subprocess.Popen(
        command, cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output, _ = beat.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        beat.kill()
        output, _ = beat.communicate()
        raise AssertionError(f"beat ignored the stop signal:\n{output[-3000:]}") from None
    assert beat.returncode == 0, output[-3000:]
    assert "Cannot add entry" not in output


def test_restart_back_off_doubles_up_to_its_cap():
    assert [restart_delay(n, base=1, cap=30) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_exit_statuses_are_described():
    assert describe_exit(3) == "status 3"
    assert describe_exit(-signal.SIGKILL) == "signal 9 (SIGKILL)"


def test_the_development_chain_runs_in_the_stack_only_when_development_deploys_to_a_local_node(settings, tmp_path):
    settings.CHAIN_DEPLOY_IF_MISSING = True
    settings.CHAIN_RPC_URL = "http://127.0.0.1:8545"
    assert local_chain_port() == 8545
    names = [spec.name for spec in stack_processes(port=8000, var_dir=tmp_path, chain_port=8545)]
    assert names == ["web", "beat", "worker", "baray-fake", "chain"]  # stopped last: the worker may still be sending
    names = [spec.name for spec in stack_processes(port=8000, var_dir=tmp_path)]
    assert names == ["web", "beat", "worker", "baray-fake"]
    settings.CHAIN_RPC_URL = "https://rpc.selendra.org"
    assert local_chain_port() is None
    settings.CHAIN_RPC_URL = "http://127.0.0.1:8545"
    settings.CHAIN_DEPLOY_IF_MISSING = False
    assert local_chain_port() is None
