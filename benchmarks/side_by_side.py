"""Two versions of the mock (and Prism) served at once and driven in alternation: before and after a change.

``python benchmarks/side_by_side.py --before DIR [--only TEXT] [--prism] [--rounds 6] [--duration 4]
[--warm-up 5]``

``DIR`` holds another version of the project (``git archive <commit> | tar -x -C DIR``); the mock is
started from it with ``PYTHONPATH=DIR`` in this project's environment, and from this tree. Both are seeded
as ``run.py`` seeds its mock, and every endpoint of ``run.py`` (reads as reply-cache misses) is driven at
each in turn, the order swapped every round, so that a machine shared with other work slows both alike;
with ``--prism`` the endpoint's Prism takes its turn too, rotating. Reported per server: the medians of
requests/s, p50, p95 and p99, and the CPU the server process used per request (its user + system time
over each run, read from ``/proc``): on a busy machine a steadier figure than requests/s. Before an
endpoint's rounds each server gets ``--warm-up`` seconds of its load (5 by default, as ``run.py``: Prism's
JIT needs about that long, and a ratio against a Prism still warming flatters the mock).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as harness  # noqa: E402
from loadgen import run_load  # noqa: E402


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _mock_from(tree: Path):
    """The mock of the project in ``tree`` (its package first on the path, its directory the cwd)."""
    saved = harness.CHILD_ENV, harness.ROOT
    harness.CHILD_ENV = {**harness.CHILD_ENV, "PYTHONPATH": str(tree)}
    harness.ROOT = tree
    try:
        return harness.start_mock()
    finally:
        harness.CHILD_ENV, harness.ROOT = saved


def _summary(results: list, cpu: list[float]) -> dict:
    return {
        "rps": statistics.median(r.rps for r in results),
        "p50_ms": statistics.median(r.p50_ms for r in results),
        "p95_ms": statistics.median(r.p95_ms for r in results),
        "p99_ms": statistics.median(r.p99_ms for r in results),
        "cpu_us_per_request": statistics.median(cpu),
        "non_2xx": sum(r.bad_status for r in results),
    }


def compare(
    before: Path,
    only: list[str],
    prism: bool,
    rounds: int,
    duration: float,
    records: int,
    loadgen: str,
    warm_up: float = harness.WARM_UP_SECONDS,
) -> dict:
    servers = {"before": _mock_from(before), "after": _mock_from(HERE.parent)}
    prisms: dict = {}
    try:
        endpoints = {
            name: harness.endpoints(harness.seed_mock(server, records)) for name, server in servers.items()
        }
        if prism and harness.ensure_prism() is not None:
            for spec in {e.prism_spec for e in endpoints["after"] if e.prism_spec}:
                prisms[spec] = harness.start_prism(spec)
        table = {}
        for i, endpoint in enumerate(endpoints["after"]):
            if only and not any(text in endpoint.name for text in only):
                continue
            targets = {name: (servers[name], eps[i].miss or eps[i].ours) for name, eps in endpoints.items()}
            if endpoint.prism is not None and endpoint.prism_spec in prisms:
                targets["prism"] = (prisms[endpoint.prism_spec], endpoint.prism)
            for server, request in targets.values() if warm_up > 0 else ():  # JITs, caches, connections
                run_load(loadgen, harness.HOST, server.port, request, warm_up, 16)
            results = {name: [] for name in targets}
            cpu = {name: [] for name in targets}
            order = list(targets)
            for round_ in range(rounds):
                for name in order[round_ % len(order) :] + order[: round_ % len(order)]:
                    server, request = targets[name]
                    started = _cpu_seconds(server.process.pid)
                    result = run_load(loadgen, harness.HOST, server.port, request, duration, 16)
                    used = _cpu_seconds(server.process.pid) - started
                    results[name].append(result)
                    cpu[name].append(used / max(1, result.requests) * 1e6)
            table[endpoint.name] = {name: _summary(results[name], cpu[name]) for name in targets}
            print(_line(endpoint.name, table[endpoint.name]), flush=True)
        return table
    finally:
        for server in (*servers.values(), *prisms.values()):
            server.stop()


def _line(name: str, row: dict) -> str:
    before, after = row["before"], row["after"]
    text = (
        f"{name}: req/s {before['rps']:.0f} -> {after['rps']:.0f} ({after['rps'] / before['rps']:.2f}x); "
        f"CPU per request {before['cpu_us_per_request']:.0f} -> {after['cpu_us_per_request']:.0f} µs; "
        f"p50/p95/p99 {before['p50_ms']:.1f}/{before['p95_ms']:.1f}/{before['p99_ms']:.1f} -> "
        f"{after['p50_ms']:.1f}/{after['p95_ms']:.1f}/{after['p99_ms']:.1f} ms"
    )
    if "prism" in row:
        prism = row["prism"]
        text += (
            f"; Prism {prism['rps']:.0f} req/s (before {before['rps'] / prism['rps']:.2f}x, after "
            f"{after['rps'] / prism['rps']:.2f}x), p50/p95/p99 {prism['p50_ms']:.1f}/{prism['p95_ms']:.1f}/"
            f"{prism['p99_ms']:.1f} ms, CPU per request {prism['cpu_us_per_request']:.0f} µs"
        )
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="a tree of the version to compare with")
    parser.add_argument("--only", action="append", default=[], help="endpoints whose name contains TEXT")
    parser.add_argument("--prism", action="store_true", help="Prism takes its turn too")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument(
        "--records",
        type=int,
        default=harness.IMAGE_UPLOAD_RECORDS,
        help="image-upload images seeded (GetAllImages lists them)",
    )
    parser.add_argument(
        "--loadgen", choices=("wrk", "python"), default="wrk" if harness.wrk_path() else "python"
    )
    parser.add_argument(
        "--warm-up",
        type=float,
        default=harness.WARM_UP_SECONDS,
        help="seconds of load each server gets before an endpoint's rounds (default: %(default)s)",
    )
    parser.add_argument("--json", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    print(f"side_by_side: each server warmed for {args.warm_up:g} s before an endpoint's rounds", flush=True)
    table = compare(
        args.before.resolve(),
        args.only,
        args.prism,
        args.rounds,
        args.duration,
        args.records,
        args.loadgen,
        args.warm_up,
    )
    if args.json:
        args.json.write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
