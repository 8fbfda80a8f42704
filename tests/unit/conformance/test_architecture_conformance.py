"""The shape of ``conformance/`` stays as designed: modules a reader can hold in mind, library internals
behind one door, the mock reached only through its test harness, no private name shared across modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conformance.errors import UnsupportedLibraryVersion
from conformance.library_internals import TESTED, check_versions

ROOT = Path(__file__).resolve().parents[3]
CONFORMANCE = ROOT / "conformance"
DOOR = CONFORMANCE / "library_internals"
MAX_LINES = 600
# The mock's test harness (``--contract-base-url mock`` and the contract_mock fixture start it).
HARNESS = {"mockserver.testing"}
NAMEDTUPLE_API = {"_replace", "_asdict", "_fields", "_make"}


def _modules() -> list[Path]:
    return sorted(CONFORMANCE.rglob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _imported_modules(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            if node.module == "mockserver":  # from mockserver import devtokens: the module it names
                found |= {f"mockserver.{alias.name}" for alias in node.names}
    return found


def test_no_conformance_module_is_over_600_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, long


def test_only_the_door_touches_library_internals():
    found = []
    for path in _modules():
        if DOOR in path.parents:
            continue
        tree = _tree(path)
        for module in _imported_modules(tree):
            deep_schemathesis = module.startswith("schemathesis.")
            if deep_schemathesis or module.startswith(("_pytest", "hypothesis.internal", "pluggy._")):
                found.append(f"{path.relative_to(ROOT)} imports {module}")
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")):
                continue
            if node.attr.startswith("__") or node.attr in NAMEDTUPLE_API:
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue  # the class's own private state
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} reads .{node.attr}")
    assert not found, found


def test_conformance_reaches_the_mock_only_through_its_harness():
    found = {}
    for path in _modules():
        mock_modules = {m for m in _imported_modules(_tree(path)) if m.startswith("mockserver.")}
        unexpected = mock_modules - HARNESS
        if unexpected:
            found[str(path.relative_to(ROOT))] = sorted(unexpected)
    assert not found, found


def test_no_private_name_is_imported_across_modules():
    found = []
    for path in _modules():
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom):
                private = [a.name for a in node.names if a.name.startswith("_")]
                if [name for name in private if not name.startswith("__")]:
                    found.append(f"{path.relative_to(ROOT)}: from {'.' * node.level}{node.module} {private}")
    assert not found, found


def test_helper_modules_of_the_checks_define_no_check():
    # pytest collects every function named check_* in conformance/checks (checks/pytest.ini).
    helper_names = ("kit.py", "common.py", "conftest.py")
    helpers = [p for p in (CONFORMANCE / "checks").rglob("*.py") if p.name in helper_names]
    assert len(helpers) >= 5
    for path in helpers:
        names = [n.name for n in _tree(path).body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        assert not [n for n in names if n.startswith("check_")], path


def test_every_check_is_marked_with_its_rules():
    unmarked = []
    for path in (CONFORMANCE / "checks").rglob("*.py"):
        for node in _tree(path).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("check_"):
                marks = [ast.unparse(d) for d in node.decorator_list]
                if not any(m.startswith("pytest.mark.rule(") for m in marks):
                    unmarked.append(f"{path.relative_to(ROOT)}::{node.name}")
    assert not unmarked, unmarked


def test_the_door_names_the_versions_it_was_tested_with_and_what_to_do():
    check_versions()  # the installed ones are supported
    with pytest.raises(UnsupportedLibraryVersion) as raised:
        check_versions({"pytest": ((1, 0), (1, 1))})
    message = str(raised.value)
    assert "pytest 9." in message and "pytest>=1.0,<1.1" in message, message
    assert "pip install image-api-contracts" in message, message


def test_the_pins_match_what_the_door_supports():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for name, (low, high) in TESTED.items():
        pin = f'"{name}>={low[0]}.{low[1]},<{high[0]}' + (f".{high[1]}" if high[1] else "") + '"'
        assert pin in pyproject, pin
