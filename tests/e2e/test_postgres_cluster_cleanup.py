"""A test run killed outright leaves no PostgreSQL cluster behind: the throwaway cluster's watchdog stops
it and removes its directory once the process that made it is gone (no teardown runs after ``kill -9``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from support.postgres_cluster import bin_or_skip

TESTS_DIR = Path(__file__).resolve().parents[1]

MAKE_CLUSTER_AND_WAIT = """
import sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from support.postgres_cluster import Cluster
cluster = Cluster(Path(sys.argv[2]))
print(cluster.port, cluster.root, flush=True)
time.sleep(600)
"""


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_a_killed_test_process_leaves_no_cluster_running():
    bindir = bin_or_skip()
    maker = subprocess.Popen(
        [sys.executable, "-c", MAKE_CLUSTER_AND_WAIT, str(TESTS_DIR), str(bindir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port_text, root_text = maker.stdout.readline().split()
        port, root = int(port_text), Path(root_text)
        assert _listening(port), "the cluster did not come up"
        assert root.is_dir()
    finally:
        os.kill(maker.pid, signal.SIGKILL)
        maker.wait()
        maker.stdout.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (_listening(port) or root.exists()):
        time.sleep(0.2)
    assert not _listening(port), f"the cluster on port {port} still runs after its test process was killed"
    assert not root.exists(), f"{root} is still there after its test process was killed"
