"""The verdict per rule: JSON for machines, a compact table for people."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from .rule_plugin import Outcome, Results
from .rules import Rule, load_rules
from .target import Target

# "partial": the rule's checks passed, but one of them was not exercised (another rule's break stopped its
# setup): never a PASS, since what did not run proves nothing.
ORDER = {"fail": 0, "warn": 1, "partial": 2, "skip": 3, "pass": 4}
NOT_EXERCISED = "not exercised"


@dataclass
class RuleVerdict:
    id: str
    level: str
    rule: str
    status: str  # pass | fail | warn | partial | skip
    checks: list[Outcome] = field(default_factory=list)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.checks if o.status in ("fail", "warn")]

    @property
    def exercised(self) -> tuple[int, int]:
        """(checks that ran, checks): a check ran unless its only outcome says it was not exercised."""
        tests: dict[str, bool] = {}
        for o in self.checks:
            ran = not (o.status == "skip" and o.message.startswith(NOT_EXERCISED))
            tests[o.test] = tests.get(o.test, False) or ran
        return sum(tests.values()), len(tests)

    @property
    def label(self) -> str:
        """The status as a person reads it: PASS, FAIL, WARN, "PART ran/of" (some checks were stopped by
        another rule's break, so the PASS is only partly earned) or "not exercised" (nothing ran)."""
        if self.status == "partial":
            return "PART {}/{}".format(*self.exercised)
        if self.status == "skip":
            return NOT_EXERCISED
        return self.status.upper()


@dataclass
class Report:
    api: str
    base_url: str
    seed: int | None
    duration_seconds: float
    verdicts: list[RuleVerdict]
    details: str = ""  # pytest's own output, tracebacks included (with -v only)
    replay: str = ""  # the command that reruns the same checks with the same generated data

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(ORDER, 0)
        for v in self.verdicts:
            counts[v.status] += 1
        return counts

    @property
    def failed(self) -> bool:
        """A MUST rule broke (or, under --strict, any rule): SHOULD breaks are only "warn" otherwise."""
        return any(v.status == "fail" for v in self.verdicts)

    def to_json(self) -> dict:
        return {
            "api": self.api,
            "base_url": self.base_url,
            "seed": self.seed,
            "replay": self.replay,
            "duration_seconds": round(self.duration_seconds, 2),
            "summary": self.counts,
            "passed": not self.failed,
            "rules": [
                {
                    "id": v.id,
                    "level": v.level,
                    "rule": v.rule,
                    "status": v.status,
                    "exercised": dict(zip(("ran", "of"), v.exercised, strict=True)),
                    "checks": [asdict(o) for o in v.checks],
                }
                for v in self.verdicts
            ],
        }

    def write_json(self, path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, indent=2, ensure_ascii=False)

    def summary_lines(self) -> list[str]:
        """The verdict first, then one line per break (operation, expected, got) with its curl, then
        the rules not exercised and why, then every rule's status."""
        c = self.counts
        verdict = "FAILED" if self.failed else "PASSED"
        partly = f"{c['partial']} partly exercised, " if c["partial"] else ""
        lines = [
            f"conformance {self.api} @ {self.base_url}: {verdict} ({c['fail']} failed, {c['warn']} warnings, "
            f"{c['pass']} passed, {partly}{c['skip']} not exercised; {self.duration_seconds:.1f}s, "
            f"seed {self.seed})"
        ]
        if self.replay:
            lines.append(f"replay: {self.replay}")
        ordered = sorted(self.verdicts, key=lambda v: (ORDER[v.status], v.id))
        for v in ordered:
            breaks = v.failures
            if not breaks:
                continue
            label = "FAIL" if v.status == "fail" else "WARN"
            lines.append(f"\n{label} {v.id} ({v.level}): {v.rule[:100]}")
            for o in breaks:
                mark = "" if o.status == "fail" else "(SHOULD) "
                lines.append(f"  - {mark}{o.message}")
                if o.decision:
                    lines.append(f"    decision: {o.decision}")
                if o.curl:
                    lines.append(f"    {o.curl}")
        unexercised = [v for v in ordered if v.status in ("skip", "partial")]
        if unexercised:
            lines.append("")
        for v in unexercised:
            reasons = list(dict.fromkeys(o.message for o in v.checks if o.status == "skip")) or [
                "no check ran"
            ]
            if v.status == "partial":
                ran, of = v.exercised
                lines.append(f"PARTLY EXERCISED {v.id} ({ran} of {of} checks): {reasons[0][:200]}")
            else:
                lines.append(f"NOT EXERCISED {v.id}: {reasons[0][:200]}")
        lines.append("\nrules:")
        for v in ordered:
            label = f"PART {v.exercised[0]}/{v.exercised[1]}" if v.status == "partial" else v.status.upper()
            lines.append(f"  {label:4} {v.id:7} {v.level:6} {v.rule[:90]}")
        lines.append(
            f"\n{verdict}: {c['pass']} passed, {c['fail']} failed, {c['warn']} warnings, "
            f"{partly}{c['skip']} skipped"
        )
        return lines


def build_report(target: Target, results: Results, duration: float) -> Report:
    """Every catalogue rule of the target's API (and the cross-API ones), with what the checks found."""
    verdicts = []
    for rule in load_rules().values():
        if rule.api not in (target.api, "all"):
            continue
        outcomes = results.by_rule.get(rule.id, [])
        verdicts.append(RuleVerdict(rule.id, rule.level, rule.rule, rule_status(rule, outcomes), outcomes))
    return Report(target.api, target.base_url, target.seed, duration, verdicts)


def rule_status(rule: Rule | None, outcomes: list[Outcome]) -> str:
    statuses = {o.status for o in outcomes}
    for status in ("fail", "warn"):
        if status in statuses:
            return status
    if "pass" in statuses:
        stopped = any(o.status == "skip" and o.message.startswith(NOT_EXERCISED) for o in outcomes)
        return "partial" if stopped else "pass"
    return "skip"
