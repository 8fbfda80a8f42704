"""A sixth API touches only its own files plus one registration line (docs/development.md, "Adding an API").

The repository's tracked files are copied into a temporary tree and committed there; a small but real toy
API (``tests/support/toy_api/``: things with a name and a base64 image) is added as its own files plus one
``ApiProfile`` line in ``image_api_contracts/profiles.py``. Git then lists exactly what the toy added, and the
tree, imported ahead of the installed checkout, serves it, judges it and proves the suite's power on it: so
nothing else in the product lists the APIs by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.mock_process import MockProcess
from support.source_documents import BEHAVIOURS, ROOT, SEEDS_DIR, SOURCES_ENV

TOY_SOURCES = ROOT / "tests" / "support" / "toy_api"
# The toy's own files: where each goes in the tree.
TOY_FILES = {
    "spec.yaml": "specs/toy.yaml",
    "rules.yaml": "conformance/rules/toy.yaml",
    "handler.py": "mockserver/apis/toy.py",
    "seed_data.json": "fixtures/seed/toy.json",
    "checks.py": "conformance/checks/toy.py",
    "mock_tests.py": "tests/unit/mockserver/apis/test_toy.py",
    "mutants.py": "tests/power/mutants/toy.py",
    "variants.py": "tests/power/variants/toy.py",
}
TOY_SEED_DOCUMENT = "seed_document.txt"  # another party's text, as the seeds are: kept beside the tree
PROFILES = "image_api_contracts/profiles.py"
REGISTRATION = " " * 8 + (  # the one line, indented as the tuple's entries are
    'ApiProfile("toy", "toy.txt", "toy:ToyApi", error_body=lambda status, message: {"error": message}),\n'
)
END_OF_APIS = "    )\n}\n"  # the tuple of profiles closes here


def git(tree: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=tree, check=True, capture_output=True, text=True).stdout


def copy_tracked_files(tree: Path) -> None:
    """The checkout's tracked files as they are now, committed in a repository of their own."""
    listed = git(ROOT, "ls-files", "-z").split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the checkout stays deleted
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / name, follow_symlinks=False)
    git(tree, "init", "-q")
    git(tree, "add", "-A")
    identity = ["-c", "user.name=toy", "-c", "user.email=toy@example.invalid", "-c", "commit.gpgsign=false"]
    git(tree, *identity, "commit", "-qm", "the checkout")


def add_the_toy(tree: Path) -> None:
    for template, target in TOY_FILES.items():
        shutil.copyfile(TOY_SOURCES / template, tree / target)
    profiles = tree / PROFILES
    text = profiles.read_text(encoding="utf-8")
    assert text.count(END_OF_APIS) == 1, f"{PROFILES}: the end of the APIS tuple is no longer {END_OF_APIS!r}"
    profiles.write_text(text.replace(END_OF_APIS, REGISTRATION + END_OF_APIS), encoding="utf-8")


def sources_with_the_toy(directory: Path) -> Path | None:
    """The source documents plus the toy's seed, so the catalogue's quotes of it are checked too; None
    when the documents are absent (those checks are then skipped in the tree, as in a fresh clone)."""
    if SEEDS_DIR is None:
        return None
    (directory / "seeds").mkdir(parents=True)
    for seed in SEEDS_DIR.glob("*.txt"):
        (directory / "seeds" / seed.name).symlink_to(seed)
    shutil.copyfile(TOY_SOURCES / TOY_SEED_DOCUMENT, directory / "seeds" / "toy.txt")
    (directory / "BEHAVIOURS.md").symlink_to(BEHAVIOURS)
    return directory


@dataclass(frozen=True)
class ToyTree:
    root: Path
    status: list[str]  # ``git status --porcelain`` just after the toy was added, before anything ran there
    profiles_diff: list[str]  # the lines ``git diff`` of profiles.py adds or removes


@pytest.fixture(scope="module")
def toy_tree(tmp_path_factory) -> ToyTree:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout to copy")
    tree = tmp_path_factory.mktemp("with-toy") / "repo"
    tree.mkdir()
    copy_tracked_files(tree)
    add_the_toy(tree)
    status = git(tree, "status", "--porcelain", "--untracked-files=all").splitlines()
    diff = git(tree, "diff", "--unified=0", PROFILES).splitlines()
    changed = [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    return ToyTree(tree, status, changed)


@pytest.fixture(scope="module")
def tree_env(toy_tree, tmp_path_factory):
    """The environment every process in the tree runs with: the tree's packages first on the path."""
    env = {k: v for k, v in os.environ.items() if k not in (SOURCES_ENV, "PYTHONPATH")}
    env["PYTHONPATH"] = str(toy_tree.root)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    sources = sources_with_the_toy(tmp_path_factory.mktemp("sources"))
    if sources is not None:
        env[SOURCES_ENV] = str(sources)
    return env


def run_in(directory: Path, env: dict, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python ARGS`` run from ``directory``."""
    return subprocess.run(
        [sys.executable, *args], cwd=directory, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_the_toy_adds_only_its_own_files_and_one_registration_line(toy_tree):
    added = [f"?? {path}" for path in TOY_FILES.values()]
    assert sorted(toy_tree.status) == sorted([*added, f" M {PROFILES}"])
    assert toy_tree.profiles_diff == ["+" + REGISTRATION.rstrip("\n")]


def test_the_tree_imports_its_own_packages(toy_tree, tree_env):
    shown = run_in(
        toy_tree.root,
        tree_env,
        "-c",
        "import conformance, image_api_contracts, mockserver;"
        "print(mockserver.__file__, conformance.__file__, image_api_contracts.__file__, sep='\\n');"
        "print(sorted(image_api_contracts.APIS))",
    )
    assert shown.returncode == 0, shown.stderr
    *files, apis = shown.stdout.splitlines()
    for file in files:
        assert Path(file).resolve().is_relative_to(toy_tree.root.resolve()), file
    assert "'toy'" in apis


def test_the_catalogue_the_specs_the_boundaries_and_the_toys_mock_tests_pass(toy_tree, tree_env):
    run = run_in(
        toy_tree.root,
        tree_env,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-rA",
        "tests/unit/contracts/test_rules.py",
        "tests/unit/contracts/test_specs.py",
        "tests/unit/contracts/test_architecture.py",
        TOY_FILES["mock_tests.py"],
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    passed = {line.split("::")[-1] for line in run.stdout.splitlines() if line.startswith("PASSED ")}
    toys = {
        "test_mock_reference_resolves[TOY-01]",
        "test_every_rule_has_a_test_named_after_it[TOY-02]",
        "test_every_rule_has_a_conformance_check[TOY-01]",
        "test_spec_is_valid_openapi_303[toy]",
        "test_spec_loads_in_connexion[toy]",
        "test_toy01_a_thing_is_stored_with_its_name_and_size",
        "test_toy02_the_seed_data_is_listed",
        "test_toy01_served_beside_every_other_api_and_shown_in_the_dashboard",
    }
    assert toys <= passed, sorted(toys - passed)
    summary = run.stdout.strip().splitlines()[-1]
    if SEEDS_DIR is not None:  # the toy's quotes and seed operations were checked against its document
        assert "skipped" not in summary, run.stdout[-3000:]
        assert {
            "test_evidence_is_quoted_verbatim_from_its_source[TOY-01]",
            "test_every_seed_operation_is_in_the_spec[toy]",
        } <= passed


def test_the_conformance_command_passes_the_toy_served_by_the_mock(toy_tree, tree_env, tmp_path, monkeypatch):
    for name, value in tree_env.items():
        monkeypatch.setenv(name, value)  # MockProcess starts its process with this process' environment
    mock = MockProcess("--api", "toy", log_dir=tmp_path, cwd=toy_tree.root)
    try:
        report_path = tmp_path / "report.json"
        run = run_in(
            toy_tree.root,
            tree_env,
            "-m",
            "conformance",
            "--api",
            "toy",
            "--base-url",
            mock.url,
            "--report",
            str(report_path),
            "--bodies-dir",
            str(tmp_path / "bodies"),
        )
    finally:
        mock.stop()
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    verdicts = {rule["id"]: rule["status"] for rule in json.loads(report_path.read_text())["rules"]}
    assert verdicts["TOY-01"] == "pass" and verdicts["TOY-02"] == "pass", verdicts
    every_api = {rule_id: status for rule_id, status in verdicts.items() if rule_id.startswith("ALL-")}
    assert len(every_api) >= 6 and set(every_api.values()) == {"pass"}, every_api


def test_the_toys_broken_variant_fails_its_own_rule_alone_and_its_legal_one_only_warns(toy_tree, tree_env):
    run = run_in(
        toy_tree.root,
        tree_env,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-rA",
        "tests/power/test_conformance_power.py",
        "tests/power/test_conformance_variants.py",
        "-k",
        "toy",
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    passed = {line.split("::")[-1] for line in run.stdout.splitlines() if line.startswith("PASSED ")}
    assert passed == {
        "test_the_suite_passes_against_the_mock[toy]",
        "test_each_broken_variant_fails_its_own_rule_and_no_other[toy-size-of-the-base64-text]",
        "test_each_legal_variant_passes_and_warns_on_its_rule[toy-trace-501]",
    }, run.stdout[-3000:]


def test_a_project_that_installed_us_checks_the_toy_with_the_pytest_plugin(tree_env, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # its own root, not the tree's
    run = run_in(
        project,
        tree_env,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--contract-api",
        "toy",
        "--contract-base-url",
        "mock",
        "--contract-max-examples",
        "3",
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "conformance verdicts: toy" in run.stdout and "  PASS TOY-01 " in run.stdout, run.stdout[-3000:]
