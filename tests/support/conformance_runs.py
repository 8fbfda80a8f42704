"""One full conformance run of an API against a (possibly changed) mock on a real socket, as CI would
point the suite at a deployment: the helper of the power, variant and latency tests."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.report import Report
from conformance.rule_plugin import REMOVED_NOTE
from conformance.runner import run
from conformance.target import Target
from image_api_contracts import APIS
from support.live_server import LiveServer

BODIES = Path(tempfile.gettempdir()) / "image-api-contracts-bodies"  # failing requests' binary bodies


def run_against_mock(
    api: str, mutate=None, latency_ms: int = 0, seed: int = 1, then=None, **options
) -> Report:
    """``then(report, target)``, when given, runs while the server still serves what the run left."""
    server = LiveServer(mutate=mutate)
    try:
        if latency_ms:
            server.set_latency(latency_ms)
        base_url = server.url + f"/{api}" + APIS[api].server_path
        options.setdefault("bodies_dir", str(BODIES))
        target = Target(api=api, base_url=base_url, seed=seed, max_examples=8, shrink_seconds=2, **options)
        report = run(target)
        if then is not None:
            then(report, target)
        return report
    finally:
        server.stop()


@dataclass(frozen=True)
class Replay:
    curl: str
    seen: int  # the status answered when the break was seen
    now: int | None  # the status the pasted curl gets (None: curl could not send it)

    @property
    def reproduced(self) -> bool:
        return self.now == self.seen


def replay_failures(report: Report, rule: str, target: Target) -> list[Replay]:
    """Every curl of ``rule``'s failures whose answer was kept, pasted into bash as a user would (``TOKEN``
    set to the credential), against the server the run left; a curl marked as replaying against data the
    suite itself removed is left out (its note says why it would not reproduce)."""
    replays = []
    for verdict in report.verdicts:
        if verdict.id != rule:
            continue
        for outcome in verdict.failures:
            if not outcome.curl or outcome.answered is None or REMOVED_NOTE in outcome.curl:
                continue
            env = {"PATH": os.environ.get("PATH", ""), "TOKEN": target.credential or ""}
            done = subprocess.run(
                ["bash", "-c", f"{outcome.curl} -sS -o /dev/null -w '%{{http_code}}' --max-time 20"],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
            )
            status = done.stdout.strip()
            replays.append(Replay(outcome.curl, outcome.answered, int(status) if status.isdigit() else None))
    return replays


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
