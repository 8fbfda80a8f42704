"""Runs the checks (a pytest package) against a target; JUnit XML, -k, -x come with pytest.

pytest's own output (progress, tracebacks, Hypothesis' notes) is kept out of the report: it is dropped,
or with ``verbose`` returned in ``Report.details`` for the CLI to print after the summary."""

from __future__ import annotations

import contextlib
import io
import os
import time
from pathlib import Path

import pytest

from .errors import SuiteCouldNotRun
from .readonly import safe_methods_only
from .report import Report, build_report
from .rule_plugin import ConformancePlugin, Progress
from .target import Target


def run(
    target: Target,
    junit_xml: str | None = None,
    pytest_args: list[str] | None = None,
    progress: Progress | None = None,
    replay: str = "",
    workers: int = 1,
) -> Report:
    """``workers`` > 1: the checks run in that many processes at once (``conformance.parallel``)."""
    plugin = ConformancePlugin(target, progress)
    checks = Path(__file__).resolve().parent / "checks"
    args = [str(checks), "-c", str(checks / "pytest.ini"), "--rootdir", str(checks), "--no-header", "-rN"]
    args += ["-v", "--tb=short"] if target.verbose else ["-q", "--tb=no"]
    if target.seed is not None:
        args += [f"--hypothesis-seed={target.seed}"]
    args += pytest_args or []
    os.environ.setdefault(
        "HYPOTHESIS_STORAGE_DIRECTORY",
        os.path.join(os.path.expanduser("~"), ".cache", "conformance-hypothesis"),
    )
    started = time.perf_counter()
    if workers > 1:
        from .parallel import run_parallel

        results, details, codes = run_parallel(target, workers, args, junit_xml, progress or Progress())
        report = build_report(target, results, time.perf_counter() - started)
        report.details = details if target.verbose else ""
        exit_code = next((c for c in codes if c in _BROKEN), pytest.ExitCode.OK)
        return _finish(report, replay, junit_xml, exit_code)
    output = io.StringIO()
    with contextlib.redirect_stdout(output), safe_methods_only(target.read_only):
        exit_code = pytest.main(args + junit_args(target, junit_xml), plugins=[plugin])
    report = build_report(target, plugin.results, time.perf_counter() - started)
    report.details = output.getvalue() if target.verbose else ""
    return _finish(report, replay, junit_xml, exit_code)


_BROKEN = (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR)


def junit_args(target: Target, junit_xml: str | None) -> list[str]:
    if not junit_xml:
        return []
    return [
        f"--junitxml={junit_xml}",
        *("-o", "junit_suite_name=conformance-" + target.api),
        *("-o", "junit_family=xunit1"),  # the family whose testcases may carry properties
    ]


def _finish(report: Report, replay: str, junit_xml: str | None, exit_code) -> Report:
    report.replay = replay
    if junit_xml and os.path.exists(junit_xml):
        from .junit import rewrite

        rewrite(junit_xml, report)
    if exit_code in _BROKEN:
        raise SuiteCouldNotRun(f"the conformance checks could not run (pytest exit code {exit_code})")
    return report
