"""The state stores side by side: memory, ``--state-dir``, and ``--store postgresql://`` with one and with two
mock processes on one database (docs/team.md quotes its figures).

    python benchmarks/stores.py                  # about 3 minutes; writes benchmarks/stores.md
    python benchmarks/stores.py --duration 1 --rounds 1   # a smoke run

Each configuration gets its own processes and a fresh state (a new database on a throwaway PostgreSQL
cluster started by this script, as the tests start one: ``tests/support/postgres_cluster.py``), seeded
through the API as ``benchmarks/run.py`` seeds, then driven by wrk (or the Python load generator) with:
cache-miss reads
(each request a distinct ignored query parameter, so the handler runs: the first read after a write), an
upload (evotor multipart, a new product each), and ``run.py``'s mixed workload (4 reads to a write). With
two processes the connections are split between them, one load generator each, at the same time: the
requests/s are summed, the percentiles are the worse of the two. ``write cost`` is one client's sequential
``POST /tagged-images/v1/images`` (a small JSON record): the time a write takes when nothing competes.
Two more configurations, ``--journal-size 0``, show what the request journal costs each store.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from loadgen import LoadResult, Request, run_load, wrk_path
from run import HOST, IMAGE_UPLOAD_RECORDS, endpoints, machine, mixed_requests, seed_mock, start_mock
from support.postgres_cluster import Cluster, postgres_bin

OUT = Path(__file__).resolve().parent / "stores.md"
WRITE_SAMPLES = 200


def miss(request: Request) -> Request:
    joiner = "&" if "?" in request.path else "?"
    return Request("GET", f"{request.path}{joiner}uncached={{n}}", request.headers, request.body)


def drive(loadgen: str, ports: list[int], requests: list[Request], duration: float, connections: int) -> dict:
    """The connections split over the processes, one generator each, at once."""
    share = max(1, connections // len(ports))
    with ThreadPoolExecutor(len(ports)) as pool:
        runs: list[LoadResult] = list(
            pool.map(lambda port: run_load(loadgen, HOST, port, requests, duration, share), ports)
        )
    return {
        "rps": sum(r.rps for r in runs),
        "p50_ms": max(r.p50_ms for r in runs),
        "p95_ms": max(r.p95_ms for r in runs),
        "p99_ms": max(r.p99_ms for r in runs),
        "bad": sum(r.bad_status for r in runs),
    }


def write_cost(port: int) -> dict:
    times = []
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=30) as client:
        for i in range(WRITE_SAMPLES):
            started = time.perf_counter()
            record = {"filename": f"w{i}.png", "size": 1, "tags": ["w"]}
            r = client.post("/tagged-images/v1/images", json=record)
            times.append((time.perf_counter() - started) * 1000)
            r.raise_for_status()
    times.sort()
    return {"p50_ms": statistics.median(times), "p95_ms": times[int(len(times) * 0.95)]}


MEASUREMENTS = (
    ("read: list (limit 20), miss", lambda eps, seeded: [miss(eps["tagged-images list (limit 20)"].ours)]),
    ("read: get one, miss", lambda eps, seeded: [miss(eps["tagged-images get one"].ours)]),
    ("upload: evotor 300x300", lambda eps, seeded: [eps["evotor upload (300x300 PNG, multipart)"].ours]),
    ("mixed (4 reads : 1 write)", lambda eps, seeded: mixed_requests(seeded)),
)


class Configuration:
    """One store with its processes, started fresh and seeded through the API."""

    def __init__(self, name: str, options: list[str], processes: int):
        self.name, self.processes = name, processes
        self.servers = [start_mock(None, *options) for _ in range(processes)]
        self.seeded = seed_mock(self.servers[0], IMAGE_UPLOAD_RECORDS // 5)
        self.endpoints = {e.name: e for e in endpoints(self.seeded)}
        self.ports = [s.port for s in self.servers]
        self.runs: dict[str, list[dict]] = {}

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def measure(configs: list[Configuration], loadgen: str, rounds: int, duration: float, connections: int):
    """Every measurement in rounds, the configurations taking turns (each goes first in its own round),
    so a machine that gets busier slows them alike; the median round of each is reported."""
    for column, requests_of in MEASUREMENTS:
        for r in range(rounds):
            for config in configs[r % len(configs) :] + configs[: r % len(configs)]:
                requests = requests_of(config.endpoints, config.seeded)
                result = drive(loadgen, config.ports, requests, duration, connections)
                config.runs.setdefault(column, []).append(result)
        print(f"  {column}: done", file=sys.stderr)
    rows = []
    for config in configs:
        row = {"store": config.name, "processes": config.processes}
        for column, runs in config.runs.items():
            row[column] = sorted(runs, key=lambda m: m["rps"])[len(runs) // 2]
        row["write cost"] = write_cost(config.ports[0])
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=3, help="seconds per measurement (default 3)")
    p.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--output", type=Path, default=OUT)
    args = p.parse_args(argv)
    loadgen = "wrk" if wrk_path() else "python"
    bindir = postgres_bin()
    if bindir is None:
        raise SystemExit("benchmarks/stores.py needs Debian's postgresql (its server binaries)")
    cluster = Cluster(bindir)
    scratch = Path(tempfile.mkdtemp(prefix="bench-stores-"))
    configs: list[Configuration] = []
    try:
        configs.append(Configuration("memory", [], 1))
        configs.append(Configuration("--state-dir", ["--state-dir", str(scratch / "state")], 1))
        configs.append(Configuration("postgresql", ["--store", cluster.new_database()], 1))
        configs.append(Configuration("postgresql", ["--store", cluster.new_database()], 2))
        # what the request journal costs each (a read's journal entry is stored before its answer leaves)
        off = ["--journal-size", "0"]
        no_journal_dir = ["--state-dir", str(scratch / "s2"), *off]
        configs.append(Configuration("--state-dir, no journal", no_journal_dir, 1))
        configs.append(Configuration("postgresql, no journal", ["--store", cluster.new_database(), *off], 1))
        rows = measure(configs, loadgen, args.rounds, args.duration, args.connections)
    finally:
        for config in configs:
            config.stop()
        cluster.destroy()
        shutil.rmtree(scratch, ignore_errors=True)
    text = report(rows, machine(), loadgen, args)
    args.output.write_text(text)
    print(text)
    return 0


COLUMNS = (
    "read: list (limit 20), miss",
    "read: get one, miss",
    "upload: evotor 300x300",
    "mixed (4 reads : 1 write)",
)


def report(rows: list[dict], meta: dict, loadgen: str, args) -> str:
    lines = [
        "# The state stores side by side",
        "",
        "Made by `python benchmarks/stores.py"
        + (f" --duration {args.duration:g}" if args.duration != 3 else "")
        + (f" --rounds {args.rounds}" if args.rounds != 3 else "")
        + f"` ({loadgen}, {args.connections} connections, the median of {args.rounds} rounds of "
        f"{args.duration:g} s, the configurations taking turns; "
        f"machine: {meta.get('cores')} cores, {meta.get('cpu', '?')}, "
        f"load average at the start {meta.get('load_avg_at_start', '?')}; "
        "PostgreSQL on the same machine, started by the script with fsync off). Every configuration is "
        "started fresh and seeded alike; with two processes the load is split between them "
        "(requests/s summed, the worse process's percentiles).",
        "",
        "| store | processes | measurement | requests/s | p50 ms | p95 ms | p99 ms | not 2xx |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        for column in COLUMNS:
            m = row[column]
            lines.append(
                f"| {row['store']} | {row['processes']} | {column} | {m['rps']:.0f} | {m['p50_ms']:.1f} "
                f"| {m['p95_ms']:.1f} | {m['p99_ms']:.1f} | {m['bad']} |"
            )
    lines += ["", "What a write costs (one client, sequential small JSON records, nothing competing):", ""]
    lines += ["| store | processes | p50 ms | p95 ms |", "|---|---|---|---|"]
    for row in rows:
        w = row["write cost"]
        lines.append(f"| {row['store']} | {row['processes']} | {w['p50_ms']:.2f} | {w['p95_ms']:.2f} |")
    by = {(r["store"], r["processes"]): r for r in rows}
    if ("--state-dir", 1) in by and ("postgresql", 1) in by and ("postgresql", 2) in by:
        lines += ["", "Ratios (requests/s):", ""]
        for column in COLUMNS:
            keys = (("postgresql", 1), ("postgresql", 2), ("--state-dir", 1))
            one, two, sd = (by[key][column]["rps"] for key in keys)
            lines.append(
                f"- {column}: PostgreSQL one process / --state-dir = {one / sd:.2f}x; "
                f"two processes / one = {two / one:.2f}x"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
