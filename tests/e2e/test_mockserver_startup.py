"""``mockserver`` as a person starts it: "ready" only once it listens, URLs that open a page, a busy port
named with the flag that fixes it, and log lines in one format whose 4xx lines say why."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest
from support.mock_process import MockProcess, free_port

TEXT_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) +\S")


def _mockserver(*args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mockserver", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def test_a_busy_port_is_one_line_naming_the_port_and_the_flag_and_no_ready():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "mockserver", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    lines = [line for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    assert run.returncode != 0
    assert len(lines) == 1, lines
    assert str(port) in lines[0] and "--port" in lines[0] and "in use" in lines[0]
    assert not re.search(r"\bready\b", lines[0])


@pytest.mark.parametrize("api", [None, "tagged-images"])
def test_ready_comes_after_the_bind_and_every_url_it_prints_opens_a_swagger_ui(api):
    port = free_port()
    proc = _mockserver("--port", str(port), *(["--api", api] if api else []))
    try:
        deadline = time.monotonic() + 30
        lines = []
        while not any("ready" in line for line in lines):
            assert time.monotonic() < deadline and proc.poll() is None, lines
            lines.append(proc.stdout.readline())
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the port already accepts connections when "ready" is printed
        urls = []
        while len(urls) < (1 if api else 5):
            line = proc.stdout.readline()
            assert TEXT_LINE.match(line), line
            urls += re.findall(r"http://127\.0\.0\.1:\d+/\S*", line)
        for url in urls:
            page = httpx.get(url, timeout=10)
            assert page.status_code == 200 and "swagger-ui" in page.text.lower(), url
        assert all(TEXT_LINE.match(line) for line in lines), lines
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()


def _two_refusals(server: MockProcess) -> None:
    httpx.get(server.url + "/evotor/stores/s/products/p/images", timeout=10)  # no token: 401
    httpx.get(server.url + "/tagged-images/v1/images?limit=abc", timeout=10)  # not an integer: 400
    httpx.get(server.url + "/tagged-images/v1/images", timeout=10)  # 200


def test_every_line_has_one_format_and_a_refusal_says_why(tmp_path):
    server = MockProcess("--log-level", "info", log_dir=tmp_path)
    _two_refusals(server)
    lines = [line for line in server.stop().splitlines() if line.strip()]
    assert lines and [line for line in lines if not TEXT_LINE.match(line)] == []
    access = [line for line in lines if '"GET /' in line and '"GET / ' not in line]  # not the start-up probe
    assert len(access) == 3, lines
    evotor = '"GET /evotor/stores/s/products/p/images HTTP/1.1"'
    assert re.search(re.escape(evotor) + r" 401 .*ms - No authorization", access[0])
    assert re.search(r'"GET /tagged-images/v1/images\?limit=abc HTTP/1.1" 400 .*ms - .*integer', access[1])
    assert re.search(r'" 200 [\d.]+ms$', access[2]), access[2]  # a success needs no reason
    assert not any("Connexion" in line or "No auth provided" in line for line in lines)


def test_json_logs_are_one_object_a_line_with_the_access_fields(tmp_path):
    server = MockProcess("--log-level", "info", "--log-format", "json", log_dir=tmp_path)
    _two_refusals(server)
    records = [json.loads(line) for line in server.stop().splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    access = [r for r in records if r["logger"] == "mockserver.access" and r["path"] != "/"]
    assert [(r["method"], r["path"], r["status"]) for r in access] == [
        ("GET", "/evotor/stores/s/products/p/images", 401),
        ("GET", "/tagged-images/v1/images", 400),
        ("GET", "/tagged-images/v1/images", 200),
    ]
    assert "No authorization" in access[0]["reason"] and access[1]["query"] == "limit=abc"
    assert access[2]["reason"] is None and access[2]["duration_ms"] >= 0
    assert any("ready" in r["message"] for r in records)


def test_no_access_log_turns_the_access_lines_off_but_not_ready(tmp_path):
    server = MockProcess("--log-level", "info", "--no-access-log", log_dir=tmp_path)
    _two_refusals(server)
    output = server.stop()
    assert "ready" in output and '"GET /' not in output


def test_the_reason_is_there_with_the_journal_off(tmp_path):
    server = MockProcess("--log-level", "info", "--journal-size", "0", log_dir=tmp_path)
    _two_refusals(server)
    assert re.search(r"401 .*ms - No authorization", server.stop())


def test_credentials_in_a_query_never_reach_the_log(tmp_path):
    server = MockProcess("--log-level", "info", log_dir=tmp_path)
    httpx.get(server.url + "/tagged-images/v1/images?limit=1&access_token=s3cr3t&api%5Fkey=k3y", timeout=10)
    output = server.stop()
    assert "s3cr3t" not in output and "k3y" not in output
    assert "limit=1&access_token=[redacted]&api%5Fkey=[redacted]" in output
