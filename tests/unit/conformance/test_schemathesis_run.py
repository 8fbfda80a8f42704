"""`schemathesis run specs/<api>.yaml --url <mock>`, every check and phase, passes for each API, warning-free.

Run as users run it (the CLI, picking up the repository's schemathesis.toml), with a fixed seed and a
bounded budget so CI stays fast and reproducible; `SCHEMATHESIS_MAX_EXAMPLES` raises the budget.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.source_documents import ROOT

from image_api_contracts import APIS

MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20")


@pytest.mark.parametrize("api", sorted(APIS))
def test_schemathesis_all_checks_pass_against_the_mock(api, live_mock, tmp_path):
    binary = Path(sys.executable).with_name("schemathesis")
    url = f"{live_mock.url}/{api}{APIS[api].server_path}"
    cmd = [
        str(binary),
        "run",
        f"specs/{api}.yaml",
        "--url",
        url,
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        "1",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"}
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    summary = re.search(r"^\s*(\d+ generated.*)$", result.stdout, re.M)
    print(f"\n{api}: {summary.group(1) if summary else result.stdout[-500:]}")
    assert result.returncode == 0, result.stdout[-4000:]
    # No warning either: every operation reached the API's logic (real images for the uploads, links and
    # resource names that lead the reads to what was created).
    assert "WARNINGS" not in result.stdout and "Warnings:" not in result.stdout, result.stdout[-4000:]
