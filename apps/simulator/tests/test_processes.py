"""CPU accounting of the simulator's process trees (read from /proc)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from apps.simulator.processes import (
    ServerConfig,
    Servers,
    cpu_seconds,
    database_url,
    log_folder,
    postgres_backends_by_client,
    process_cpu_seconds,
    redis_server_pids,
)
from apps.simulator.run import Summary, own_cpu, postgres_by_client_since

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")

# A parent that starts a child burning about 0.3 s of CPU, waits for it (so its time moves into the parent's
# reaped-children total), then burns some itself and sleeps.
BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
PARENT = f"import subprocess, sys, time\nsubprocess.run([sys.executable, '-c', {BURN!r}])\n{BURN}time.sleep(30)\n"


def test_a_tree_counts_its_own_time_and_its_reaped_children():
    parent = subprocess.Popen([sys.executable, "-c", PARENT])
    try:
        deadline = time.monotonic() + 20
        used = 0.0
        while time.monotonic() < deadline:
            used = cpu_seconds({"tree": parent.pid}, {})["tree"]
            if used >= 0.55:
                break
            time.sleep(0.1)
        assert 0.55 <= used < 5
        assert cpu_seconds({"gone": 2**22 + 1}, {})["gone"] == 0  # no such process: nothing
    finally:
        parent.kill()
        parent.wait()


def test_servers_share_a_metrics_folder_of_their_own_and_log_under_the_var_dir(tmp_path):
    servers = Servers(
        ServerConfig(), fcm_endpoint="http://127.0.0.1:9", fcm_credentials=tmp_path / "key.json", project_id="p"
    )
    # The folder the command prints is the real one, wherever PEERPOWER_VAR_DIR points.
    assert servers.log_dir == log_folder(ServerConfig()) == Path(settings.VAR_DIR) / "simulator"
    assert log_folder(ServerConfig(log_dir=tmp_path)) == tmp_path
    # Web and workers get the same metrics folder, so the workers' push counters show on the web's /metrics.
    assert servers.environment()["PROMETHEUS_MULTIPROC_DIR"] == str(servers.metrics_dir.resolve())


def test_the_summary_counts_what_the_progress_bar_counts():
    lines = Summary(submitted=200, canaries=40).lines()
    assert lines[0] == (
        "submitted      200 (refused by the API: 0, 0% of those answered); followed to a final state with the 40 "
        "canaries: 240"
    )


def test_the_summary_reports_charges_rewards_and_what_was_paid_for_faked_deliveries():
    summary = Summary(
        charged=1_234_567,
        charges_held=30_000,
        rewards={"pending": (3, 120_000), "voided": (1, 40_000)},
        held_for_faked=1,
    )
    lines = summary.lines()
    assert (
        "PPT charged    1.23 PPT captured from clients for delivered messages (still held for messages not final: "
        "0.03 PPT)"
    ) in lines
    assert "rewards        posted 0 (0.00 PPT), held 3 (0.12 PPT), voided 1 (0.04 PPT)" in lines
    assert any(line.startswith("paid for unverified or faked deliveries: 0 (must be 0)") for line in lines)
    assert summary.ok
    assert not Summary(paid_for_faked=1).ok


HOLD_CONNECTION = (
    "import sys, time, psycopg\n"
    "connection = psycopg.connect(sys.argv[1])\n"
    "print(connection.info.backend_pid, flush=True)\n"
    "time.sleep(30)\n"
)


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's backends")
def test_postgres_backends_are_told_apart_by_the_process_at_the_other_end():
    child = subprocess.Popen([sys.executable, "-c", HOLD_CONNECTION, database_url()], stdout=subprocess.PIPE, text=True)
    try:
        child_backend = int(child.stdout.readline())
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (own_backend,) = cursor.fetchone()
        backends = postgres_backends_by_client({"child": child.pid, "me": os.getpid()})
        assert backends[child_backend] == "child"
        assert backends[own_backend] == "me"
        # A connection to this database from a process in none of the trees named is someone else's (the child is in
        # this process's tree, so only the child is named here).
        assert postgres_backends_by_client({"child": child.pid})[own_backend] == "other"
        # PostgreSQL's own background processes work for whoever writes: counted as the server's.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE backend_type IN ('checkpointer', 'walwriter')")
            background = [pid for (pid,) in cursor.fetchall()]
        assert background and all(backends[pid] == "server" for pid in background)
        cpu = process_cpu_seconds([child_backend, own_backend, 2**22 + 1])
        assert set(cpu) == {child_backend, own_backend}  # a process that is not there has no figure
    finally:
        child.kill()
        child.wait()


def test_postgres_cpu_by_client_counts_new_backends_from_zero_and_leaves_ended_ones_out():
    backends = {10: "web", 11: "web", 12: "workers", 13: "simulator"}
    before = {10: 1.0, 12: 2.0, 13: 0.5}
    after = {10: 1.5, 11: 0.25, 13: 0.75}  # 11 opened in the window, 12 ended in it
    assert postgres_by_client_since(backends, before, after) == {"web": 0.75, "simulator": 0.25}


def test_the_summary_counts_the_runs_own_postgres_less_the_simulators():
    cpu = own_cpu(
        {"web": 3.0, "workers": 2.0, "postgres_all": 10.0, "simulator": 1.0},
        {"web": 2.0, "workers": 1.5, "beat": 0.25, "simulator": 0.5},
    )
    assert cpu["postgres"] == 3.75  # this database's backends, the simulator's left out
    lines = Summary(submitted=1000, cpu=cpu, postgres_by_client={"web": 2.0, "simulator": 0.5}).lines()
    # PeerPower's own: web + workers + postgres + the simulator's own process, not every PostgreSQL process here.
    assert any(line.startswith("cpu            9.8 s while traffic ran = 9.8 ms per message") for line in lines)
    assert any("every PostgreSQL process on this machine 10.0 s, of which 7.5 s other" in line for line in lines)
    # Where no backend could be told apart, every PostgreSQL process is what there is.
    assert own_cpu({"postgres_all": 10.0}, {})["postgres"] == 10.0


@pytest.mark.skipif(not settings.REDIS_URL, reason="the run's Redis")
def test_the_runs_redis_server_is_found_by_the_process_id_it_reports():
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        reported = int(client.info("server")["process_id"])
    finally:
        client.close()
    pids = redis_server_pids()
    assert pids is not None and reported in pids
    assert process_cpu_seconds(pids)[reported] > 0
