"""The conformance checks as ordinary test items of another project's pytest session.

``pytest --contract-api evotor --contract-base-url URL`` (see ``conformance.pytest_plugin``) registers
:class:`HostedConformance`: it adds the checks of ``conformance/checks/`` for that API to the session's
items, names each item after its rules (``test_evt04_…[EVT-04]``), keeps the rule bookkeeping in the
same ``ConformancePlugin`` the ``conformance`` CLI uses, and prints the verdict per rule at the end.

The checks are collected under their own rules, whatever the host's ini says: their files and functions
whatever ``python_files``/``python_functions`` are, their fixtures visible to them only, and the warning
filters of ``checks/pytest.ini`` on top of the host's (a host's ``filterwarnings = error`` must not fail
a check on a library's deprecation warning).
"""

from __future__ import annotations

import configparser
import importlib
import sys
import time
from pathlib import Path

import pytest

from .cli import _values as parse_values
from .plugin import ConformancePlugin, rule_ids_of
from .report import build_report
from .target import API_NAMES, Target, UsageError

CHECKS_DIR = Path(__file__).resolve().parent / "checks"


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
        # The checks' conftest is outside the host's confcutdir, so pytest would not load it: its
        # fixtures (target, http, ...) are registered here, visible to the checks alone.
        # The check modules read the target at import time: import them afresh (as conformance.runner does).
        for name in [m for m in sys.modules if m.startswith("conformance.checks.test_")]:
            del sys.modules[name]
        conftest = importlib.import_module("conformance.checks.conftest")
        self.session._fixturemanager.parsefactories(holder=conftest, node=self)
        module_name = "test_" + self.api.replace("-", "_") + ".py"
        others = {"test_" + api.replace("-", "_") + ".py" for api in API_NAMES} - {module_name}
        shared = sorted(p.name for p in self.path.glob("test_*.py") if p.name not in others)  # e.g. read-back
        for name in dict.fromkeys(["test_schema.py", module_name, *shared]):
            yield CheckModule.from_parent(self, path=self.path / name, nodeid=f"{self.nodeid}/{name}")


class CheckModule(pytest.Module):
    """A check module, collected by the checks' naming whatever the host's python_functions says."""

    def funcnamefilter(self, name: str) -> bool:
        return name.startswith("test")

    def classnamefilter(self, name: str) -> bool:
        return name.startswith("Test")


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
            from mockserver.background import BackgroundMock

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
