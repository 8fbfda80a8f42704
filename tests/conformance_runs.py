"""One full conformance run of an API against a (possibly changed) mock on a real socket, as CI would
point the suite at a deployment: the helper of the power, variant and latency tests."""

from __future__ import annotations

import tempfile
from pathlib import Path

from conftest import LiveServer

from conformance.report import Report
from conformance.runner import run
from conformance.target import Target
from mockserver.registry import APIS

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


def statuses(report: Report, status: str) -> list[str]:
    return sorted(v.id for v in report.verdicts if v.status == status)


def explain(report: Report) -> str:
    return "\n".join(line for line in report.summary_lines() if not line.startswith("  PASS"))
