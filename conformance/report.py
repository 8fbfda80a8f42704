"""The verdict per rule: JSON for machines, a compact table for people."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from .plugin import Outcome, Results
from .rules import Rule, load_rules
from .target import Target

ORDER = {"fail": 0, "warn": 1, "skip": 2, "pass": 3}


@dataclass
class RuleVerdict:
    id: str
    level: str
    rule: str
    status: str  # pass | fail | warn | skip
    checks: list[Outcome] = field(default_factory=list)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.checks if o.status in ("fail", "warn")]


@dataclass
class Report:
    api: str
    base_url: str
    seed: int | None
    duration_seconds: float
    verdicts: list[RuleVerdict]

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
            "duration_seconds": round(self.duration_seconds, 2),
            "summary": self.counts,
            "passed": not self.failed,
            "rules": [
                {
                    "id": v.id,
                    "level": v.level,
                    "rule": v.rule,
                    "status": v.status,
                    "checks": [asdict(o) for o in v.checks],
                }
                for v in self.verdicts
            ],
        }

    def write_json(self, path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, indent=2, ensure_ascii=False)

    def summary_lines(self) -> list[str]:
        lines = [f"conformance {self.api} @ {self.base_url} ({self.duration_seconds:.1f}s, seed {self.seed})"]
        for v in sorted(self.verdicts, key=lambda v: (ORDER[v.status], v.id)):
            lines.append(f"  {v.status.upper():4} {v.id:7} {v.level:6} {v.rule[:90]}")
        for v in sorted(self.verdicts, key=lambda v: (ORDER[v.status], v.id)):
            for o in v.failures:
                lines.append(f"\n{o.status.upper()} {v.id}: {o.test}\n  {o.message}")
                if o.curl:
                    lines.append(f"  reproduce: {o.curl}")
        c = self.counts
        verdict = "FAILED" if self.failed else "PASSED"
        lines.append(
            f"\n{verdict}: {c['pass']} passed, {c['fail']} failed, {c['warn']} warnings, {c['skip']} skipped"
        )
        return lines


def build_report(target: Target, results: Results, duration: float) -> Report:
    """Every catalogue rule of the target's API (and the cross-API ones), with what the checks found."""
    verdicts = []
    for rule in load_rules().values():
        if rule.api not in (target.api, "all"):
            continue
        outcomes = results.by_rule.get(rule.id, [])
        verdicts.append(RuleVerdict(rule.id, rule.level, rule.rule, _status(rule, outcomes), outcomes))
    return Report(target.api, target.base_url, target.seed, duration, verdicts)


def _status(rule: Rule, outcomes: list[Outcome]) -> str:
    statuses = {o.status for o in outcomes}
    for status in ("fail", "warn", "pass"):
        if status in statuses:
            return status
    return "skip"
