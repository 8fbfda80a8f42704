"""The README's and the docs' promises: every command they show works as written, and what they say matches
the code.

Each ``sh`` block of ``README.md`` and of every page in ``docs/`` is run for real (servers on free ports,
commands with ``bash -euo pipefail`` from a directory that stands for the repository root), or names the test
that runs it; see ``readme_commands`` for the conventions. A command runs against the latest server block
above it in the same page. The ``python`` snippets of every page run as the tests of an empty project.
"""

from __future__ import annotations

import ast
import configparser
import re
import shlex
import subprocess
import sys

import httpx
import pytest
from support.readme_commands import (
    BackgroundServer,
    ShBlock,
    code_blocks,
    missing_from_output,
    run_block,
    sh_blocks,
)
from support.source_documents import ROOT

from image_api_contracts import APIS, devtokens

README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = sh_blocks(README)
README_LINES_AT_MOST = 150  # a front door: the depth lives in docs/
PAGES = {"README": README} | {
    f"docs/{path.stem}": path.read_text(encoding="utf-8") for path in sorted((ROOT / "docs").glob("*.md"))
}
PAGE_BLOCKS = [(page, block) for page, text in PAGES.items() for block in sh_blocks(text)]
RUN = [(page, b) for page, b in PAGE_BLOCKS if b.exercised_by is None]
MARKED = [(page, b) for page, b in PAGE_BLOCKS if b.exercised_by is not None]


def _id(item) -> str:
    page, block = item
    return f"{page}-{block.id}"


def test_ci_runs_exactly_the_readme_test_command():
    test_command = BLOCKS[1].text.strip()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines
    assert ci_lines[-1] == test_command
    assert "pytest" in test_command


def test_setup_is_install_and_serve_then_install_and_test():
    assert BLOCKS[0].command == 'python3 -m pip install -e ".[dev]" && python3 -m mockserver'
    assert BLOCKS[1].command == 'python3 -m pip install -e ".[dev]" && python3 -m pytest'


def test_the_dev_tokens_shown_are_the_ones_the_code_makes():
    page = PAGES["docs/mock"]
    assert f"Bearer {devtokens.image_upload_token()}`" in page
    assert f'Token token="{devtokens.sharinpix_token()}"`' in page
    assert devtokens.EVOTOR_TOKEN in page


def test_the_pages_run_commands_and_servers():
    """Guards the parsing: the pages show servers and client commands, and mark only a few blocks."""
    assert sum(b.starts_server for _, b in RUN) >= 5
    assert sum(not b.starts_server for _, b in RUN) >= 8
    assert len(MARKED) <= len(RUN)


def test_the_readme_is_a_front_door_with_a_table_of_contents_into_every_page():
    assert README.count("\n") <= README_LINES_AT_MOST
    linked = set(re.findall(r"\]\((docs/[\w-]+\.md)\)", README))
    assert linked == {f"{page}.md" for page in PAGES if page.startswith("docs/")}
    for use in ("mockserver", "conformance", "contract_mock"):  # the three uses, each with an example
        assert re.search(rf"```(sh|python)\n[^`]*{use}", README), use


@pytest.mark.parametrize("item", MARKED, ids=lambda i: f"{_id(i)}-{i[1].exercised_by.rpartition('::')[2]}")
def test_a_marked_block_names_a_test_that_exists_and_runs_its_command(item):
    page, block = item
    block_id = f"{page} {block.id}"
    path, sep, name = block.exercised_by.partition("::")
    assert sep and name, f"{block_id}: exercised-by must be tests/<file>.py::<test>, got {block.exercised_by}"
    test_file = ROOT / path
    assert test_file.is_file(), f"{block_id}: {path} does not exist"
    source = test_file.read_text(encoding="utf-8")
    defined = {
        node.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    assert name in defined, f"{block_id}: {path} defines no {name}"
    key = block.key or block.command
    assert key in source, f"{block_id}: {path} never mentions {key!r}, so it cannot be running `{block.text}`"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """Where the README's commands run: a scratch directory seen as the repository root."""
    directory = tmp_path_factory.mktemp("readme")
    for name in ("fixtures", "specs", "examples"):
        (directory / name).symlink_to(ROOT / name, target_is_directory=True)
    return directory


class Servers:
    """At most one README server at a time: the latest server block above the command being run."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.current: BackgroundServer | None = None

    def ensure(self, block: ShBlock | None) -> BackgroundServer | None:
        command = block.text.strip() if block else None
        if self.current is not None and self.current.command != command:
            self.stop()
        if command is not None and self.current is None:
            self.current = BackgroundServer(command, self.workdir, self.workdir / f"server-{block.id}.log")
        return self.current

    def stop(self) -> None:
        if self.current is not None:
            self.current.stop()
            self.current = None


@pytest.fixture(scope="module")
def servers(workdir):
    s = Servers(workdir)
    yield s
    s.stop()


def _server_for(page: str, block: ShBlock) -> ShBlock | None:
    above = [b for p, b in RUN if p == page and b.starts_server and b.line <= block.line]
    return above[-1] if above else None


@pytest.mark.parametrize("item", RUN, ids=_id)
def test_a_block_runs_as_written(item, servers, workdir):
    page, block = item
    server = servers.ensure(_server_for(page, block))
    if block.starts_server:
        assert server is not None and server.proc.poll() is None
        return
    result = run_block(block, workdir, port=server.port if server else 8000)
    shown = (
        f"\n--- {page}, block {block.id}:\n{block.text}"
        f"\n--- stdout:\n{result.stdout[-4000:]}\n--- stderr:\n{result.stderr[-4000:]}"
    )
    assert result.returncode == 0, shown
    if block.output is not None:
        assert missing_from_output(block.output, result.stdout) == [], shown


def test_setup_command_serves_all_five_apis_with_swagger_ui(tmp_path):
    """The set-up's serve command (`python3 -m mockserver`, run by this test's Python): the index and each
    API's UI."""
    serve = BLOCKS[0].command.partition(" && ")[2]
    assert serve.startswith("python3 ")
    command = shlex.quote(sys.executable) + serve.removeprefix("python3") + " --port $PORT"
    server = BackgroundServer(command, ROOT, tmp_path / "mockserver.log")
    try:
        index = httpx.get(server.url + "/", timeout=10).text
        for name, info in APIS.items():
            base = server.url + info.base_path(True)
            assert f'href="{info.base_path(True)}/ui/"' in index
            ui = httpx.get(base + "/ui/", timeout=10)
            assert ui.status_code == 200 and "swagger-ui" in ui.text.lower(), name
            assert httpx.get(base + "/openapi.json", timeout=10).json()["info"]["title"]
    finally:
        server.stop()


def test_python_snippets_pass_as_tests_of_a_project_that_installed_us(tmp_path):
    """The plugin snippets, saved as test files in an empty project, pass with the installed plugin."""
    snippets = [snippet for text in PAGES.values() for snippet in code_blocks(text, "python")]
    assert snippets
    for i, snippet in enumerate(snippets):
        (tmp_path / f"test_readme_snippet_{i}.py").write_text(snippet, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\b[1-9]\d* passed", result.stdout), result.stdout[-2000:]


def test_ruff_check_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_tox_envs_are_the_commands_the_tests_run():
    """tox is optional; its environments must run what the README says, which the tests above cover."""
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    shown = {env for text in PAGES.values() for env in re.findall(r"^tox -e (\w+)", text, re.M)}
    assert shown <= {s.removeprefix("testenv:") for s in tox.sections()}
    assert {"py311", "lint"} <= set(tox["tox"]["envlist"].replace(",", " ").split())
    assert tox["testenv"]["commands"].split()[0] == "pytest"
    assert tox["testenv:lint"]["commands"].strip() == "ruff check ."
    assert tox["testenv:serve"]["commands"].split()[0] == "mockserver"
    assert "client-project" in " ".join(tox["testenv:example"].values())


def _prose(text: str) -> str:
    """A page without its code blocks: what it says in passing must be true too."""
    return re.sub(r"```.*?```", "", text, flags=re.S)


def _anchors(text: str) -> set[str]:
    """GitHub's anchors of a page's headings."""
    return {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.*)$", _prose(text), re.M)
    }


@pytest.mark.parametrize("page", sorted(PAGES))
def test_relative_links_point_at_files_and_headings_that_exist(page):
    here = (ROOT / page).parent
    links = re.findall(r"\]\(([^)#:]*)(?:#([^)]*))?\)", _prose(PAGES[page]))
    assert page == "README" or ("../README.md", "") in links  # every page leads back to the front door
    missing = [f for f, _ in links if f and not (here / f).exists()]
    assert missing == []
    by_path = {(ROOT / p).with_suffix(".md").resolve(): text for p, text in PAGES.items()}
    for target, anchor in links:
        if anchor:
            text = by_path.get((here / target).resolve()) if target else PAGES[page]
            assert text is not None and anchor in _anchors(text), f"{page}: {target}#{anchor}"


def test_every_option_the_readme_names_exists():
    from conformance.cli import build_parser as conformance_parser
    from mockserver.cli import build_parser as mockserver_parser

    parsers = (mockserver_parser(), conformance_parser())
    known = {option for p in parsers for action in p._actions for option in action.option_strings}
    plugin = ROOT / "conformance" / "installed_plugin.py"  # the --contract-* options, declared as literals
    if plugin.exists():
        known |= set(re.findall(r'"(--contract-[a-z-]+)"', plugin.read_text(encoding="utf-8")))
    named = {o for text in PAGES.values() for o in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", _prose(text))}
    assert named - known == set()


def test_a_marker_binds_only_the_block_right_below_it_and_text_right_after_is_its_output():
    blocks = sh_blocks(
        "<!-- exercised-by: tests/test_a.py::test_b key: run.py -->\n```sh\npython run.py\n```\n\n"
        "Then:\n\n```sh\nmockserver --port ${PORT:-8000}   # serve\n```\n\n```text\nready\n```\n\n"
        "<!-- exercised-by: tests/test_a.py::test_c -->\n\nprose\n\n```sh\necho hi\n```\n"
    )
    assert [(b.exercised_by, b.key, b.output) for b in blocks] == [
        ("tests/test_a.py::test_b", "run.py", None),
        (None, None, "ready\n"),
        (None, None, None),
    ]
    assert [b.starts_server for b in blocks] == [False, True, False]
    assert blocks[1].command == "mockserver --port ${PORT:-8000}"


def test_an_excerpt_matches_in_order_whatever_the_whitespace_but_not_other_text():
    printed = '{"a":1,"b":[2]}\nidentical\n204\n'
    assert missing_from_output('{"a": 1, "b": […]}\n…\n204\n', printed) == []
    assert missing_from_output("204\nidentical\n", printed) == ["identical"]
    assert missing_from_output('{"a": 2, …}\n', printed) == ['{"a": 2, …}']
