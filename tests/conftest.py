"""Shared test fixtures: a mock per test (fresh state), and real images made with Pillow."""

from __future__ import annotations

import sys

import pytest

try:
    from starlette.testclient import TestClient
except ModuleNotFoundError as missing:  # pytest from another Python than the one pip installed into
    raise pytest.UsageError(
        f"{missing} in {sys.executable}: the project's dependencies are not installed in the Python running "
        'pytest. Run `python3 -m pip install -e ".[dev]" && python3 -m pytest`, which installs into and '
        "tests with one Python (or first make a virtual environment: "
        "python3 -m venv .venv && . .venv/bin/activate)"
    ) from None
from support.images import image_bytes
from support.live_server import LiveServer
from support.source_documents import report_line

from image_api_contracts import FIXTURES_DIR
from mockserver.app import create_app


@pytest.fixture
def make_client():
    """``make_client("evotor")`` serves one API at its real paths; ``make_client()`` all five, prefixed."""
    clients = []

    def make(api: str | None = None, **settings) -> TestClient:
        if api is not None:
            settings.setdefault("apis", (api,))
            settings.setdefault("prefixed", False)
        # TestClient's Host is "testserver", which the mock's Host check refuses (as Django's test runner,
        # the suite adds it to the allowed hosts).
        settings.setdefault("allow_hosts", ("testserver",))
        client = TestClient(create_app(**settings), raise_server_exceptions=False)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def png():
    return image_bytes


@pytest.fixture
def fixture_image():
    def read(name: str) -> bytes:
        return (FIXTURES_DIR / "images" / name).read_bytes()

    return read


@pytest.fixture(scope="module")
def live_mock():
    """All five APIs, prefixed, on a free port; reset before each use by the test that takes it."""
    server = LiveServer()
    yield server
    server.stop()


def pytest_report_header(config):
    return report_line()


def pytest_terminal_summary(terminalreporter):
    """What the robustness tests tried, from what they recorded with ``record_property``:
    ``bad_input`` (the API of one bad-input case), ``fuzz``, ``load``, ``latency``, and ``poisoning`` and
    ``stall`` (tests/e2e/test_poisoning.py): a line of counts each."""
    reports = [
        (outcome, report)
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if getattr(report, "when", None) == "call"
    ]
    cases: dict[str, dict[str, int]] = {}
    lines = []
    for outcome, report in reports:
        for name, value in report.user_properties:
            if name == "bad_input":
                counts = cases.setdefault(value, {"passed": 0, "failed": 0})
                counts[outcome] += 1
            elif name in ("fuzz", "load", "latency", "poisoning", "stall", "read_only"):
                lines.append(f"{name}: {value}" + ("" if outcome == "passed" else " (FAILED)"))
    if cases:
        total = sum(sum(c.values()) for c in cases.values())
        failed = sum(c["failed"] for c in cases.values())
        per_api = ", ".join(f"{api} {sum(c.values())}" for api, c in sorted(cases.items()))
        verdict = "all 4xx in the API's format" if not failed else f"{failed} FAILED"
        lines.insert(0, f"bad-input battery: {total} cases over {len(cases)} APIs ({per_api}), {verdict}")
    if lines:
        terminalreporter.write_sep("-", "robustness")
        for line in lines:
            terminalreporter.write_line(line)
