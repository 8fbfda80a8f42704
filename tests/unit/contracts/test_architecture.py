"""The boundaries of the code, read from its ``ast``: who may import whom, where library internals may be
touched, and how large a module may grow. docs/development.md ("Layout") explains each rule.

Each clause is parametrised over the packages it covers; a package joins a clause by adding it to the list.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from mockserver import connexion_ext

ROOT = Path(__file__).resolve().parents[3]
MAX_MODULE_LINES = 600
LIBRARIES_BEHIND_THE_DOOR = ("connexion", "starlette", "python_multipart", "multipart", "uvicorn")
DOOR = "mockserver.connexion_ext"
# conformance may start the mock for its pytest plugin, and nothing else of it.
CONFORMANCE_MAY_IMPORT = frozenset({"mockserver.testing"})


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (for ``from m import name``: m, and m.name when that is a module)
    names: tuple[str, ...]  # the names a ``from`` import takes (empty for ``import m``)
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(package: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


ALL_MODULES = {
    name: path
    for package in ("image_api_contracts", "mockserver", "conformance")
    for name, path in _modules(package).items()
}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Lines under ``if TYPE_CHECKING:``: annotations only, never run."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(module: str) -> list[Import]:
    """Every import ``module`` runs, at the top or inside a function (``TYPE_CHECKING`` ones aside)."""
    path = ALL_MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_lines(tree)
    found = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, (), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path, node)
            names = tuple(alias.name for alias in node.names)
            submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in ALL_MODULES]
            if len(submodules) < len(names):  # a name defined in the package itself, not only its modules
                found.append(Import(module, target, names, node.lineno))
            found += [Import(module, sub, (), node.lineno) for sub in submodules]
    return found


def _in(target: str, package: str) -> bool:
    return target == package or target.startswith(package + ".")


def _where(imp: Import) -> str:
    return f"{ALL_MODULES[imp.module].relative_to(ROOT)}:{imp.line} imports {imp.target}"


# -- who may import whom ------------------------------------------------------------------------------


def test_the_shared_layer_imports_only_the_standard_library_and_yaml():
    allowed = set(sys.stdlib_module_names) | {"yaml", "image_api_contracts", "__future__"}
    wrong = [
        _where(i)
        for m in _modules("image_api_contracts")
        for i in imports_of(m)
        if i.target.split(".")[0] not in allowed
    ]
    assert not wrong, "\n".join(wrong)


def test_the_mock_never_imports_the_suite():
    wrong = [_where(i) for m in _modules("mockserver") for i in imports_of(m) if _in(i.target, "conformance")]
    assert not wrong, "\n".join(wrong)


def test_the_suite_imports_of_the_mock_only_its_test_harness():
    wrong = [
        _where(i)
        for m in _modules("conformance")
        for i in imports_of(m)
        if _in(i.target, "mockserver") and i.target not in CONFORMANCE_MAY_IMPORT
    ]
    assert not wrong, "\n".join(wrong)


def _cycle(package: str) -> list[str] | None:
    modules = _modules(package)
    graph = {
        m: sorted({i.target for i in imports_of(m) if i.target in modules and i.target != m}) for m in modules
    }
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in graph:
        if start not in state and (found := visit(start)):
            return found
    return None


@pytest.mark.parametrize("package", ["image_api_contracts", "mockserver"])
def test_no_import_cycle(package):
    cycle = _cycle(package)
    assert cycle is None, " -> ".join(cycle or [])


@pytest.mark.parametrize("package", ["image_api_contracts", "mockserver"])
def test_no_private_name_is_imported_from_another_project_module(package):
    project = ("image_api_contracts", "mockserver", "conformance")
    wrong = [
        f"{_where(i)}: {name}"
        for m in _modules(package)
        for i in imports_of(m)
        if i.target.split(".")[0] in project
        for name in i.names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert not wrong, "\n".join(wrong)


# -- library internals behind one door ----------------------------------------------------------------


def _library_names(tree: ast.AST) -> set[str]:
    """The names a module binds to the door's libraries or to things imported from them."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {
                (a.asname or a.name).split(".")[0]
                for a in node.names
                if a.name.split(".")[0] in LIBRARIES_BEHIND_THE_DOOR
            }
        elif (
            isinstance(node, ast.ImportFrom)
            and (node.module or "").split(".")[0] in LIBRARIES_BEHIND_THE_DOOR
        ):
            names |= {a.asname or a.name for a in node.names}
    return names


def internals_touched(module: str) -> list[str]:
    """Where ``module`` subclasses a library class, imports a private library name, or reads a private
    attribute of anything but itself (``self._x``, ``cls._x``)."""
    path = ALL_MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    library = _library_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                root = ast.unparse(base).split(".")[0]
                if root in library:
                    found.append(
                        f"{path.name}:{node.lineno} class {node.name} subclasses {ast.unparse(base)}"
                    )
        elif (
            isinstance(node, ast.ImportFrom)
            and (node.module or "").split(".")[0] in LIBRARIES_BEHIND_THE_DOOR
        ):
            found += [
                f"{path.name}:{node.lineno} imports {node.module}.{a.name}"
                for a in node.names
                if a.name.startswith("_") and not a.name.startswith("__")
            ]
        elif (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            found.append(f"{path.name}:{node.lineno} reads {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("package", ["image_api_contracts", "mockserver"])
def test_only_the_door_touches_library_internals(package):
    wrong = [where for m in _modules(package) if not _in(m, DOOR) for where in internals_touched(m)]
    assert not wrong, "outside mockserver/connexion_ext:\n" + "\n".join(wrong)


def test_the_door_is_where_the_internals_are():
    """The clause above is not vacuous: the door does touch them."""
    assert any(internals_touched(m) for m in _modules("mockserver") if _in(m, DOOR))


def test_the_door_refuses_untested_versions_and_names_the_supported_ones():
    assert connexion_ext.untested_versions() == []  # what is installed here is what was tested
    problems = connexion_ext.untested_versions(
        {"connexion": "4.0.0", "starlette": "1.10.3", "python-multipart": None, "uvicorn": "0.56.0"}
    )
    assert problems == [
        "connexion 4.0.0: supported >=3.3.0,<3.4",
        "python-multipart (not installed): supported >=0.0.20,<0.1",
        "uvicorn 0.56.0: supported >=0.55.0,<0.56",
    ]


def test_the_door_override_warns_instead(monkeypatch):
    monkeypatch.setattr(connexion_ext, "untested_versions", lambda: ["connexion 9: supported >=3.3.0,<3.4"])
    with pytest.raises(connexion_ext.UnsupportedLibraryVersion, match=connexion_ext.OVERRIDE):
        connexion_ext.check_versions()
    monkeypatch.setenv(connexion_ext.OVERRIDE, "1")
    with pytest.warns(RuntimeWarning, match="connexion 9"):
        connexion_ext.check_versions()


def test_the_pins_are_the_versions_the_door_supports():
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for name, (lowest, first_untested) in connexion_ext.TESTED.items():
        pinned = [d for d in dependencies if d.split("[")[0].split(">")[0].strip() == name]
        assert pinned, f"pyproject.toml does not pin {name}"
        assert pinned[0].endswith(f">={lowest},<{first_untested}"), pinned[0]


# -- size ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("package", ["image_api_contracts", "mockserver"])
def test_no_module_is_over_the_size_limit(package):
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in _modules(package).items()}
    over = {m: n for m, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not over, f"over {MAX_MODULE_LINES} lines: {over}"


# -- words ----------------------------------------------------------------------------------------------

TRACKER_REFERENCE = re.compile(r"\b[Ii]ssue \d+\b")
# Records of past runs keep the words they were written with.
RECORDS = ("benchmarks/results/",)


def test_code_specs_tests_and_docs_speak_of_the_project_not_of_the_tracker():
    """A reader of the repository cannot open a tracker's item: say what the code keeps true instead."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    found = []
    for name in tracked.stdout.split():
        if not name.endswith((".py", ".md", ".yaml", ".toml", ".ini")) or name.startswith(RECORDS):
            continue
        path = ROOT / name
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if TRACKER_REFERENCE.search(line):
                found.append(f"{name}:{number}: {line.strip()[:90]}")
    assert not found, "\n".join(found)
