"""One full conformance run of an API against a (possibly changed) mock on a real socket, as CI would
point the suite at a deployment: the helper of the power, variant and latency tests."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from conformance.report import Report
from conformance.runner import run
from conformance.target import Target
from image_api_contracts import APIS
from support.live_server import LiveServer

BODIES = Path(tempfile.gettempdir()) / "image-api-contracts-bodies"  # failing requests' binary bodies


def run_against_mock(api: str, mutate=None, latency_ms: int = 0, seed: int = 1, **options) -> Report:
    server = LiveServer(mutate=mutate)
    try:
        if latency_ms:
            server.set_latency(latency_ms)
        base_url = server.url + f"/{api}" + APIS[api].server_path
        options.setdefault("bodies_dir", str(BODIES))
        target = Target(api=api, base_url=base_url, seed=seed, max_examples=8, shrink_seconds=2, **options)
        return run(target)
    finally:
        server.stop()


PROOF_ENV = "CONFORMANCE_PROOF"  # "full": every broken and legal variant, not CI's subset


def proof_cases(variants: list, test_file: str) -> list:
    """The variants as test cases: every one with ``CONFORMANCE_PROOF=full``; by default (CI, a plain
    ``pytest``) the first of each API and rule, so every rule of every API still has its power proved both
    ways on every run, and the rest are skipped with the command that runs them."""
    full = os.environ.get(PROOF_ENV) == "full"
    seen: set[tuple[str, str]] = set()
    cases = []
    for variant in variants:
        first = (variant.api, variant.rule) not in seen
        seen.add((variant.api, variant.rule))
        why = f"another variant of this API and rule runs; all of them: {PROOF_ENV}=full pytest {test_file}"
        marks = () if full or first else pytest.mark.skip(reason=why)
        cases.append(pytest.param(variant, id=str(variant), marks=marks))
    return cases


def statuses(report: Report, status: str) -> list[str]:
    return sorted(v.id for v in report.verdicts if v.status == status)


def explain(report: Report) -> str:
    return "\n".join(line for line in report.summary_lines() if not line.startswith("  PASS"))
