"""The ``conformance`` command's contract for CI scripts: options, exit codes, reports."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import LiveServer
from mutants import all_mutants
from variants import all_variants


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


def test_read_only_creates_nothing_and_still_runs_every_safe_operation(mock, tmp_path):
    before = mock.app.ctx.dump()
    report = tmp_path / "report.json"
    result = conformance(
        "--report",
        str(report),
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
    data = json.loads(report.read_text())
    statuses = {r["id"]: r["status"] for r in data["rules"]}
    assert statuses["ALL-01"] == statuses["ALL-02"] == "pass", statuses  # not SKIP: GETs were all judged
    tests = {
        c["test"] for r in data["rules"] if r["id"] == "ALL-02" for c in r["checks"] if c["status"] == "pass"
    }
    assert any("GET /images]" in t for t in tests) and not any("[POST " in t for t in tests), tests


def test_a_should_break_warns_and_fails_only_with_strict():
    (accept_anything,) = [
        v.apply for v in all_variants() if v.id == "edp-accepts-non-images"
    ]  # EDP-02 is SHOULD: a legal variant
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


def test_the_summary_comes_first_one_line_per_break_with_the_curl_of_that_request(tmp_path):
    (truncate,) = [m.apply for m in all_mutants() if m.id == "edp-truncated-download"]
    server = LiveServer(mutate=truncate)
    try:
        args = ["--api", "everydaypic", "--base-url", f"{server.url}/everydaypic", "--seed", "1"]
        junit = tmp_path / "junit.xml"
        quiet = conformance(*args, "--max-examples", "3", "--junit-xml", str(junit))
        verbose = conformance(*args, "--max-examples", "3", "-v")
        lines = quiet.stdout.splitlines()
        assert lines[0].startswith("conformance everydaypic @ ") and "FAILED" in lines[0], quiet.stdout
        assert "Traceback" not in quiet.stdout and "Hypothesis" not in quiet.stdout, quiet.stdout
        block = lines[lines.index(next(line for line in lines if line.startswith("FAIL EDP-05 "))) :]
        assert block[1].startswith("  - ") and "bytes" in block[1], block[:3]
        curl = block[2].strip()
        assert curl.startswith("curl -X GET ") and "/v1/image/" in curl, block[:3]
        replay = subprocess.run(
            ["bash", "-c", curl + " -sS -o /dev/null -w '%{http_code} %{size_download}'"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        status, size = replay.stdout.split()
        assert status == "200" and int(size) > 0, replay  # the very download that came back short
        names = {case.get("name") for case in ET.parse(junit).getroot().iter("testcase")}
        assert "test_schema_layer[GET /v1/image/{id}]" in names, names
    finally:
        server.stop()
    summary_end = verbose.stdout.index("---- details (-v) ----")
    assert "FAIL EDP-05" in verbose.stdout[:summary_end]
    details = verbose.stdout[summary_end:]  # pytest's own report of each check, after the summary
    assert "[EDP-05]" in details, details[-2000:]
    assert "test session starts" in details and " failed" in details, details[-2000:]
