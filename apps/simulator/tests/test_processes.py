"""CPU accounting of the simulator's process trees (read from /proc)."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from apps.simulator.processes import ServerConfig, Servers, cpu_seconds, log_folder
from apps.simulator.run import Summary

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
