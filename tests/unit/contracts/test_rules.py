"""The rule catalogue stays true: same IDs as the product owner's, evidence really in the seeds,
the mock code it names exists, and every rule has a test named after it."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest
from support.source_documents import BEHAVIOURS, ROOT, SEEDS_DIR, needs_sources

from conformance import load_rules

RULES = load_rules()


def _owner_rules() -> dict[str, str]:
    return dict(
        (m.group(1), m.group(2))
        for m in re.finditer(
            r"^- ([A-Z]{3}-\d\d) (MUST|SHOULD)\b", BEHAVIOURS.read_text(encoding="utf-8"), re.M
        )
    )


def _test_names() -> set[str]:
    """The tests of every folder (a rule's mock test is mostly in tests/unit/mockserver; ALL-06's, which
    needs real processes, in tests/e2e)."""
    names = set()
    for path in Path(ROOT, "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
                names.add(node.name)
    return names


@needs_sources
def test_catalogue_has_every_rule_of_the_product_owner_at_the_same_level():
    owner = _owner_rules()
    assert len(owner) >= 40
    for rule_id, level in owner.items():
        assert rule_id in RULES, rule_id
        assert RULES[rule_id].level == level, rule_id


@needs_sources
@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_evidence_is_quoted_verbatim_from_its_source(rule_id):
    rule = RULES[rule_id]
    source = BEHAVIOURS if rule.evidence_source == "BEHAVIOURS.md" else SEEDS_DIR / rule.evidence_source
    assert rule.evidence_quote in source.read_text(encoding="utf-8")


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_mock_reference_resolves(rule_id):
    module_name, _, qualname = RULES[rule_id].mock.partition(":")
    target = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_every_rule_has_a_test_named_after_it(rule_id):
    prefix = "test_" + rule_id.replace("-", "").lower()
    assert any(name.startswith(prefix) for name in _test_names()), f"no test named {prefix}_…"


def _conformance_checks_by_rule() -> dict[str, set[str]]:
    """rule id -> names of the conformance checks marked with it (``@pytest.mark.rule("ID", ...)``)."""
    found: dict[str, set[str]] = {}
    for path in Path(ROOT, "conformance", "checks").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for deco in node.decorator_list:
                func = deco.func if isinstance(deco, ast.Call) else None
                if isinstance(func, ast.Attribute) and func.attr == "rule":
                    for arg in deco.args:
                        if isinstance(arg, ast.Constant):
                            found.setdefault(arg.value, set()).add(f"{path.stem}::{node.name}")
    return found


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_every_rule_has_a_conformance_check(rule_id):
    checks = _conformance_checks_by_rule()
    assert checks.get(rule_id), f"no conformance check is marked @pytest.mark.rule({rule_id!r})"


def test_conformance_checks_name_only_catalogue_rules():
    assert set(_conformance_checks_by_rule()) <= set(RULES)
