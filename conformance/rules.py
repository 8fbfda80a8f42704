"""The rule catalogue (``rules/``: one file per API, ``all.yaml`` for every API): what each API must do,
with the seed line that says so. A new API adds its own file; nothing lists the files."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

CATALOGUE = Path(__file__).resolve().parent / "rules"
EVERY_API = "all.yaml"  # loaded last: the cross-API rules follow the APIs' own


@dataclass(frozen=True)
class Rule:
    id: str
    api: str  # a short name, or "all"
    level: str  # MUST | SHOULD
    rule: str
    evidence_source: str
    evidence_quote: str
    mock: str  # "module:Qualified.name" of the code that honours it
    # Parts of a response's shape the rule's own text states ("METHOD path -> status: /pointer" prefixes):
    # a break there is this rule's, not ALL-02's (conformance.response_schema).
    owns_shape: tuple[str, ...] = ()


@functools.cache
def load_rules() -> dict[str, Rule]:
    files = sorted(CATALOGUE.glob("*.yaml"), key=lambda path: (path.name == EVERY_API, path.name))
    rules = {}
    for path in files:
        _load_file(path, rules)
    return rules


def _load_file(path: Path, rules: dict[str, Rule]) -> None:
    for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]:
        rule = Rule(
            id=entry["id"],
            api=entry["api"],
            level=entry["level"],
            rule=entry["rule"],
            evidence_source=entry["evidence"]["source"],
            evidence_quote=entry["evidence"]["quote"],
            mock=entry["mock"],
            owns_shape=tuple(entry.get("owns_shape", ())),
        )
        if rule.id in rules:
            raise ValueError(f"duplicate rule id {rule.id} in {path} (another file of {CATALOGUE} has it)")
        rules[rule.id] = rule
