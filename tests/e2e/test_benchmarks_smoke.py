"""The benchmark command runs end to end in its quick mode (no npm, no wrk); no timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_command_runs(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/run.py",
            "--quick",
            "--no-prism",
            "--loadgen",
            "python",
            "--output-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| endpoint | ours req/s (reads: cache miss) | Prism req/s |" in done.stdout
    assert "| 80% reads with varied queries, 20% writes" in done.stdout
    assert "| tagged-images list (limit 20) |" in done.stdout
    markdowns = list(tmp_path.glob("*.md"))
    assert len(markdowns) == 1
    assert "| evotor upload (300x300 PNG, multipart) |" in markdowns[0].read_text()
    data = json.loads(markdowns[0].with_suffix(".json").read_text())
    assert data["machine"]["cores"] >= 1
    assert data["versions"]["connexion"]
    rows = {row["endpoint"]: row for row in data["rows"]}
    assert rows["tagged-images list (limit 20)"]["ours"]["requests"] > 0
    assert rows["tagged-images list (limit 20)"]["ceiling"]["requests"] > 0
    assert rows["tagged-images list (limit 20)"]["ours"]["p95_ms"] > 0  # p50, p95 and p99 of each endpoint
    assert "| p50 ours / Prism (ms) | p95 ours / Prism (ms) | p99 ours / Prism (ms) |" in done.stdout
    assert all(row["ours"]["bad"] == 0 for row in data["rows"]), data["rows"]
    assert all((row["ours_miss"] or {}).get("bad", 0) == 0 for row in data["rows"]), data["rows"]
    assert data["mixed"]["requests"] > 0 and data["mixed"]["bad"] == 0, data["mixed"]  # no write refused
    assert set(data["memory"]) == {"tagged-images", "image-upload", "everydaypic"}
    assert "list page 0" in data["scaling"]
    journal = {row["endpoint"]: row for row in data["journal"]}  # the request journal, on and off
    assert set(journal) == {"tagged-images list (limit 20)", "evotor upload (300x300 PNG, multipart)"}
    assert all(row["on"]["requests"] > 0 and row["off"]["requests"] > 0 for row in journal.values())
    assert "| endpoint | journal on req/s | journal off req/s |" in markdowns[0].read_text()


def test_layer_costs_command_runs():
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/layers.py",
            "--requests",
            "200",
            "--path",
            "/tagged-images/v1/images?limit=5",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "µs" not in line]
    names = [row.split(" | ")[0].strip("| ") for row in rows]
    assert "request validation (Connexion, compiled schemas)" in names and "request journal" in names
    costs = [float(row.split(" | ")[1]) for row in rows[1:]]
    assert all(cost >= 0 for cost in costs) and sum(costs) > 0


def test_layer_costs_of_the_whole_image_listing_command_runs():
    """``--path /image-upload/GetAllImages`` uploads images first and reads them with the Bearer token."""
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/layers.py",
            "--requests",
            "100",
            "--records",
            "20",
            "--path",
            "/image-upload/GetAllImages",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    names = [line.split(" | ")[0].strip("| ") for line in done.stdout.splitlines() if line.startswith("| ")]
    assert "inside the above: the handler (every image's fragment, envelope)" in names
    assert "security (Connexion)" in names


def test_side_by_side_command_runs(tmp_path):
    """Two mocks (here both this tree) driven in turn; each gets its requests/s, latencies and CPU."""
    table = tmp_path / "table.json"
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/side_by_side.py",
            "--before",
            str(ROOT),
            "--only",
            "get one",
            "--only",
            "GetAllImages",
            "--rounds",
            "2",
            "--duration",
            "1",
            "--records",
            "5",
            "--loadgen",
            "python",
            "--warm-up",
            "0.5",
            "--json",
            str(table),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(table.read_text())
    assert set(rows) == {"tagged-images get one", "image-upload GetAllImages (1000 images)"}
    for row in rows.values():
        assert set(row) == {"before", "after"}
        for side in row.values():
            assert side["rps"] > 0 and side["non_2xx"] == 0
            assert side["p50_ms"] <= side["p99_ms"]
            assert side["cpu_us_per_request"] > 0
    assert "req/s" in done.stdout and "CPU per request" in done.stdout
    assert "each server warmed for 0.5 s before an endpoint's rounds" in done.stdout
