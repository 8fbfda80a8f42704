"""The ``conformance`` command's contract for CI scripts: options, exit codes, reports."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import LiveServer
from mutants import all_mutants


def conformance(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args], capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def mock():
    server = LiveServer()
    yield server
    server.stop()


def test_passing_run_exits_0_and_writes_json_and_junit(mock, tmp_path):
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    result = conformance(
        "--api",
        "everydaypic",
        "--base-url",
        f"{mock.url}/everydaypic",
        "--seed",
        "3",
        "--max-examples",
        "5",
        "--report",
        str(report),
        "--junit-xml",
        str(junit),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "PASS EDP-05" in result.stdout and "PASSED:" in result.stdout
    data = json.loads(report.read_text())
    assert data["passed"] is True and data["api"] == "everydaypic" and data["seed"] == 3
    statuses = {r["id"]: r["status"] for r in data["rules"]}
    assert statuses["EDP-05"] == "pass" and statuses["ALL-01"] == "pass"
    suite = ET.parse(junit).getroot()
    assert int(suite.find("testsuite").get("tests") if suite.tag == "testsuites" else suite.get("tests")) > 0


def test_a_broken_server_exits_1_naming_the_rule_with_a_curl(tmp_path):
    (truncate,) = [m.apply for m in all_mutants() if m.id == "edp-truncated-download"]
    server = LiveServer(mutate=truncate)
    try:
        report = tmp_path / "report.json"
        result = conformance(
            "--api",
            "everydaypic",
            "--base-url",
            f"{server.url}/everydaypic",
            "--seed",
            "1",
            "--max-examples",
            "5",
            "--report",
            str(report),
        )
    finally:
        server.stop()
    assert result.returncode == 1, result.stdout[-3000:]
    assert "FAIL EDP-05" in result.stdout
    failed = [r for r in json.loads(report.read_text())["rules"] if r["status"] == "fail"]
    assert "EDP-05" in {r["id"] for r in failed}
    assert any(c["curl"] and c["curl"].startswith("curl ") for r in failed for c in r["checks"])


@pytest.mark.parametrize(
    "args",
    [
        ["--api", "nope", "--base-url", "http://127.0.0.1:1"],
        ["--api", "evotor"],
        ["--api", "evotor", "--base-url", "ftp://x"],
        ["--api", "evotor", "--base-url", "http://127.0.0.1:1", "--set", "album_id=1"],
        ["--api", "evotor", "--base-url", "http://127.0.0.1:1", "--set", "novalue"],
        ["--api", "evotor", "--base-url", "http://127.0.0.1:1", "--max-examples", "0"],
    ],
)
def test_usage_errors_exit_2(args):
    result = conformance(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "usage:" in result.stderr


def test_read_only_creates_nothing(mock):
    before = mock.app.ctx.dump()
    result = conformance(
        "--api",
        "tagged-images",
        "--base-url",
        f"{mock.url}/tagged-images/v1",
        "--read-only",
        "--max-examples",
        "3",
        "--seed",
        "2",
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert mock.app.ctx.dump() == before


def test_a_should_break_warns_and_fails_only_with_strict():
    (accept_anything,) = [
        m.apply for m in all_mutants() if m.id == "edp-accepts-non-images"
    ]  # EDP-02 is SHOULD
    server = LiveServer(mutate=accept_anything)
    try:
        args = [
            "--api",
            "everydaypic",
            "--base-url",
            f"{server.url}/everydaypic",
            "--seed",
            "1",
            "--max-examples",
            "3",
        ]
        relaxed, strict = conformance(*args), conformance(*args, "--strict")
    finally:
        server.stop()
    assert relaxed.returncode == 0, relaxed.stdout[-3000:]
    assert "WARN EDP-02" in relaxed.stdout and "1 warnings" in relaxed.stdout
    assert strict.returncode == 1 and "FAIL EDP-02" in strict.stdout
