"""The rule catalogue (``rules.yaml``): what each API must do, with the seed line that says so."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

CATALOGUE = Path(__file__).resolve().parent / "rules.yaml"


@dataclass(frozen=True)
class Rule:
    id: str
    api: str  # a short name, or "all"
    level: str  # MUST | SHOULD
    rule: str
    evidence_source: str
    evidence_quote: str
    mock: str  # "module:Qualified.name" of the code that honours it


@functools.cache
def load_rules() -> dict[str, Rule]:
    data = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    rules = {}
    for entry in data["rules"]:
        rule = Rule(
            id=entry["id"],
            api=entry["api"],
            level=entry["level"],
            rule=entry["rule"],
            evidence_source=entry["evidence"]["source"],
            evidence_quote=entry["evidence"]["quote"],
            mock=entry["mock"],
        )
        if rule.id in rules:
            raise ValueError(f"duplicate rule id {rule.id} in {CATALOGUE}")
        rules[rule.id] = rule
    return rules
