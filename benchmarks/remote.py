"""Where a conformance run's time goes against a remote target: the whole suite against the mock with
``latency_ms`` added to every response (as from a deployment far away), per API, per seed, with each
check's wall time (pytest's --durations) and the verdicts, compared with a loopback run.

    python benchmarks/remote.py --latency 0 150 --seeds 1 2 3 --workers 4 --out benchmarks/results/remote.json

Loopback runs (0 ms) use one process, as the CLI does for a loopback target; runs with latency use
``--workers`` processes (the CLI's default for a remote target). Every run's verdicts are compared with
the loopback run of the same API and seed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.live_server import LiveServer  # noqa: E402

from conformance.runner import run  # noqa: E402
from conformance.target import API_NAMES, Target  # noqa: E402
from image_api_contracts import APIS  # noqa: E402

DURATION = re.compile(r"^([\d.]+)s (setup|call|teardown)\s+(\S+)")
WORKER_TIMING = re.compile(r"^\(worker (\d+) timing: (.*)\)$")


def _stage(text: str) -> tuple[str, float]:
    """ "collected 4.2s" -> ("collected", 4.2)"""
    stage, seconds = text.rsplit(" ", 1)
    return stage, float(seconds.removesuffix("s"))


def one_run(api: str, latency_ms: int, seed: int, concurrency: int, max_examples: int, workers: int) -> dict:
    server = LiveServer()
    try:
        if latency_ms:
            server.set_latency(latency_ms)
        target = Target(
            api=api,
            base_url=server.url + f"/{api}" + APIS[api].server_path,
            seed=seed,
            max_examples=max_examples,
            concurrency=concurrency,
            verbose=True,
            bodies_dir="/tmp/conformance-bench-bodies",
        )
        started = time.perf_counter()
        report = run(target, pytest_args=["--durations=12", "--durations-min=1"], workers=workers)
        seconds = time.perf_counter() - started
    finally:
        server.stop()
    slowest = [
        {"seconds": float(m.group(1)), "phase": m.group(2), "check": m.group(3)}
        for line in report.details.splitlines()
        if (m := DURATION.match(line.strip()))
    ]
    workers_timing = {
        int(m.group(1)): dict(_stage(part) for part in m.group(2).split(", "))
        for line in report.details.splitlines()
        if (m := WORKER_TIMING.match(line.strip()))
    }
    return {
        "api": api,
        "latency_ms": latency_ms,
        "seed": seed,
        "concurrency": concurrency,
        "workers": workers,
        "max_examples": max_examples,
        "seconds": round(seconds, 1),
        "verdicts": {v.id: v.status for v in report.verdicts},
        "slowest": slowest,
        "workers_timing": workers_timing,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--apis", nargs="+", default=list(API_NAMES))
    p.add_argument("--latency", type=int, nargs="+", default=[0, 150])
    p.add_argument("--seeds", type=int, nargs="+", default=[1])
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--workers", type=int, default=4, help="processes for the runs with latency")
    p.add_argument("--max-examples", type=int, default=10)
    p.add_argument("--out")
    args = p.parse_args()
    runs = []
    loopback: dict[tuple[str, int], dict] = {}
    for seed in args.seeds:
        for latency in args.latency:
            started = time.perf_counter()
            for api in args.apis:
                workers = args.workers if latency else 1
                result = one_run(api, latency, seed, args.concurrency, args.max_examples, workers)
                if latency == 0:
                    loopback[(api, seed)] = result["verdicts"]
                reference = loopback.get((api, seed))
                result["same_verdicts_as_loopback"] = (
                    None if reference is None else reference == result["verdicts"]
                )
                runs.append(result)
                bad = {k: v for k, v in result["verdicts"].items() if v != "pass"}
                print(
                    f"{api:14} {latency:4} ms seed {seed} workers {workers}: {result['seconds']:6.1f} s "
                    f"same as loopback: {result['same_verdicts_as_loopback']} {bad or ''}",
                    flush=True,
                )
                for s in result["slowest"][:4]:
                    print(f"    {s['seconds']:6.2f}s {s['phase']:8} {s['check']}", flush=True)
                for worker, stages in sorted(result["workers_timing"].items()):
                    print(f"    worker {worker}: {stages}", flush=True)
            print(f"all {len(args.apis)} at {latency} ms, seed {seed}: {time.perf_counter() - started:.1f} s")
            if args.out:
                Path(args.out).write_text(json.dumps(runs, indent=1) + "\n")


if __name__ == "__main__":
    main()
