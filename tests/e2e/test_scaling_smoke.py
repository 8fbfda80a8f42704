"""The scaling table's command (benchmarks/scaling.py) runs end to end in its quick mode, in memory and under
--state-dir; no timing is asserted, only that every operation was measured and answered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("store", [[], ["--state-dir"]], ids=["memory", "state-dir"])
def test_scaling_command_runs(tmp_path, store):
    output = tmp_path / "scaling.md"
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/scaling.py",
            "--quick",
            "--api",
            "tagged-images",
            "--api",
            "evotor",
            *store,
            "--output",
            str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = output.read_text()
    assert "concurrency 1" in text and ("--state-dir (SQLite)" if store else "store: memory") in text
    assert "| tagged-images | search | GET /v1/search/images" in text
    assert "| evotor | delete | DELETE an image |" in text
    results = json.loads(output.with_suffix(".json").read_text())
    assert {(r["api"], r["records"]) for r in results} == {
        (api, n) for api in ("tagged-images", "evotor") for n in (100, 1000)
    }
    for result in results:
        assert result["bytes_per_record"] > 0
        kinds = (
            {"list", "search", "get", "upload", "delete"}
            if result["api"] == "tagged-images"
            else {"list", "get", "upload", "delete"}
        )
        assert set(result["ops"]) == kinds
        assert all(op["n"] > 0 and 0 < op["p50"] <= op["p95"] <= op["p99"] for op in result["ops"].values())
        assert all(op["cpu_us"] > 0 for op in result["ops"].values())  # the process's CPU per request
    assert "| CPU µs a request, 100 / 1,000 | CPU 1,000 / 100 |" in text
