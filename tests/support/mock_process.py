"""``python -m mockserver`` as a real process on a free 127.0.0.1 port: the command as a user runs it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

START_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MockProcess:
    """One ``mockserver`` process. Its output goes to a file (a chatty server can never block on a full
    pipe), and it runs in its own process group, so ``kill()`` reaches ``--workers``' children too."""

    def __init__(self, *args: str, log_dir: Path, cwd: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(log_dir) / f"mockserver-{self.port}.log"
        command = [sys.executable, "-m", "mockserver", "--port", str(self.port), "--log-level", "warning"]
        started = time.perf_counter()
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [*command, *args], cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                if httpx.get(self.url + "/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"mockserver did not start: {self.output()}")
            time.sleep(0.05)
        self.startup_seconds = time.perf_counter() - started

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> str:
        """SIGTERM, as Ctrl-C or a service manager would: shutdown code runs. Returns the output."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.output()

    def kill(self) -> None:
        """SIGKILL to the server and any worker processes: no shutdown code runs."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
