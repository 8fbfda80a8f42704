"""The conformance checks as ordinary test items of another project's pytest session.

``pytest --contract-api evotor --contract-base-url URL`` (see ``conformance.installed_plugin``) registers
:class:`HostedConformance`: it adds the checks of ``conformance/checks/`` for that API to the session's
items, names each item after its rules (``check_evt04_…[EVT-04]``), keeps the rule bookkeeping in the
same ``ConformancePlugin`` the ``conformance`` CLI uses, and prints the verdict per rule at the end.

The checks are collected under their own rules, whatever the host's ini says: their files and functions
whatever ``python_files``/``python_functions`` are, their fixtures visible to them only, and the warning
filters of ``checks/pytest.ini`` on top of the host's (a host's ``filterwarnings = error`` must not fail
a check on a library's deprecation warning).
"""

from __future__ import annotations

import configparser
import importlib
import time
from pathlib import Path

import pytest

from .cli import parse_values
from .library_internals.pytest_parts import register_fixtures
from .report import build_report
from .rule_plugin import CHECKS_DIR, CheckModule, ConformancePlugin, rule_ids_of
from .target import API_NAMES, Target, UsageError


def _check_warning_filters() -> list[str]:
    """The checks' own ``filterwarnings`` (checks/pytest.ini), after a reset to Python's default."""
    ini = configparser.ConfigParser()
    ini.read(CHECKS_DIR / "pytest.ini", encoding="utf-8")
    own = [line.strip() for line in ini.get("pytest", "filterwarnings", fallback="").splitlines()]
    return ["default", *(line for line in own if line)]


class ConformanceChecks(pytest.Directory):
    """``conformance/checks/``: the schema layer and the API's behaviour checks, with their fixtures."""

    def __init__(self, *, api: str, **kwargs):
        super().__init__(**kwargs)
        self.api = api

    def collect(self):
        # The checks' conftests are outside the host's confcutdir, so pytest would not load them: their
        # fixtures (target, http, ...) are registered here, visible to the checks alone.
        register_fixtures(self, importlib.import_module("conformance.checks.conftest"))
        files = check_files(self.path, self.api)
        for package in dict.fromkeys(f.parent for f in files if f.parent.name):
            if (self.path / package / "conftest.py").exists():
                conftest = importlib.import_module(f"conformance.checks.{'.'.join(package.parts)}.conftest")
                register_fixtures(self, conftest)
        for relative in files:
            yield HostedCheckModule.from_parent(
                self, path=self.path / relative, nodeid=f"{self.nodeid}/{relative.as_posix()}"
            )


HELPER_MODULES = {"__init__.py", "conftest.py", "kit.py", "common.py"}


def check_files(checks_dir: Path, api: str) -> list[Path]:
    """The check modules an API's run collects, relative to ``checks_dir``, in the order they run: the
    schema layer, then the API's own (a module, or a package of modules), then the checks every API shares
    (e.g. read-back); never another API's."""
    own_name = api.replace("-", "_")
    others = {name.replace("-", "_") for name in API_NAMES} - {own_name}
    own = checks_dir / own_name
    if own.is_dir():
        own_files = sorted(
            p.relative_to(checks_dir) for p in own.glob("*.py") if p.name not in HELPER_MODULES
        )
    else:
        own_files = [Path(own_name + ".py")]
    shared = sorted(
        Path(p.name)
        for p in checks_dir.glob("*.py")
        if p.name not in HELPER_MODULES and p.stem not in others | {own_name}
    )
    return list(dict.fromkeys([Path("schema_layer.py"), *own_files, *shared]))


class HostedCheckModule(CheckModule):
    """A check module, collected by the checks' naming whatever the host's python_functions says."""

    def funcnamefilter(self, name: str) -> bool:
        return name.startswith("check_")

    def classnamefilter(self, name: str) -> bool:
        return False  # no class is a check: the state machines run through check functions


class HostedConformance:
    NAME = "image-api-contracts-conformance"

    def __init__(self, target: Target, mock=None):
        self.target = target
        self.mock = mock  # a BackgroundMock when --contract-base-url is "mock"
        self.rules = ConformancePlugin(target)
        self._started = time.perf_counter()
        self._collector: ConformanceChecks | None = None

    @classmethod
    def from_options(cls, config: pytest.Config) -> HostedConformance:
        api, base_url = config.getoption("contract_api"), config.getoption("contract_base_url")
        options = {
            "token": config.getoption("contract_token"),
            "seed": config.getoption("contract_seed"),
            "max_examples": config.getoption("contract_max_examples"),
            "strict": config.getoption("contract_strict"),
            "read_only": config.getoption("contract_read_only"),
        }
        try:
            if options["max_examples"] < 1:
                raise UsageError("--max-examples must be at least 1")  # named --contract-… below
            values = parse_values(config.getoption("contract_set"))
            if base_url != "mock":
                return cls(Target(api=api, base_url=base_url, values=values, **options))
            from mockserver.testing import BackgroundMock

            mock = BackgroundMock(api=api).start()
            try:
                return cls(Target(api=api, base_url=mock.base_url(), values=values, **options), mock)
            except UsageError:
                mock.stop()
                raise
        except UsageError as exc:
            raise pytest.UsageError(str(exc).replace("--", "--contract-")) from exc

    # -- session ---------------------------------------------------------------------------------------
    def pytest_configure(self, config: pytest.Config) -> None:
        config.pluginmanager.register(self.rules, self.NAME + "-rules")
        if self.target.seed is not None and getattr(config.option, "hypothesis_seed", 0) is None:
            config.option.hypothesis_seed = self.target.seed  # what the CLI passes as --hypothesis-seed

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.mock is not None:
            self.mock.stop()

    def pytest_report_header(self, config: pytest.Config) -> str:
        t = self.target
        where = f"{t.base_url} (our mock)" if self.mock is not None else t.base_url
        return (
            f"conformance: {t.api} @ {where}, max examples {t.max_examples}, seed {t.seed}"
            + (", strict" if t.strict else "")
            + (", read-only" if t.read_only else "")
        )

    # -- collection ------------------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)  # before -k/-m deselection and the rule plugin's API filter
    def pytest_collection_modifyitems(self, session: pytest.Session, config, items) -> None:
        self._collector = ConformanceChecks.from_parent(
            session, path=CHECKS_DIR, nodeid="image-api-contracts", api=self.target.api
        )
        checks = list(session.genitems(self._collector))
        filters = [pytest.mark.filterwarnings(f) for f in _check_warning_filters()]
        for item in checks:
            for mark in filters:
                item.add_marker(mark)
        items.extend(checks)

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """The rule IDs join each check's id (``[EVT-04]``, ``[EVT-01-upload]``) through its ``target``
        fixture, parametrized directly with the one target: the checks run unchanged."""
        if not self._owns(metafunc.definition) or "target" not in metafunc.fixturenames:
            return
        rule_ids = rule_ids_of(metafunc.definition)
        if rule_ids:
            metafunc.parametrize("target", [self.target], ids=["+".join(rule_ids)], scope="session")

    def _owns(self, node) -> bool:
        return self._collector is not None and self._collector in node.listchain()

    # -- verdicts --------------------------------------------------------------------------------------
    def pytest_terminal_summary(self, terminalreporter) -> None:
        report = build_report(self.target, self.rules.results, time.perf_counter() - self._started)
        terminalreporter.section(f"conformance verdicts: {self.target.api}")
        for line in report.summary_lines():
            terminalreporter.line(line)
