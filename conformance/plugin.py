"""The pytest plugin the runner loads: fixtures for the checks, rule bookkeeping, SHOULD-as-warning.

Checks are ordinary pytest tests in ``conformance.checks``; each names its rules with
``@pytest.mark.rule("EVT-04")``, its API with a module-level ``pytestmark = pytest.mark.api("evotor")``,
and ``@pytest.mark.writes`` when it changes server state (skipped under ``--read-only``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from .rules import load_rules
from .target import Target

TARGET = pytest.StashKey[Target]()
_CURRENT: list[Target] = []
_NAMED_RULE = re.compile(r"^\[([A-Z]{3}-\d\d)\] ")


SHOULD_PREFIX = "WARN (SHOULD part of the rule): "


def should(target: Target, ok: bool, message: str) -> None:
    """A SHOULD part of a MUST rule (e.g. "a duplicate gets 409"): fails under --strict, else a warning."""
    if ok:
        return
    if target.strict:
        raise AssertionError(message)
    pytest.skip(SHOULD_PREFIX + message)


def current_target() -> Target:
    """The target of the run in progress, for check modules that build their cases at import time."""
    if not _CURRENT:
        raise RuntimeError("the conformance checks run through conformance.runner.run (or the CLI)")
    return _CURRENT[-1]


@dataclass
class Outcome:
    test: str
    status: str  # pass | fail | warn | skip
    message: str = ""
    curl: str | None = None


@dataclass
class Results:
    by_rule: dict[str, list[Outcome]] = field(default_factory=dict)

    def add(self, rule_ids, outcome: Outcome) -> None:
        for rule_id in rule_ids:
            self.by_rule.setdefault(rule_id, []).append(outcome)


def rule_ids_of(item) -> list[str]:
    return [rule_id for mark in item.iter_markers("rule") for rule_id in mark.args]


class ConformancePlugin:
    def __init__(self, target: Target):
        self._target = target
        self.results = Results()
        self._rules = load_rules()

    # -- configuration -----------------------------------------------------------------------------
    def pytest_configure(self, config):
        config.stash[TARGET] = self._target
        _CURRENT.append(self._target)
        config.addinivalue_line("markers", "rule(*ids): the catalogue rules this check verifies")
        config.addinivalue_line("markers", "api(name): the API a check module belongs to")
        config.addinivalue_line("markers", "writes: the check changes server state (skipped by --read-only)")

    def pytest_unconfigure(self, config):
        if _CURRENT and _CURRENT[-1] is self._target:
            _CURRENT.pop()

    def pytest_collection_modifyitems(self, config, items):
        keep, drop = [], []
        only = set(self._target.only_rules)
        for item in items:
            api = next((m.args[0] for m in item.iter_markers("api")), None)
            wanted = api in (None, self._target.api) and (not only or only & set(rule_ids_of(item)))
            (keep if wanted else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        if self._target.read_only:
            skip = pytest.mark.skip(reason="--read-only: this check changes server state")
            for item in items:
                if item.get_closest_marker("writes"):
                    item.add_marker(skip)

    # -- outcomes ----------------------------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        rule_ids = rule_ids_of(item)
        if not rule_ids or (report.when != "call" and not (report.failed or report.skipped)):
            return
        client = getattr(item, "conformance_client", None)
        curl = client.last_curl() if client is not None else None
        if report.passed:
            self.results.add(rule_ids, Outcome(item.nodeid, "pass"))
        elif report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            reason = reason.removeprefix("Skipped: ")
            if reason.startswith(SHOULD_PREFIX):
                self.results.add(
                    rule_ids, Outcome(item.nodeid, "warn", reason.removeprefix(SHOULD_PREFIX), curl)
                )
            else:
                self.results.add(rule_ids, Outcome(item.nodeid, "skip", reason))
        else:
            message, named_curl = _short_message(report)
            curl = named_curl or curl
            named = _NAMED_RULE.match(message)
            if named and named.group(1) in rule_ids:  # a multi-rule check names the rule it caught
                self.results.add([r for r in rule_ids if r != named.group(1)], Outcome(item.nodeid, "pass"))
                rule_ids = [named.group(1)]
            must = any(self._rules[r].level == "MUST" for r in rule_ids if r in self._rules)
            if must or self._target.strict:
                self.results.add(rule_ids, Outcome(item.nodeid, "fail", message, curl))
            else:  # a SHOULD break: a warning unless --strict (JUnit shows it as skipped with WARN)
                self.results.add(rule_ids, Outcome(item.nodeid, "warn", message, curl))
                report.outcome = "skipped"
                report.longrepr = (str(item.path), item.location[1] or 0, f"WARN (SHOULD rule): {message}")


def _short_message(report) -> tuple[str, str | None]:
    """The failure's first line, and a curl command if the failure carries one."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = (crash.message if crash is not None else str(report.longrepr)).strip()
    lines = text.splitlines()
    curl = next((line.strip() for line in lines if line.strip().startswith("curl ")), None)
    first = lines[0] if lines else "failed"
    first = first.removeprefix("AssertionError: ")
    return first[:500], curl
