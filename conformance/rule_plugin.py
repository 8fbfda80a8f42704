"""The pytest plugin that turns the checks' outcomes into rule verdicts: the ``conformance`` runner loads it,
and so does a host's session (``conformance.hosted_checks``). Rule bookkeeping, SHOULD-as-warning.

Checks are the functions named ``check_*`` in ``conformance.checks``, collected by pytest; each names its
rules with ``@pytest.mark.rule("EVT-04")`` (the first is the one a bare ``assert`` blames), its API with a
module-level ``pytestmark = pytest.mark.api("evotor")``, ``@pytest.mark.writes`` when it changes server
state (skipped under ``--read-only``) and ``@pytest.mark.alone`` when it cannot share the server (a
parallel run runs it first, alone). What a check finds (``conformance.findings``) is turned into one
outcome per break, each on its own rule with the exact request that showed it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .findings import MUST, Findings, NotExercised, begin
from .images import image_pair, status_answered
from .library_internals.pytest_parts import rename_item
from .readonly import safe_methods_only
from .recording import RECORD_FILES, REMOVALS, as_curl, removed_among
from .rules import load_rules
from .target import Target

TARGET = pytest.StashKey[Target]()
FINDINGS = pytest.StashKey[Findings]()
CALL_ENDED = pytest.StashKey[int]()  # how many removals the run had made when the check's body returned
CHECKS_DIR = Path(__file__).resolve().parent / "checks"
_RULE_ID = re.compile(r"[\[(]([A-Z]{3}-\d\d)[\])]")
REMOVED_NOTE = "  # the suite itself later removed this data"
MAX_BREAKS_PER_CHECK = 8  # distinct breaks one check reports for one rule; the rest are counted


class CheckModule(pytest.Module):
    """A module of ``conformance/checks``. One whose checks depend on the run's target (the schema layer
    generates one item per operation of the target's API) defines ``checks_for(target)``, returning them
    by name; they join the module when it is collected, so no check module reads the target at import,
    and one process can run the checks against one target after another."""

    def collect(self):
        build = getattr(self.obj, "checks_for", None)
        if build is not None:
            for name, check in build(self.config.stash[TARGET]).items():
                setattr(self.obj, name, check)
        return super().collect()


@dataclass
class Outcome:
    test: str
    status: str  # pass | fail | warn | skip
    message: str = ""
    curl: str | None = None
    decision: str | None = None
    images: dict | None = None  # {"uploaded": {...}, "served": {...}}: file, size, sha256, type
    key: str | None = None  # a break several checks may meet (a response's schema): one outcome a run
    answered: int | None = None  # the status answered to the curl's request when the break was seen


@dataclass
class Results:
    by_rule: dict[str, list[Outcome]] = field(default_factory=dict)
    keys: set[tuple[str, str]] = field(default_factory=set)  # (rule, key) of the keyed breaks kept

    def add(self, rule_ids, outcome: Outcome) -> None:
        """A keyed break that an earlier check (or another worker) already reported is not added again."""
        for rule_id in rule_ids:
            if outcome.key is not None:
                if (rule_id, outcome.key) in self.keys:
                    continue
                self.keys.add((rule_id, outcome.key))
            self.by_rule.setdefault(rule_id, []).append(outcome)


def rule_ids_of(item) -> list[str]:
    return [rule_id for mark in item.iter_markers("rule") for rule_id in mark.args]


def _name_by_operation(item) -> None:
    """Schemathesis names each case ``check_schema_layer[GET /images]`` but, on pytest 9, leaves the
    operation out of its node id; JUnit and the JSON report name cases by node id, so put it back."""
    if item.parent is not None and not item.nodeid.endswith("::" + item.name) and "[" in item.name:
        rename_item(item, item.name)


def _leaves(exc: BaseException):
    """The exceptions inside (nested) exception groups, e.g. Hypothesis' "found N distinct failures"."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    line = text.splitlines()[0].removeprefix("AssertionError: ")
    if not isinstance(exc, AssertionError):
        line = f"{type(exc).__name__}: {line}"
    return line[:500]


class Progress:
    """What a run tells as it goes (the CLI prints it): every rule's verdict the moment its last check
    has run, and a count of checks run. The default tells nothing."""

    def rule_done(self, rule_id: str, status: str, done: int, total: int) -> None:
        pass

    def check_done(self, done: int, total: int) -> None:
        pass


class RuleTracker:
    """Tells ``progress`` each rule's verdict the moment the last check naming it has run."""

    def __init__(self, target: Target, results: Results, progress: Progress):
        self._target, self._results, self._progress = target, results, progress
        self._rules = load_rules()
        self._pending: dict[str, set[str]] = {}  # rule id -> node ids of its checks not yet run
        self._rules_of: dict[str, list[str]] = {}  # node id -> its rule ids
        self._rules_done = 0
        self._checks_done = 0
        self._checks_total = 0

    def plan(self, items: list[tuple[str, list[str]]]) -> None:
        """``(node id, rule ids)`` of every check to run; a rule no check names is known at once."""
        api_rules = [r.id for r in self._rules.values() if r.api in (self._target.api, "all")]
        only = set(self._target.only_rules)
        self._pending = {rule_id: set() for rule_id in api_rules if not only or rule_id in only}
        for nodeid, rule_ids in items:
            ids = [r for r in rule_ids if r in self._pending]
            if not ids:
                continue  # a host's own test (pytest plugin mode)
            self._rules_of[nodeid] = ids
            for rule_id in ids:
                self._pending[rule_id].add(nodeid)
        self._checks_total = len(self._rules_of)
        for rule_id in [r for r, waiting in self._pending.items() if not waiting]:
            self._rule_known(rule_id)

    def _rule_known(self, rule_id: str) -> None:
        from .report import rule_status  # report imports this module

        del self._pending[rule_id]
        self._rules_done += 1
        total = self._rules_done + len(self._pending)
        status = rule_status(self._rules.get(rule_id), self._results.by_rule.get(rule_id, []))
        self._progress.rule_done(rule_id, status, self._rules_done, total)

    def item_done(self, nodeid: str) -> None:
        if nodeid not in self._rules_of:
            return
        self._checks_done += 1
        self._progress.check_done(self._checks_done, self._checks_total)
        for rule_id in self._rules_of.pop(nodeid):
            waiting = self._pending.get(rule_id)
            if waiting is not None:
                waiting.discard(nodeid)
                if not waiting:
                    self._rule_known(rule_id)


class ConformancePlugin:
    def __init__(self, target: Target, progress: Progress | None = None):
        self._target = target
        self.results = Results()
        self._rules = load_rules()
        self.tracker = RuleTracker(target, self.results, progress or Progress())
        self._ended: dict[str, int] = {}  # node id -> removals made when its body returned

    # -- configuration -----------------------------------------------------------------------------
    def pytest_configure(self, config):
        config.stash[TARGET] = self._target
        config.addinivalue_line("markers", "rule(*ids): the catalogue rules this check verifies")
        config.addinivalue_line("markers", "api(name): the API a check module belongs to")
        config.addinivalue_line("markers", "writes: the check changes server state (skipped by --read-only)")
        config.addinivalue_line(
            "markers",
            "alone: the check cannot share the server with others (it judges a whole listing, or deletes by "
            "generated ids): a parallel run runs it alone, before the others",
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makemodule(self, module_path, parent):
        """The checks' modules (not a host's own) collect as ``CheckModule``."""
        if module_path.name != "__init__.py" and CHECKS_DIR in module_path.resolve().parents:
            return CheckModule.from_parent(parent, path=module_path)
        return None

    def pytest_collection_modifyitems(self, config, items):
        for item in items:
            _name_by_operation(item)
        keep, drop = [], []
        only = set(self._target.only_rules)
        for item in items:
            api = next((m.args[0] for m in item.iter_markers("api")), None)
            wanted = api in (None, self._target.api) and (not only or only & set(rule_ids_of(item)))
            (keep if wanted else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        self._plan_progress(items)
        if self._target.read_only:
            skip = pytest.mark.skip(reason="--read-only: this check changes server state")
            unsafe = pytest.mark.skip(reason="--read-only: an unsafe operation of the schema layer")
            for item in items:
                label = getattr(item, "operation_label", "") or ""
                if item.get_closest_marker("writes"):
                    item.add_marker(skip)
                elif label.split(" ")[0].upper() not in ("", "GET", "HEAD", "OPTIONS"):
                    item.add_marker(unsafe)  # Schemathesis' include() does not filter its parametrize

    # -- progress ----------------------------------------------------------------------------------
    def _plan_progress(self, items) -> None:
        self.tracker.plan([(item.nodeid, rule_ids_of(item)) for item in items])

    def pytest_runtest_logreport(self, report) -> None:
        if report.when == "teardown":
            self.tracker.item_done(report.nodeid)

    # -- running -----------------------------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        """Under --read-only no check (setup and teardown included) sends an unsafe request, also when the
        checks run inside a host's pytest session; the host's own tests are left alone."""
        with safe_methods_only(self._target.read_only and bool(rule_ids_of(item))):
            yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item):
        """Findings begin with the setup: what a fixture's requests show (a response that breaks the seed's
        schema) is the first check's that uses the fixture."""
        findings = Findings()
        item.stash[FINDINGS] = findings
        begin(findings)
        yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        findings = item.stash.get(FINDINGS, None) or Findings()
        item.stash[FINDINGS] = findings
        begin(findings)
        try:
            outcome = yield
            if outcome.excinfo is None:
                for cases, send in findings.batches.values():
                    send(cases)
        finally:
            begin(None)
            item.stash[CALL_ENDED] = len(REMOVALS)

    def pytest_sessionstart(self, session):
        REMOVALS.clear()
        RECORD_FILES.clear()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item):
        """Once the check's clean-up has run, a curl about data it removed says so (before the outcomes
        are reported: a parallel worker sends them at the end of the teardown)."""
        yield
        mark = item.stash.get(CALL_ENDED, None)
        if mark is not None:
            self._ended[item.nodeid] = mark
            self._note_removed(item.nodeid, REMOVALS.since(mark))

    def pytest_sessionfinish(self, session):
        """What later checks and the modules' clean-ups removed (a one-process run's report)."""
        for nodeid, mark in self._ended.items():
            self._note_removed(nodeid, REMOVALS.since(mark))

    def _note_removed(self, nodeid: str, removed: list[str]) -> None:
        if not removed:
            return
        for outcomes in self.results.by_rule.values():
            for o in outcomes:
                if (
                    o.test != nodeid
                    or not o.curl
                    or o.status not in ("fail", "warn")
                    or REMOVED_NOTE in o.curl
                ):
                    continue
                gone = removed_among(urlsplit(shlex.split(o.curl)[-1]).path, removed)
                if gone is not None:
                    o.curl = f"{o.curl}{REMOVED_NOTE} (DELETE {gone}, after the check)"

    # -- outcomes ----------------------------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True, tryfirst=True)  # outermost: other plugins see pytest's own report
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        rule_ids = rule_ids_of(item)
        if not rule_ids:
            return
        if report.when == "setup" and (report.failed or report.skipped):
            self._setup_outcome(item, call, report, rule_ids)
        elif report.when == "call":
            self._call_outcomes(item, call, report, rule_ids)

    def _level(self, rule_id: str, kind: str) -> str:
        """fail or warn: a MUST finding of a MUST rule fails; our decisions warn, unless --strict."""
        rule = self._rules.get(rule_id)
        must = kind == MUST and (rule is None or rule.level == "MUST")
        return "fail" if must or self._target.strict else "warn"

    def _curl(self, request, item=None) -> str | None:
        if request is None:
            return None
        curl = as_curl(request, body_dir=self._target.bodies_dir)
        removed = _removed_later(item, request) if item is not None else None
        return f"{curl}{REMOVED_NOTE} ({removed})" if removed else curl

    def _fallback_request(self, item, findings: Findings | None, message: str = ""):
        """The request a plain ``assert`` is about: the one ``judged`` named; else the latest one whose
        method and path the message names (a state machine's clean-up sends more after the failing step);
        else the last one sent."""
        judged = findings.judged if findings is not None else None
        if judged is not None:
            try:
                return judged.request
            except (AttributeError, RuntimeError):
                pass
        client = getattr(item, "conformance_client", None)
        if client is None or not client.exchanges:
            return None
        for request, _ in reversed(client.exchanges):
            if f"{request.method} {request.url.path}" in message:
                return request
        return client.exchanges[-1][0]

    def _setup_outcome(self, item, call, report, rule_ids) -> None:
        if report.skipped:
            exc = call.excinfo.value if call.excinfo is not None else None
            message = str(exc) if exc is not None else str(report.longrepr[2])
            self.results.add(rule_ids, Outcome(item.nodeid, "skip", message.removeprefix("Skipped: ")))
        else:
            message = "the check's setup failed: " + _first_line(call.excinfo.value)
            self.results.add(rule_ids[:1], Outcome(item.nodeid, "fail", message))
            self.results.add(rule_ids[1:], Outcome(item.nodeid, "skip", f"not exercised: {message}"))

    def _call_outcomes(self, item, call, report, rule_ids) -> None:
        findings = item.stash.get(FINDINGS, None)
        primary = rule_ids[0]
        found: dict[str, list[Outcome]] = {}
        seen: set[tuple[str, str]] = set()

        def add(rule_id: str, outcome: Outcome) -> None:
            if (rule_id, outcome.key or outcome.message) in seen:
                return  # the same break seen twice (e.g. by two generated examples) is one break
            seen.add((rule_id, outcome.key or outcome.message))
            found.setdefault(rule_id, []).append(outcome)

        for f in findings.items if findings is not None else ():
            rule_id = f.rule or primary
            add(
                rule_id,
                Outcome(
                    item.nodeid,
                    self._level(rule_id, f.kind),
                    f.message,
                    self._curl(f.request, item),
                    f.decision,
                    image_pair(f.request, self._target.bodies_dir),
                    f.key,
                    status_answered(f.request),
                ),
            )
        stopped: str | None = None
        exc = call.excinfo.value if call.excinfo is not None else None
        if isinstance(exc, NotExercised):
            stopped = exc.args[0] if exc.args else "not exercised"
            curl = self._curl(exc.request)
            for rule_id in rule_ids:
                if rule_id not in found:
                    add(rule_id, Outcome(item.nodeid, "skip", stopped, curl))
        elif isinstance(exc, pytest.skip.Exception):
            for rule_id in rule_ids:
                if rule_id not in found:
                    add(rule_id, Outcome(item.nodeid, "skip", str(exc)))
        elif exc is not None:
            blamed = []
            for leaf in _leaves(exc):
                message = _first_line(leaf)
                request = self._fallback_request(item, findings, str(leaf))
                named = [r for r in _RULE_ID.findall(str(leaf)) if r in rule_ids]
                rule_id = named[0] if named else primary
                blamed.append(rule_id)
                curl = self._curl(request, item)
                status = status_answered(request)
                add(rule_id, Outcome(item.nodeid, self._level(rule_id, MUST), message, curl, answered=status))
            stopped = f"not exercised: the check stopped at a break of {', '.join(dict.fromkeys(blamed))}"
        keyed = {f.rule for f in (findings.items if findings is not None else ()) if f.key is not None}
        if keyed:
            _behaviour_not_judged_on_broken_schema(item.nodeid, found, keyed)
        for rule_id in rule_ids:
            if rule_id in found:
                continue
            if stopped is not None:
                found[rule_id] = [Outcome(item.nodeid, "skip", stopped)]
            else:
                found[rule_id] = [Outcome(item.nodeid, "pass")]
        for rule_id, outcomes in found.items():
            breaks = [o for o in outcomes if o.status in ("fail", "warn")]
            extra = len(breaks) - MAX_BREAKS_PER_CHECK
            if extra > 0:
                kept = outcomes[: outcomes.index(breaks[MAX_BREAKS_PER_CHECK])]
                kept.append(Outcome(item.nodeid, breaks[-1].status, f"… and {extra} more breaks like these"))
                outcomes = kept
            for o in outcomes:
                self.results.add([rule_id], o)
        self._rewrite_report(item, report, found)

    def _rewrite_report(self, item, report, found) -> None:
        """pytest's own verdict (JUnit, -v) follows the rule outcomes: failed, WARN as skipped, or passed."""
        fails = [(r, o) for r, os in found.items() for o in os if o.status == "fail"]
        warns = [(r, o) for r, os in found.items() for o in os if o.status == "warn"]
        if fails:
            text = "\n".join(f"[{r}] {o.message}" + (f"\n  {o.curl}" if o.curl else "") for r, o in fails)
            if report.passed or not self._target.verbose:
                report.longrepr = text
            report.outcome = "failed"
        elif warns:
            text = "; ".join(f"[{r}] {o.message}" for r, o in warns)
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1] or 0, f"WARN (SHOULD): {text[:2000]}")
        elif report.failed:  # an exception that only stopped the check short of its rules
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1] or 0, "not exercised")


SCHEMA_BROKEN = (
    "not exercised: a response the check read breaks the seed's schema (see ALL-02); its own rules judge "
    "behaviour on responses the seed promises"
)


def _behaviour_not_judged_on_broken_schema(nodeid: str, found: dict[str, list[Outcome]], owners: set) -> None:
    """A schema break is ALL-02's alone (or the rule's that states that part of the shape, in ``owners``):
    the failures of the check's other rules, whose oracle read a response the seed does not promise (a
    string id on page 2), become not exercised."""
    for rule_id, outcomes in found.items():
        if rule_id in owners or not any(o.status == "fail" for o in outcomes):
            continue
        kept = [o for o in outcomes if o.status != "fail"]
        found[rule_id] = [*kept, Outcome(nodeid, "skip", SCHEMA_BROKEN)]


def _removed_later(item, request) -> str | None:
    """A successful DELETE the check sent after ``request``, of the resource it is about (the same path, one
    it lies under, or the record whose file URL it is): replaying the curl then meets data the suite itself
    removed."""
    client = getattr(item, "conformance_client", None)
    exchanges = client.exchanges if client is not None else []
    index = next((i for i, (sent, _) in enumerate(exchanges) if sent is request), None)
    if index is None:
        return None
    path = request.url.path.rstrip("/")
    for later, response in exchanges[index + 1 :]:
        if later.method != "DELETE" or not response.is_success:
            continue
        if removed_among(path, [(later.url.path.rstrip("/"), RECORD_FILES.files_of(later))]) is not None:
            return f"DELETE {later.url.path}"
    return None
