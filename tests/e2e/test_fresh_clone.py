"""A fresh clone is the product: cloned into an empty directory, with nothing beside it, it installs as the
README says, collects every test and passes a fast subset, the source-document checks reported as not run.

The clone is of the committed HEAD (what CI and every user get), installed into a virtual environment of its
own with the README's own command, and run with no ``IMAGE_API_SOURCES`` and no ``shared/`` beside it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.readme_commands import free_port, sh_blocks
from support.source_documents import ROOT, SOURCES_ENV

# Fast, and between them they touch every kind of test: specs, the rule catalogue, one API's mock tests,
# the command as a process, the README's own consistency checks.
FAST_SUBSET = [
    "tests/unit/contracts/test_specs.py",
    "tests/unit/contracts/test_rules.py",
    "tests/unit/mockserver/apis/test_sharinpix.py",
    "tests/e2e/test_mockserver_startup.py",
    "tests/e2e/test_readme.py::test_setup_is_install_and_serve_then_install_and_test",
]


def _run(command: list[str] | str, cwd: Path, env: dict, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        cwd=cwd,
        env=env,
        shell=isinstance(command, str),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    empty = tmp_path_factory.mktemp("fresh")
    assert list(empty.iterdir()) == []
    repo = empty / "image-api-contracts"
    cloned = _run(["git", "clone", "-q", str(ROOT), str(repo)], empty, dict(os.environ), 120)
    assert cloned.returncode == 0, cloned.stderr
    assert not (empty / "shared").exists()
    return repo


def _venv(repo: Path, name: str) -> dict:
    """A virtual environment of its own (an install never inherits another's leftovers), and the environment
    of a shell that activated it: no source documents named, none of this checkout's tools on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in (SOURCES_ENV, "VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not p.startswith(str(ROOT)))
    made = _run([sys.executable, "-m", "venv", str(repo.parent / name)], repo, env, 120)
    assert made.returncode == 0, made.stderr
    env["PATH"] = str(repo.parent / name / "bin") + os.pathsep + env["PATH"]
    env["VIRTUAL_ENV"] = str(repo.parent / name)
    return env


def _readme_test_command(repo: Path) -> str:
    """The README's second set-up block: install, then pytest."""
    return sh_blocks((repo / "README.md").read_text(encoding="utf-8"))[1].command


def test_a_light_install_serves_the_mock_and_runs_conformance_without_the_dev_tools(clone):
    """``pip install .``: no browser driver, no linter, no tox, no PostgreSQL driver (the ``postgresql``
    extra); the mock and the conformance command work."""
    repo, env = clone, _venv(clone, "light-venv")
    installed = _run("pip install -q .", repo, env, 600)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    dev_tools = ("playwright", "ruff", "tox", "psycopg")
    dev_only = f"import importlib.util as u; print([m for m in {dev_tools!r} if u.find_spec(m)])"
    present = _run(["python", "-c", dev_only], repo, env, 60)
    assert present.stdout.strip() == "[]", present.stdout + present.stderr
    port = free_port()
    log = (repo.parent / "light-mock.log").open("w")
    server = subprocess.Popen(
        ["mockserver", "--api", "everydaypic", "--port", str(port)],
        cwd=repo.parent,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        checked = _run(
            [
                "conformance",
                "--api",
                "everydaypic",
                "--base-url",
                f"http://127.0.0.1:{port}",
                "--seed",
                "1",
                "--max-examples",
                "3",
            ],
            repo.parent,
            env,
            300,
        )
        assert checked.returncode == 0, checked.stdout[-4000:] + checked.stderr[-2000:]
        assert re.search(r"everydaypic @ .*: PASSED", checked.stdout), checked.stdout[-2000:]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def _decoys(repo: Path, env: dict) -> dict:
    """Another Python's ``pip``, ``pytest`` and ``mockserver`` first on ``PATH`` (a global pyenv's shims,
    say): the README's commands must not depend on which of them a shell finds."""
    decoys = repo.parent / "decoys"
    decoys.mkdir(exist_ok=True)
    for name in ("pip", "pip3", "pytest", "mockserver"):
        script = decoys / name
        refusal = f"echo 'decoy {name}: not the Python the README installs into' >&2"
        script.write_text(f"#!/bin/sh\n{refusal}\nexit 97\n")
        script.chmod(0o755)
    return {**env, "PATH": str(decoys) + os.pathsep + env["PATH"]}


def test_a_fresh_clone_installs_collects_everything_and_passes_a_fast_subset(clone):
    repo, env = clone, _decoys(clone, _venv(clone, "venv"))
    install, _, test = _readme_test_command(repo).partition(" && ")
    assert test == "python3 -m pytest", "the README's test command is install && python3 -m pytest"
    installed = _run(install, repo, env, 600)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]

    collected = _run(f"{test} --collect-only -q", repo, env, 300)
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    count = int(re.search(r"(\d+) tests? collected", collected.stdout).group(1))
    assert count >= 900, collected.stdout[-500:]

    subset = _run(f"{test} -p no:cacheprovider {' '.join(FAST_SUBSET)}", repo, env, 600)
    output = subset.stdout
    assert "source documents: absent" in output  # the session's header says so first
    assert subset.returncode == 0, output[-4000:] + subset.stderr[-2000:]
    assert re.search(r"\d+ passed", output) and " failed" not in output
    # The checks against the source documents are reported as not run, naming the variable that enables them.
    absent = rf"SKIPPED \[\d+\] .*not run: the source documents are absent \(set {SOURCES_ENV}="
    assert re.search(absent, output), output[-3000:]
