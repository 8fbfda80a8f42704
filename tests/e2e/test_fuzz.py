"""Fuzzing the mock with Schemathesis' negative data, every check, for the five APIs.

tests/unit/conformance/test_schemathesis_run.py runs the default generation mode (positive and negative)
and checks the exit status. This runs negative data only, with another seed, and reads every exchange back
from
Schemathesis' HAR report to assert what its checks leave open: no 5xx at all, and every 4xx in the API's
own error format. Every check runs (Schemathesis 4's default) except the exceptions schemathesis.toml
names, each tied to a seed rule (`--checks all` would override them). The counts per API are printed
after the run (tests/conftest.py).

Bounded for CI; a longer run is the same test with a larger budget, e.g.
``SCHEMATHESIS_FUZZ_EXAMPLES=1000 SCHEMATHESIS_FUZZ_SEED=7 pytest tests/e2e/test_fuzz.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from support.api_errors import error_format_problem
from support.source_documents import ROOT

from image_api_contracts import APIS

MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_FUZZ_EXAMPLES", "25")
SEED = os.environ.get("SCHEMATHESIS_FUZZ_SEED", "2")


def header(entry_part: dict, name: str) -> str:
    return next((h["value"] for h in entry_part["headers"] if h["name"].lower() == name), "")


@pytest.mark.parametrize("api", sorted(APIS))
def test_negative_fuzzing_finds_no_server_error_and_every_refusal_in_the_apis_format(
    api, live_mock, tmp_path, record_property
):
    har = tmp_path / f"{api}.har"
    cmd = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"specs/{api}.yaml",
        "--url",
        f"{live_mock.url}/{api}{APIS[api].server_path}",
        "--mode",
        "negative",
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        SEED,
        "--report",
        "har",
        "--report-har-path",
        str(har),
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"}
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)

    entries = json.loads(har.read_text())["log"]["entries"]
    statuses = Counter(entry["response"]["status"] for entry in entries)
    server_errors = [
        e["request"]["method"] + " " + e["request"]["url"] for e in entries if e["response"]["status"] >= 500
    ]
    wrong_format = [
        (response["status"], problem)
        for response in (entry["response"] for entry in entries)
        if 400 <= response["status"] < 500
        and (
            problem := error_format_problem(
                api,
                response["status"],
                header(response, "content-type"),
                response["content"].get("text", "").encode(),
            )
        )
    ]
    refused = sum(n for status, n in statuses.items() if 400 <= status < 500)
    record_property(
        "fuzz",
        f"{api}: {len(entries)} requests (negative mode, {MAX_EXAMPLES} examples, seed {SEED}), "
        f"{refused} refused with a 4xx in the API's format, {len(server_errors)} server errors; "
        f"statuses {dict(sorted(statuses.items()))}",
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert not server_errors, server_errors[:10]
    assert not wrong_format, wrong_format[:10]
    assert refused > 0, "no negative request was refused: the run did not exercise negative data"
