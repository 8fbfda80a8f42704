"""Checks in several processes at once, for remote targets where a run mostly waits on the network.

Each worker process (``python -m conformance.worker``) collects the checks as a one-process run would (same
seed, same run id, same plugin), deals them the same way as every other worker and runs its own share,
streaming each check's outcomes back as it finishes, so rule verdicts are printed as soon as they are
known (the first worker also sends the plan: every check and its rules). Shares are dealt
heaviest first to the least loaded worker: a Hypothesis state machine sends hundreds of requests in
sequence, a schema-layer operation tens (concurrently), a plain check a handful. A module's session and
module fixtures are set up again in each worker that runs one of its checks; checks never assume a
server of their own, so they may run side by side.

The first worker starts alone and runs the checks that cannot share the server first; the others are
started once it has collected, so their start-up (imports and collection: CPU) overlaps those checks
(network), and each waits for them to finish before its first check. The workers load only the pytest
plugins the checks need (Hypothesis', Schemathesis'): every installed plugin would have pytest rewrite
the asserts of its whole distribution, hundreds of library modules compiled again in every worker
whenever bytecode is not cached.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .errors import SuiteCouldNotRun
from .rule_plugin import ConformancePlugin, Outcome, Progress, Results, RuleTracker, rule_ids_of
from .target import Target

EVENT = "@@conformance "
# The plugins the checks need, loaded by name in the workers (autoload off: see the module's docstring).
WORKER_PLUGINS = ("_hypothesis_pytestplugin", "schemathesis.pytest.plugin")


def exclusive(item) -> bool:
    """A check that cannot share the server: it carries ``@pytest.mark.alone`` (see the checks' conftest:
    it reads a listing of the whole API and judges its order, pages or completeness, which records
    created meanwhile would move, or it is a schema-layer DELETE whose generated ids name other checks'
    records). Such checks run first, one after the other, in the first worker, before any other worker
    runs a check."""
    return item.get_closest_marker("alone") is not None


# Checks measured far above their kind's weight: a schema-layer operation with every generated filter
# combination, the parallel creates (a batch of creates, their read-backs, the listing, the clean-up).
HEAVY_OPERATIONS = {
    "check_schema_layer[GET /search/images]": 14,
    "check_all04_parallel_creates_lose_nothing": 6,
}


def weight(nodeid: str) -> float:
    """A rough cost in seconds at 150 ms a request (benchmarks/remote.md): a state machine 47 to 60 s, a
    read-back check about 30 s, a schema-layer operation 2 to 14 s (a DELETE of generated ids, mostly
    refused, about 2.5 s), a plain check 1 to 2 s. Shares follow these ratios, so the workers that run a
    machine take few other checks and finish with the rest."""
    for name, seconds in HEAVY_OPERATIONS.items():
        if nodeid.endswith(name):
            return seconds
    if "state_machine" in nodeid:
        return 55
    if "reads_back" in nodeid or "readback" in nodeid:
        return 30
    if "check_schema_layer[DELETE " in nodeid:
        return 2.5
    if "check_schema_layer" in nodeid:
        return 5
    return 1.5


# The workers after the first start once it has collected, and then collect themselves: they begin
# their checks about this many seconds after it (measured: 3 to 9 s on 2 busy cores).
STARTUP_LAG = 5.0


def deal(items: list[str], workers: int, first_load: float = 0.0, lag: float = 0.0) -> list[list[str]]:
    """Groups (a check function's parametrized cases stay together) dealt heaviest first to the worker
    that would be free first. ``first_load``: what the first worker runs before its share (the checks that
    run alone, which the others wait for); ``lag``: how much later than the first the others could begin
    at best (their start-up), so the heaviest check goes to the first worker when it has little to run
    alone."""
    groups: dict[str, list[str]] = {}
    for nodeid in items:
        key = nodeid.split("[")[0] if "check_schema_layer" not in nodeid else nodeid
        groups.setdefault(key, []).append(nodeid)
    loads = [first_load] + [max(first_load, lag)] * (workers - 1)
    shares: list[list[str]] = [[] for _ in range(workers)]
    for group in sorted(groups.values(), key=lambda g: -sum(weight(n) for n in g)):
        least = loads.index(min(loads))
        shares[least].extend(group)
        loads[least] += sum(weight(n) for n in group)
    order = {nodeid: i for i, nodeid in enumerate(items)}
    return [sorted(share, key=order.__getitem__) for share in shares]


def _merge_junit(parts: list[Path], path: str) -> None:
    trees = [ET.parse(p) for p in parts if p.exists()]
    if not trees:
        return
    root = trees[0].getroot()
    suite = root.find("testsuite") if root.tag == "testsuites" else root
    for tree in trees[1:]:
        other = tree.getroot()
        other_suite = other.find("testsuite") if other.tag == "testsuites" else other
        for key in ("tests", "errors", "failures", "skipped"):
            suite.set(key, str(int(suite.get(key, 0)) + int(other_suite.get(key, 0))))
        suite.set("time", f"{max(float(suite.get('time', 0)), float(other_suite.get('time', 0))):.3f}")
        for case in other_suite.findall("testcase"):
            suite.append(case)
    trees[0].write(path, encoding="utf-8", xml_declaration=True)


def run_parallel(
    target: Target,
    workers: int,
    base_args: list[str],
    junit_xml: str | None,
    progress: Progress,
) -> tuple[Results, str, list[int]]:
    """Returns the merged results, the workers' pytest output (for -v) and their pytest exit codes."""
    results = Results()
    tracker = RuleTracker(target, results, progress)
    lock = threading.Lock()
    planned = threading.Event()
    early: list[dict] = []  # checks finished before the plan arrived
    with tempfile.TemporaryDirectory(prefix="conformance-workers-") as tmp:
        barrier = Path(tmp) / "the-alone-checks-are-done"
        plugin_args = [arg for name in WORKER_PLUGINS for arg in ("-p", name)]

        def start(i: int) -> subprocess.Popen:
            spec = {
                "target": dataclasses.asdict(target),
                "worker": i,
                "workers": workers,
                "barrier": str(barrier),
                "args": plugin_args + base_args,
                "junit_xml": str(Path(tmp) / f"junit-{i}.xml") if junit_xml else None,
                "details": str(Path(tmp) / f"details-{i}.txt"),
                "started": time.time(),
            }
            spec_path = Path(tmp) / f"spec-{i}.json"
            spec_path.write_text(json.dumps(spec), encoding="utf-8")
            return subprocess.Popen(
                [sys.executable, "-m", "conformance.worker", str(spec_path)],
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
            )

        def done(event: dict) -> None:
            for rule_id, outcome in event["outcomes"]:
                results.add([rule_id], Outcome(**outcome))
            tracker.item_done(event["item"])

        def read(proc) -> None:
            with proc.stdout:
                for line in proc.stdout:
                    if line.startswith(EVENT):
                        handle(json.loads(line[len(EVENT) :]))

        def handle(event: dict) -> None:
            with lock:
                if "plan" in event:
                    tracker.plan([(nodeid, rules) for nodeid, rules in event["plan"]])
                    planned.set()
                    for waiting in early:
                        done(waiting)
                elif not planned.is_set():
                    early.append(event)
                else:
                    done(event)

        def release_the_others() -> None:
            """Should the first worker stop before it says so itself, the others still run."""
            procs[0].wait()
            barrier.touch()

        procs = [start(0)]
        readers = [threading.Thread(target=read, args=(procs[0],), daemon=True)]
        readers.append(threading.Thread(target=release_the_others, daemon=True))
        for t in readers:
            t.start()
        while not planned.wait(0.05) and procs[0].poll() is None:
            pass  # the first worker collects alone: the CPU is all its own
        for i in range(1, workers):
            procs.append(start(i))
            readers.append(threading.Thread(target=read, args=(procs[i],), daemon=True))
            readers[-1].start()
        codes = [p.wait() for p in procs]
        for t in readers:
            t.join()
        for i, code in enumerate(codes):
            if not Path(tmp, f"details-{i}.txt.code").exists():
                raise SuiteCouldNotRun(f"conformance worker {i} of {workers} stopped (exit code {code})")
        if not planned.is_set():  # the first worker failed before its plan: keep what the others found
            for event in early:
                for rule_id, outcome in event["outcomes"]:
                    results.add([rule_id], Outcome(**outcome))
        details = "\n".join(
            Path(tmp, f"details-{i}.txt").read_text(encoding="utf-8")
            for i in range(workers)
            if Path(tmp, f"details-{i}.txt").exists()
        )
        if junit_xml:
            _merge_junit([Path(tmp) / f"junit-{i}.xml" for i in range(workers)], junit_xml)
    return results, details, codes


class _Selection:
    """The worker's share, dealt from the collected checks after the rule plugin has named them (every
    worker deals the same way). The first worker also runs the checks that cannot share the server, first,
    and then lets the others begin (``barrier``); it sends the parent the plan."""

    def __init__(self, worker: int, workers: int, barrier: str, out):
        self._worker, self._workers, self._barrier, self._out = worker, workers, Path(barrier), out
        self._alone: set[str] = set()
        self._judged: set[str] = set()  # the checks run alone whose verdict is in
        self.timing = WorkerTiming()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config, items):
        collected = list(items)
        self._alone = {i.nodeid for i in items if exclusive(i)}
        # The checks that run alone mostly read a listing: about 1 s each besides the schema layer's.
        alone_load = sum(weight(n) if "check_schema_layer" in n else 1 for n in self._alone)
        shares = deal(
            [i.nodeid for i in items if i.nodeid not in self._alone], self._workers, alone_load, STARTUP_LAG
        )
        wanted = set(shares[self._worker]) | (self._alone if self._worker == 0 else set())
        keep = [i for i in items if i.nodeid in wanted and i.nodeid in self._alone]
        keep += [i for i in items if i.nodeid in wanted and i.nodeid not in self._alone]
        drop = [i for i in items if i.nodeid not in wanted]
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep
        if self._worker == 0:
            if not self._alone:
                self.release()
            plan = [(i.nodeid, rule_ids_of(i)) for i in collected]
            self._out.write(EVENT + json.dumps({"plan": plan}) + "\n")
            self._out.flush()

    def release(self) -> None:
        """The checks that run alone are done (or there are none): the other workers may begin."""
        if not self._barrier.exists():
            self._barrier.touch()
            self.timing.mark("alone checks done")

    def pytest_runtest_logreport(self, report):
        """The last check that runs alone has been judged: its teardown (deleting what it made) disturbs no
        other check, so the others need not wait for it."""
        if self._worker != 0 or report.nodeid not in self._alone:
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self._judged.add(report.nodeid)
            if self._judged >= self._alone:
                self.release()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        if self._worker == 0:
            if item.nodeid not in self._alone:
                self.release()
            return
        if not self._barrier.exists():
            self.timing.mark("waiting")
            while not self._barrier.exists():
                time.sleep(0.05)
            self.timing.mark("released")

    def pytest_sessionfinish(self, session):
        if self._worker == 0:
            self.release()


class WorkerTiming:
    """When a worker reached each stage, in seconds since the parent started it (wall clock): where the
    time outside the checks goes (start-up and imports, collection, waiting for the others)."""

    def __init__(self, started: float | None = None):
        self.started = time.time() if started is None else started
        self.stages: dict[str, float] = {}

    def mark(self, stage: str) -> None:
        self.stages.setdefault(stage, round(time.time() - self.started, 2))

    def pytest_collection(self, session):
        self.mark("imported")

    def pytest_collection_finish(self, session):
        self.mark("collected")

    def pytest_runtest_logstart(self, nodeid, location):
        self.mark("first check")

    def pytest_runtest_logfinish(self, nodeid, location):
        self.stages["last check done"] = round(time.time() - self.started, 2)

    def line(self, worker: int) -> str:
        return f"(worker {worker} timing: " + ", ".join(f"{k} {v:.1f}s" for k, v in self.stages.items()) + ")"


class _Emitter:
    """Each finished check's outcomes, one line on the worker's stdout (a copy taken before pytest's
    capture), for the parent to merge and to tell progress."""

    def __init__(self, plugin: ConformancePlugin, out):
        self._plugin, self._out = plugin, out
        self._sent: dict[str, int] = {}

    def pytest_runtest_logreport(self, report):
        if report.when != "teardown":
            return
        outcomes = []
        for rule_id, listed in self._plugin.results.by_rule.items():
            start = self._sent.get(rule_id, 0)
            outcomes += [(rule_id, dataclasses.asdict(o)) for o in listed[start:]]
            self._sent[rule_id] = len(listed)
        self._out.write(EVENT + json.dumps({"item": report.nodeid, "outcomes": outcomes}) + "\n")
        self._out.flush()


def worker_main(spec_path: str) -> int:
    from .readonly import safe_methods_only

    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    fields = spec["target"]
    fields["values"] = dict(fields["values"])
    fields["only_rules"] = tuple(fields["only_rules"])
    target = Target(**fields)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    plugin = ConformancePlugin(target)
    from .runner import junit_args

    args = list(spec["args"]) + junit_args(target, spec["junit_xml"])
    output = io.StringIO()
    started = time.perf_counter()
    selection = _Selection(spec["worker"], spec["workers"], spec["barrier"], out)
    selection.timing = timing = WorkerTiming(spec.get("started"))
    timing.mark("started")
    with contextlib.redirect_stdout(output), safe_methods_only(target.read_only):
        code = pytest.main(args, plugins=[plugin, selection, _Emitter(plugin, out), timing])
    seconds = time.perf_counter() - started
    timing.mark("ended")
    Path(spec["details"]).write_text(
        output.getvalue() + f"\n(worker {spec['worker']}: {seconds:.1f}s)\n{timing.line(spec['worker'])}\n",
        encoding="utf-8",
    )
    Path(spec["details"] + ".code").write_text(str(int(code)))  # the worker ran to its end
    out.close()
    return int(code)
