"""The ``conformance`` command's contract for CI scripts: options, exit codes, reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest
from power.mutants import all_mutants
from power.variants import all_variants
from support.live_server import LiveServer

from conformance.rules import load_rules


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
        assert lines[0].startswith("conformance ") and "everydaypic @ " in lines[0], quiet.stdout
        progress = [line for line in lines if line.startswith("[")]  # one per rule, as it was known
        assert any(" FAIL EDP-05 " in line for line in progress), progress
        verdict = lines.index(next(line for line in lines if line.startswith("conformance everydaypic @ ")))
        assert "FAILED" in lines[verdict] and verdict > lines.index(progress[-1]), quiet.stdout
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
        rules = "ALL-01 MUST, ALL-02 MUST, ALL-03 MUST, ALL-05 MUST"
        assert f"{rules}: check_schema_layer[GET /v1/image/{{id}}]" in names, names
    finally:
        server.stop()
    summary_end = verbose.stdout.index("---- details (-v) ----")
    assert "FAIL EDP-05" in verbose.stdout[:summary_end]
    details = verbose.stdout[summary_end:]  # pytest's own report of each check, after the summary
    assert "[EDP-05]" in details, details[-2000:]
    assert "test session starts" in details and " failed" in details, details[-2000:]


# -- preflight, exit codes, token, version, seed ----------------------------------------------------------
def test_an_unreachable_target_exits_3_with_one_line_and_no_verdicts(tmp_path):
    report = tmp_path / "report.json"
    started = time.monotonic()
    result = conformance(
        "--api", "everydaypic", "--base-url", "http://127.0.0.1:1/everydaypic", "--report", str(report),
        "--wait", "1",
    )  # fmt: skip
    assert 1 <= time.monotonic() - started < 30  # refused connections are tried again for --wait seconds
    assert result.returncode == 3, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "target unreachable" in lines[0] and "Connection refused" in lines[0], lines
    assert "PASS" not in result.stdout and "FAIL" not in result.stdout and not report.exists()


def test_a_wrong_base_path_exits_3_with_a_hint_about_the_base_path(mock):
    result = conformance("--api", "tagged-images", "--base-url", f"{mock.url}/tagged-images")  # no /v1
    assert result.returncode == 3, (result.stdout, result.stderr)
    (line,) = result.stderr.strip().splitlines()
    assert "404" in line and "base path" in line and "/v1" in line, line
    assert "FAIL" not in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--token", ""], {}, "--token is empty"),
        (["--token", "  "], {}, "--token is empty"),
        (["--token", "abc\n"], {}, "whitespace"),
        (["--token", "Bearer abc"], {}, "scheme"),
        (["--token", "тoken"], {}, "non-ASCII"),
        ([], {"CONFORMANCE_TOKEN": ""}, "CONFORMANCE_TOKEN is set but empty"),
    ],
)
def test_an_empty_or_malformed_token_is_a_usage_error(args, env, says):
    result = subprocess.run(
        [sys.executable, "-m", "conformance", "--api", "evotor", "--base-url", "http://127.0.0.1:1", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert says in result.stderr and "usage:" in result.stderr, result.stderr


def test_the_token_comes_from_the_environment_too(mock, tmp_path):
    """A token from $CONFORMANCE_TOKEN is the one sent (image-upload refuses this one: not the dev
    token's run, which passes), and it never shows in the output."""
    report = tmp_path / "r.json"
    args = ["--api", "image-upload", "--base-url", f"{mock.url}/image-upload", "--rule", "IUP-02"]
    args += ["--max-examples", "2", "--seed", "1", "--report", str(report)]
    result = subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "CONFORMANCE_TOKEN": "not-a-jwt-at-all"},
    )
    assert "CONFORMANCE_TOKEN" in conformance("--help").stdout
    assert "not-a-jwt-at-all" not in result.stdout + result.stderr
    statuses = {r["id"]: r["status"] for r in json.loads(report.read_text())["rules"]}
    assert result.returncode == 1 and statuses["IUP-02"] == "fail", (statuses, result.stdout[-2000:])
    assert conformance(*args).returncode == 0  # the same run with the dev token


def test_version_on_both_clis():
    from importlib.metadata import version

    for module in ("conformance", "mockserver"):
        result = subprocess.run(
            [sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=60
        )
        assert (
            result.returncode == 0 and result.stdout.strip() == f"{module} {version('image-api-contracts')}"
        )


def test_without_seed_one_is_picked_printed_and_replayable(mock, tmp_path):
    report = tmp_path / "r.json"
    args = ["--api", "image-upload", "--base-url", f"{mock.url}/image-upload", "--read-only"]
    result = conformance(*args, "--max-examples", "2", "--report", str(report))
    data = json.loads(report.read_text())
    assert isinstance(data["seed"], int), data["seed"]
    header = result.stdout.splitlines()[:3]
    assert any(f"seed {data['seed']}" in line for line in header), header
    assert f"--seed {data['seed']}" in data["replay"] and data["replay"].startswith("conformance --api")
    assert f"replay: {data['replay']}" in result.stdout


def test_progress_a_line_at_once_then_one_per_rule_with_a_running_count(mock):
    args = ["--api", "image-upload", "--base-url", f"{mock.url}/image-upload", "--max-examples", "2"]
    started = time.monotonic()
    with subprocess.Popen(
        [sys.executable, "-m", "conformance", *args, "--seed", "1"], stdout=subprocess.PIPE, text=True
    ) as proc:
        first = proc.stdout.readline()
        first_after = time.monotonic() - started
        rest = proc.stdout.read()
    assert first.startswith("conformance ") and "seed 1" in first and first_after < 5, (first, first_after)
    counted = [line for line in rest.splitlines() if line.startswith("[")]
    rules = [r for r in load_rules().values() if r.api in ("image-upload", "all")]
    assert [line.split("]")[0] for line in counted] == [
        f"[{n:>2}/{len(rules)}" for n in range(1, len(rules) + 1)
    ]
    assert {line.split("]")[1].split()[1] for line in counted} == {r.id for r in rules}, counted


def test_a_ci_log_gets_a_heartbeat_while_a_long_check_runs(monkeypatch):
    import io

    from conformance import progress

    monkeypatch.setattr(progress, "HEARTBEAT_SECONDS", 0.3)
    out = io.StringIO()
    out.close = lambda: None  # read it after close()
    printed = progress.PrintedProgress(stream=out)
    printed.check_done(3, 40)
    time.sleep(1.6)  # no check finishes meanwhile: a state machine at high latency
    printed.close()
    beats = [line for line in out.getvalue().splitlines() if line.startswith("… 3 of 40 checks run")]
    assert beats, out.getvalue()
    quiet = len(out.getvalue())
    time.sleep(1.2)
    assert len(out.getvalue()) == quiet  # nothing after close()


def test_a_tls_failure_is_unreachable_too(mock):
    plain = mock.url.replace("http://", "https://")  # TLS spoken to a plain-HTTP server
    result = conformance("--api", "everydaypic", "--base-url", f"{plain}/everydaypic")
    assert result.returncode == 3, (result.stdout, result.stderr)
    (line,) = result.stderr.strip().splitlines()
    assert "target unreachable" in line and "SSL" in line, line


def test_the_preflight_waits_for_a_server_that_is_still_starting():
    """A CI job starts the server and runs the suite at once: refused connections are tried again."""
    import signal
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [
        "--api",
        "image-upload",
        "--base-url",
        f"http://127.0.0.1:{port}",
        "--read-only",
        "--max-examples",
        "2",
    ]
    with subprocess.Popen(
        [sys.executable, "-m", "conformance", *args], stdout=subprocess.PIPE, text=True
    ) as proc:
        time.sleep(1.5)  # the suite is already trying
        server = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "--api", "image-upload", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=600)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    assert proc.returncode == 0, out[-2000:]
