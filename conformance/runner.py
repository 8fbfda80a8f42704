"""Runs the checks (a pytest package) against a target; JUnit XML, -k, -x come with pytest.

pytest's own output (progress, tracebacks, Hypothesis' notes) is kept out of the report: it is dropped,
or with ``verbose`` returned in ``Report.details`` for the CLI to print after the summary."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from pathlib import Path

import pytest

from .plugin import ConformancePlugin, Progress
from .readonly import safe_methods_only
from .report import Report, build_report
from .target import Target


def run(
    target: Target,
    junit_xml: str | None = None,
    pytest_args: list[str] | None = None,
    progress: Progress | None = None,
    replay: str = "",
) -> Report:
    plugin = ConformancePlugin(target, progress)
    checks = Path(__file__).resolve().parent / "checks"
    args = [str(checks), "-c", str(checks / "pytest.ini"), "--rootdir", str(checks), "--no-header", "-rN"]
    args += ["-v", "--tb=short"] if target.verbose else ["-q", "--tb=no"]
    if junit_xml:
        args += [f"--junitxml={junit_xml}", "-o", "junit_suite_name=conformance-" + target.api]
        args += ["-o", "junit_family=xunit1"]  # the family whose testcases may carry properties
    if target.seed is not None:
        args += [f"--hypothesis-seed={target.seed}"]
    args += pytest_args or []
    os.environ.setdefault(
        "HYPOTHESIS_STORAGE_DIRECTORY",
        os.path.join(os.path.expanduser("~"), ".cache", "conformance-hypothesis"),
    )
    # Check modules may build cases for the target at import time: import them afresh for each run.
    for name in [m for m in sys.modules if m.startswith("conformance.checks.") or m.startswith("test_")]:
        if name.startswith("conformance.checks.") or getattr(sys.modules[name], "__file__", "").startswith(
            str(checks)
        ):
            del sys.modules[name]
    started = time.perf_counter()
    output = io.StringIO()
    with contextlib.redirect_stdout(output), safe_methods_only(target.read_only):
        exit_code = pytest.main(args, plugins=[plugin])
    report = build_report(target, plugin.results, time.perf_counter() - started)
    report.replay = replay
    if junit_xml and os.path.exists(junit_xml):
        from .junit import rewrite

        rewrite(junit_xml, report)
    report.details = output.getvalue() if target.verbose else ""
    if exit_code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        raise RuntimeError(f"the conformance checks could not run (pytest exit code {exit_code})")
    return report
