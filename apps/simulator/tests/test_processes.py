"""CPU accounting of the simulator's process trees (read from /proc)."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from apps.simulator.processes import cpu_seconds

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
