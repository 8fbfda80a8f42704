"""A throwaway PostgreSQL cluster for the tests: Debian's own binaries, a temporary data directory, a free
port on 127.0.0.1, and nothing left behind (the server stopped, the directory removed) when it is done,
even when the test run itself is killed (``kill -9``, a CI timeout): a watchdog process started beside the
cluster stops it once the process that made it is gone, since no teardown or ``atexit`` runs then.

PostgreSQL refuses to run as root, so when the tests run as root the cluster runs as the ``postgres``
user (``runuser``), in a directory that user owns. Without the binaries the tests that need it skip with
the reason, except in CI (``CI`` set), where ``.ci/run`` installs them and a skip would hide a regression.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

START_TIMEOUT_SECONDS = 60


def postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has ``initdb`` and ``pg_ctl``."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name)
    )
    return Path(found[-1]).parent if found else None


def bin_or_skip() -> Path:
    directory = postgres_bin()
    if directory is None:
        reason = "PostgreSQL's server binaries (Debian package postgresql) are not installed"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: .ci/run installs them, so CI must not skip these tests", pytrace=False)
        pytest.skip(reason)
    return directory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One running cluster: ``url(db)`` for a database on it, ``stop()``/``start()`` to take it away and
    bring it back (the outage tests), ``destroy()`` at the end."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="mock-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", "mock", "-A", "trust", "-E", "UTF8", "--no-sync")
        self.databases = 0
        self.start()
        self._watchdog = self._reap_when_orphaned()

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self._as_user, str(self.bindir / tool), *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_SECONDS,
        )

    def _reap_when_orphaned(self) -> subprocess.Popen:
        """A shell in its own session that outlives this process: when this process is gone without
        ``destroy()`` (which ends the watchdog first), it stops the server and removes the directory."""
        pg_ctl = str(self.bindir / "pg_ctl")
        stop = shlex.join([*self._as_user, pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        script = (
            f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; "
            f"{stop} >/dev/null 2>&1; rm -rf {shlex.quote(str(self.root))}"
        )
        return subprocess.Popen(
            ["sh", "-c", script],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        auth = f"mock:{password}" if password else "mock"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database on this cluster: each test gets its own state."""
        import psycopg

        self.databases += 1
        name = f"mock_{os.getpid()}_{self.databases}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        self._watchdog.kill()
        self._watchdog.wait()
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def wait_until_down(cluster: Cluster, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", cluster.port)) != 0:
                return
        time.sleep(0.05)


@pytest.fixture(scope="session")
def pg_cluster():
    """One cluster for the whole session (a test that needs its own state asks it for a new database)."""
    cluster = Cluster(bin_or_skip())
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """The URL of a new, empty database: one state per test."""
    return pg_cluster.new_database()
