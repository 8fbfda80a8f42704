"""--workers: the checks in several processes give the verdicts, reports and progress of a one-process
run; the checks that cannot share a server run alone."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from power.mutants import all_mutants
from support.live_server import LiveServer

from conformance.cli import default_workers
from conformance.parallel import deal, exclusive
from conformance.rule_plugin import CHECKS_DIR, ConformancePlugin
from conformance.target import Target


def conformance(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args], capture_output=True, text=True, timeout=900
    )


def test_shares_are_dealt_heaviest_first_keeping_a_functions_cases_together():
    items = [
        "m.py::check_a[1]",
        "m.py::check_a[2]",
        "m.py::check_x_state_machine",
        "m.py::check_y_state_machine",
        "s.py::check_schema_layer[GET /a]",
        "s.py::check_schema_layer[GET /b]",
        "m.py::check_b",
    ]
    shares = deal(items, 3)
    assert len(shares) == 3 and sorted(n for share in shares for n in share) == sorted(items)
    machines = [i for i, share in enumerate(shares) if any("state_machine" in n for n in share)]
    assert len(machines) == 2  # the two heaviest in different processes
    (together,) = [share for share in shares if "m.py::check_a[1]" in share]
    assert "m.py::check_a[2]" in together
    assert deal(items[:1], 4)[1:] == [[], [], []]  # one share per worker, empty ones included


def test_the_first_worker_takes_the_longest_check_when_it_is_free_first():
    items = ["m.py::check_x_state_machine", "m.py::check_a", "m.py::check_b", "r.py::check_reads_back"]
    # The others begin 5 s after the first: with 2 s to run alone, the first is free first.
    shares = deal(items, 4, first_load=2, lag=5)
    assert shares[0] == ["m.py::check_x_state_machine"]
    assert sorted(n for share in shares for n in share) == sorted(items)
    # The others wait for what the first runs alone: however much that is, none is free before it.
    assert deal(items, 4, first_load=20, lag=5)[0] == ["m.py::check_x_state_machine"]


def _exclusive_checks(api: str) -> set[str]:
    """The checks of ``api`` a parallel run runs alone, as the checks are collected for a run (no request
    is sent: collecting builds the schema layer's items from the seed view)."""
    found: set[str] = set()

    class Recorder:
        @pytest.hookimpl(trylast=True)
        def pytest_collection_modifyitems(self, items):
            found.update(item.nodeid for item in items if exclusive(item))

    target = Target(api=api, base_url="http://127.0.0.1:9/base")
    args = [str(CHECKS_DIR), "-c", str(CHECKS_DIR / "pytest.ini"), "--rootdir", str(CHECKS_DIR)]
    with contextlib.redirect_stdout(io.StringIO()):
        code = pytest.main([*args, "--collect-only", "-q"], plugins=[ConformancePlugin(target), Recorder()])
    assert code == pytest.ExitCode.OK, code
    return found


def test_checks_that_cannot_share_the_server_are_marked():
    # Two APIs collected one after the other in one process: each collection reads its own target.
    tagged = _exclusive_checks("tagged-images")
    assert "schema_layer.py::check_schema_layer[DELETE /tags/{tag_id}]" in tagged
    assert "schema_layer.py::check_schema_layer[GET /tags/{tag_id}]" not in tagged
    assert "tagged_images/listing.py::check_tim05_date_range_and_uploaded_only" in tagged
    everydaypic = _exclusive_checks("everydaypic")
    assert "everydaypic.py::check_edp04_info_without_filters_lists_every_image" in everydaypic
    assert "everydaypic.py::check_edp05_download_returns_the_uploaded_bytes" not in everydaypic
    assert not any("tagged_images" in nodeid for nodeid in everydaypic)


@pytest.mark.parametrize(
    ("url", "workers"),
    [
        ("http://127.0.0.1:8000/x", 1),
        ("http://localhost:8000", 1),
        ("http://[::1]:8000", 1),
        ("https://staging.example.com/v1", 4),
        ("http://10.0.0.5", 4),
    ],
)
def test_loopback_targets_run_in_one_process_remote_ones_in_four(url, workers):
    assert default_workers(url) == workers


@pytest.fixture(scope="module")
def mock():
    server = LiveServer()
    yield server
    server.stop()


def _run(tmp_path, base_url: str, workers: int, name: str, *extra: str):
    junit, report = tmp_path / f"{name}.xml", tmp_path / f"{name}.json"
    result = conformance(
        "--api", "everydaypic", "--base-url", base_url, "--seed", "2", "--max-examples", "3",
        "--workers", str(workers), "--junit-xml", str(junit), "--report", str(report), *extra,
    )  # fmt: skip
    return result, junit, json.loads(report.read_text()) if report.exists() else None


def test_three_workers_give_the_verdicts_reports_and_progress_of_one_process(mock, tmp_path):
    url = f"{mock.url}/everydaypic"
    one, one_junit, one_report = _run(tmp_path, url, 1, "one")
    three, three_junit, three_report = _run(tmp_path, url, 3, "three")
    assert one.returncode == three.returncode == 0, (one.stdout[-2000:], three.stdout[-2000:], three.stderr)
    assert "workers 3" in three.stdout.splitlines()[0]
    verdicts = [{r["id"]: r["status"] for r in rep["rules"]} for rep in (one_report, three_report)]
    assert verdicts[0] == verdicts[1]
    names = [
        sorted(c.get("name") for c in ET.parse(j).getroot().iter("testcase"))
        for j in (one_junit, three_junit)
    ]
    assert names[0] == names[1] and len(names[0]) > 10
    counted = [line for line in three.stdout.splitlines() if line.startswith("[")]
    assert len(counted) == len(verdicts[0]) and counted[-1].startswith(f"[{len(counted)}/{len(counted)}]")


def test_a_break_found_by_a_worker_fails_the_run_on_its_rule(tmp_path):
    (truncate,) = [m.apply for m in all_mutants() if m.id == "edp-truncated-download"]
    server = LiveServer(mutate=truncate)
    try:
        result, _, report = _run(tmp_path, f"{server.url}/everydaypic", 3, "broken")
    finally:
        server.stop()
    assert result.returncode == 1, result.stdout[-2000:]
    failed = {r["id"] for r in report["rules"] if r["status"] == "fail"}
    assert failed == {"EDP-05"}, failed
