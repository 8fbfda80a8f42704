"""Benchmark the mock against Stoplight Prism and a bare-Starlette ceiling: ``python benchmarks/run.py``.

Installs what it needs (Prism from npm into benchmarks/.tools, wrk from Debian when root), starts the
mock, one Prism per spec and the ceiling on free 127.0.0.1 ports, drives the same requests at each in
alternation (ours, Prism, ceiling, ours, ... ``--rounds`` short rounds; medians), then measures start-up,
store scaling (100 vs 100,000 records), memory per stored image and conformance run time. Prints a table
and writes benchmarks/results/<date>-<host>.md and .json.

``--quick --no-prism`` is the smoke mode: one short round, Python load generator, no npm, no conformance.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import gc
import io
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

import httpx  # noqa: E402
from loadgen import LoadResult, Request, run_load, wrk_path  # noqa: E402

from image_api_contracts.devtokens import EVOTOR_TOKEN, image_upload_token  # noqa: E402

TOOLS = ROOT / "benchmarks" / ".tools"
PRISM_BIN = TOOLS / "node_modules" / ".bin" / "prism"
RESULTS = ROOT / "benchmarks" / "results"
IMAGES = ROOT / "fixtures" / "images"
HOST = "127.0.0.1"
START_TIMEOUT = 60  # seconds for any server to answer its first request
LIST_RECORDS = 200  # tagged-images records behind the list/search endpoints
IMAGE_UPLOAD_RECORDS = 1000
# Each server's load before an endpoint's rounds: Prism's first seconds run before its JIT has compiled the
# request path (3,950 requests/s in its first five seconds of GetAllImages, 4,100 to 4,570 afterwards).
WARM_UP_SECONDS = 5.0
# Goals of reads as cache misses against Prism other than 1.5x: the 1,000-image listing sends 365 KB of real
# records where Prism sends its 205-byte example.
MISS_GOALS = {f"image-upload GetAllImages ({IMAGE_UPLOAD_RECORDS} images)": 1.2}
# Python's bytecode cache, as on a user's machine: a machine that sets PYTHONDONTWRITEBYTECODE (this
# workplace's does) recompiles every imported module in every process, which doubles a conformance run
# (everydaypic: 12 s instead of 6 s) and slows start-up. The servers and conformance runs go without it.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


# -- tools -------------------------------------------------------------------------------------------------


def ensure_prism() -> str | None:
    """Prism 5 from npm into benchmarks/.tools (gitignored); None with a message when it cannot be had."""
    if not PRISM_BIN.exists():
        npm = shutil.which("npm")
        if npm is None:
            print("benchmarks: npm not found; Prism is skipped (install Node.js + npm)", file=sys.stderr)
            return None
        print("benchmarks: installing @stoplight/prism-cli@5 into benchmarks/.tools ...", file=sys.stderr)
        done = subprocess.run(
            [npm, "install", "--prefix", str(TOOLS), "--no-audit", "--no-fund", "@stoplight/prism-cli@5"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if done.returncode != 0 or not PRISM_BIN.exists():
            print(
                f"benchmarks: npm install failed; Prism is skipped:\n{done.stderr[-2000:]}", file=sys.stderr
            )
            return None
    version = subprocess.run([str(PRISM_BIN), "--version"], capture_output=True, text=True, timeout=60)
    return version.stdout.strip() or "unknown"


def ensure_wrk() -> str | None:
    """wrk from Debian when missing and running as root; None (Python load generator) otherwise."""
    if wrk_path() is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("benchmarks: installing wrk (apt-get install -y wrk) ...", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if (
            subprocess.run(
                ["apt-get", "install", "-y", "wrk"], capture_output=True, timeout=600, env=env
            ).returncode
            != 0
        ):
            subprocess.run(["apt-get", "update"], capture_output=True, timeout=600, env=env)
            subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, timeout=600, env=env)
    if wrk_path() is None:
        print(
            "benchmarks: wrk not available (not root, or apt-get failed); using the Python load "
            "generator, which saturates before the servers do: ratios are still fair, absolute numbers low",
            file=sys.stderr,
        )
        return None
    out = subprocess.run([wrk_path(), "-v"], capture_output=True, text=True, timeout=30)
    return (out.stdout + out.stderr).split("\n")[0].strip()


# -- servers -----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    started_s: float = 0.0

    def peak_rss_mb(self) -> float | None:
        """VmHWM: the resident-set high-water mark of the process, from /proc."""
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def start_server(name: str, argv: list[str], port: int, probe: str, headers: dict | None = None) -> Server:
    """Start a server and wait until ``probe`` answers (any status below 500)."""
    started = time.perf_counter()
    # stderr to a file, not a pipe: nobody reads it during the load, and a full pipe would stall the server.
    # The server keeps its own descriptor of the (unlinked) file after ours closes.
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=CHILD_ENV,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                errors.seek(0)
                raise RuntimeError(f"{name} exited: {errors.read().decode(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"http://{HOST}:{port}{probe}", headers=headers, timeout=2).status_code < 500:
                    return Server(name, port, process, time.perf_counter() - started)
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    process.kill()
    process.wait(timeout=15)
    raise RuntimeError(f"{name} did not answer within {START_TIMEOUT}s")


def start_mock(port: int | None = None, *options: str) -> Server:
    port = port or free_port()
    argv = [
        sys.executable,
        "-m",
        "mockserver",
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        *options,
    ]
    return start_server("mock", argv, port, "/")


def start_prism(spec: str, port: int | None = None) -> Server:
    port = port or free_port()
    argv = [str(PRISM_BIN), "mock", "-h", HOST, "-p", str(port), str(ROOT / "specs" / f"{spec}.yaml")]
    return start_server(f"prism:{spec}", argv, port, "/__probe__")


def start_ceiling(port: int | None = None) -> Server:
    port = port or free_port()
    argv = [
        sys.executable,
        str(ROOT / "benchmarks" / "bare_ceiling.py"),
        "--port",
        str(port),
        "--records",
        str(LIST_RECORDS),
    ]
    return start_server("ceiling", argv, port, "/images?limit=1")


# -- seeding the mock through its real API -----------------------------------------------------------------


def _multipart(fields: dict[str, str], file_field: str, filename: str, data: bytes, ctype: str):
    boundary = "benchmarkboundary7MA4YWxkTrZu0gW"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'.encode()
        + data
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@dataclass
class Seeded:
    tagged_image_id: int
    everydaypic_id: str


def seed_mock(mock: Server, image_upload_records: int) -> Seeded:
    base = f"http://{HOST}:{mock.port}"
    with httpx.Client(base_url=base, timeout=30) as client:
        client.post("/__mock__/reset").raise_for_status()
        for i in range(LIST_RECORDS):  # bounded, like the ceiling's store
            r = client.post(
                "/tagged-images/v1/images",
                json={"filename": f"f{i}.png", "size": 10, "tags": ["a", f"t{i % 5}"]},
            )
            r.raise_for_status()
        tagged_id = r.json()["id"]
        body, ctype = _multipart(
            {"name": "bench", "fileName": "download-100k.png"},
            "file",
            "download-100k.png",
            (IMAGES / "download-100k.png").read_bytes(),
            "image/png",
        )
        r = client.post("/everydaypic/v1/image", content=body, headers={"Content-Type": ctype})
        r.raise_for_status()
        everydaypic_id = r.json()[0]["id"]
        icon = (IMAGES / "icon-64.png").read_bytes()
        auth = {"Authorization": f"Bearer {image_upload_token()}"}
        for i in range(image_upload_records):
            body, ctype = _multipart({}, "file", f"icon-{i}.png", icon, "image/png")
            client.post(
                "/image-upload/UploadImage", content=body, headers={**auth, "Content-Type": ctype}
            ).raise_for_status()
    return Seeded(tagged_id, everydaypic_id)


# -- the endpoints -----------------------------------------------------------------------------------------


@dataclass
class Endpoint:
    name: str
    ours: Request
    prism_spec: str | None = None
    prism: Request | None = None
    ceiling: Request | None = None

    @property
    def miss(self) -> Request | None:
        """The same read, made distinct per request (an ignored query parameter), so that the mock's
        reply cache never answers it: what a read of changed state costs."""
        if self.ours.method != "GET":
            return None
        joiner = "&" if "?" in self.ours.path else "?"
        return Request("GET", f"{self.ours.path}{joiner}uncached={{n}}", self.ours.headers, self.ours.body)


def endpoints(seeded: Seeded) -> list[Endpoint]:
    png300 = (IMAGES / "evotor-product-300.png").read_bytes()
    upload, ctype = _multipart({}, "datafile", "product.png", png300, "image/png")
    evotor_headers = {"X-Authorization": EVOTOR_TOKEN, "Content-Type": ctype}
    iu_auth = {"Authorization": f"Bearer {image_upload_token()}"}
    tid = seeded.tagged_image_id
    return [
        Endpoint(
            "tagged-images list (limit 20)",
            Request("GET", "/tagged-images/v1/images?limit=20"),
            "tagged-images",
            Request("GET", "/images?limit=20"),
            Request("GET", "/images?limit=20"),
        ),
        Endpoint(
            "tagged-images list (limit 100)",
            Request("GET", "/tagged-images/v1/images?limit=100"),
            "tagged-images",
            Request("GET", "/images?limit=100"),
            Request("GET", "/images?limit=100"),
        ),
        Endpoint(
            "tagged-images get one",
            Request("GET", f"/tagged-images/v1/images/{tid}"),
            "tagged-images",
            Request("GET", f"/images/{tid}"),
            Request("GET", f"/images/{tid}"),
        ),
        Endpoint(
            "tagged-images search (exact_tags=a|t1)",
            Request("GET", "/tagged-images/v1/search/images?exact_tags=a|t1&limit=20"),
            "tagged-images",
            Request("GET", "/search/images?exact_tags=a|t1&limit=20"),
            Request("GET", "/search/images?exact_tags=a|t1&limit=20"),
        ),
        Endpoint(
            "everydaypic download (100 KB PNG)",
            Request("GET", f"/everydaypic/v1/image/{seeded.everydaypic_id}"),
            "everydaypic",
            Request("GET", f"/v1/image/{seeded.everydaypic_id}"),
        ),
        Endpoint(
            "evotor upload (300x300 PNG, multipart)",
            Request("POST", "/evotor/stores/bench-store/products/p{n}/images", evotor_headers, upload),
            "evotor",
            Request("POST", "/stores/bench-store/products/p{n}/images", evotor_headers, upload),
        ),
        Endpoint(
            f"image-upload GetAllImages ({IMAGE_UPLOAD_RECORDS} images)",
            Request("GET", "/image-upload/GetAllImages", iu_auth),
            "image-upload",
            Request("GET", "/GetAllImages", iu_auth),
        ),
    ]


@dataclass
class Row:
    endpoint: str
    ours: dict
    prism: dict | None = None
    ceiling: dict | None = None
    rounds: dict = field(default_factory=dict)
    ours_miss: dict | None = None  # reads that the reply cache cannot answer

    @property
    def miss_vs_prism(self) -> float | None:
        if self.ours_miss is None or not self.prism or not self.prism["rps"]:
            return None
        return self.ours_miss["rps"] / self.prism["rps"]

    @property
    def vs_prism(self) -> float | None:
        return self.ours["rps"] / self.prism["rps"] if self.prism and self.prism["rps"] else None

    @property
    def vs_ceiling(self) -> float | None:
        return self.ours["rps"] / self.ceiling["rps"] if self.ceiling and self.ceiling["rps"] else None

    @property
    def headline(self) -> dict:
        """What a user meets: for a read, every request a reply-cache miss; a write is never cached."""
        return self.ours_miss or self.ours

    @property
    def headline_vs_prism(self) -> float | None:
        return self.headline["rps"] / self.prism["rps"] if self.prism and self.prism["rps"] else None

    @property
    def miss_vs_ceiling(self) -> float | None:
        if self.ours_miss is None or not self.ceiling or not self.ceiling["rps"]:
            return None
        return self.ours_miss["rps"] / self.ceiling["rps"]


def _summary(results: list[LoadResult], server: Server) -> dict:
    return {
        "rps": statistics.median(r.rps for r in results),
        "p50_ms": statistics.median(r.p50_ms for r in results),
        "p95_ms": statistics.median(r.p95_ms for r in results),
        "p99_ms": statistics.median(r.p99_ms for r in results),
        "bad": sum(r.bad_status for r in results),
        "requests": sum(r.requests for r in results),
        "peak_rss_mb": server.peak_rss_mb(),
    }


def measure(
    endpoints_: list[Endpoint],
    mock: Server,
    prisms: dict[str, Server],
    ceiling: Server | None,
    loadgen: str,
    rounds: int,
    duration: float,
    connections: int,
    warm_up: float = 0.0,
) -> list[Row]:
    rows = []
    for ep in endpoints_:
        runs: dict[str, list[LoadResult]] = {"ours": [], "ours_miss": [], "prism": [], "ceiling": []}
        targets = [("ours", mock, ep.ours)]
        if ep.miss is not None:
            targets.append(("ours_miss", mock, ep.miss))
        if ep.prism is not None and ep.prism_spec in prisms:
            targets.append(("prism", prisms[ep.prism_spec], ep.prism))
        if ep.ceiling is not None and ceiling is not None:
            targets.append(("ceiling", ceiling, ep.ceiling))
        for _target, server, request in targets if warm_up > 0 else []:  # JITs, caches, connections
            run_load(loadgen, HOST, server.port, request, warm_up, connections)
        for _ in range(rounds):
            for target, server, request in targets:  # in alternation, so drift in load hits all alike
                runs[target].append(run_load(loadgen, HOST, server.port, request, duration, connections))
        servers = {
            "ours": mock,
            "ours_miss": mock,
            "prism": prisms.get(ep.prism_spec or ""),
            "ceiling": ceiling,
        }
        summary = {k: _summary(v, servers[k]) for k, v in runs.items() if v}
        rows.append(
            Row(
                ep.name,
                summary["ours"],
                summary.get("prism"),
                summary.get("ceiling"),
                {k: [asdict(r) for r in v] for k, v in runs.items() if v},
                summary.get("ours_miss"),
            )
        )
        print(
            f"  {ep.name}: ours {summary['ours']['rps']:.0f}/s"
            + (f" (cache miss {summary['ours_miss']['rps']:.0f}/s)" if "ours_miss" in summary else "")
            + (f", prism {summary['prism']['rps']:.0f}/s" if "prism" in summary else "")
            + (f", ceiling {summary['ceiling']['rps']:.0f}/s" if "ceiling" in summary else ""),
            file=sys.stderr,
        )
    return rows


# A mixed workload, as a frontend makes one: reads with varied queries, one write in five in between, so
# that the reply cache rarely has the answer (each write changes the state it keys on).
MIX_READS_PER_WRITE = 4


def mixed_requests(seeded: Seeded) -> list[Request]:
    """40 reads (varied listings, pages, searches, records, tags; a download; the 1,000-image listing)
    and 10 writes (records, tags, a base64 upload, an evotor upload), 4 reads to each write."""
    base = "/tagged-images/v1"
    last = seeded.tagged_image_id
    reads = [f"{base}/images?limit={limit}&page={page}" for limit in (10, 20, 50, 100) for page in (0, 1, 2)]
    reads += [f"{base}/images?limit=20&uploaded_only=true", f"{base}/images?limit=20&start_timestamp=0"]
    reads += [f"{base}/images/{last - k * 17}" for k in range(11)]
    reads += [f"{base}/search/images?exact_tags=a|t{k}&limit=20&page={k % 2}" for k in range(5)]
    reads += [f"{base}/search/images?match_tags=t%25&limit=20"]
    reads += [f"{base}/search/images?exact_tags=t2&limit=50"]
    reads += [f"{base}/tags?limit=20", *(f"{base}/tags/{k}/images?limit=20" for k in range(1, 6))]
    requests = [Request("GET", path) for path in reads]
    requests.append(Request("GET", f"/everydaypic/v1/image/{seeded.everydaypic_id}"))
    iu_auth = {"Authorization": f"Bearer {image_upload_token()}"}
    requests.append(Request("GET", "/image-upload/GetAllImages", iu_auth))
    assert len(requests) == 40, len(requests)
    json_headers = {"Content-Type": "application/json"}
    icon = base64.b64encode((IMAGES / "icon-64.png").read_bytes()).decode()
    png300 = (IMAGES / "evotor-product-300.png").read_bytes()
    upload, ctype = _multipart({}, "datafile", "product.png", png300, "image/png")
    writes = [
        Request(
            "POST",
            f"{base}/images",
            json_headers,
            b'{"filename": "mix-{n}.png", "size": 10, "tags": ["a", "t1"]}',
            unique_body=True,
        )
        for _ in range(6)
    ]
    writes += [
        Request("POST", f"{base}/tags", json_headers, b'{"name": "tag-{n}"}', unique_body=True),
        Request("POST", f"{base}/tags", json_headers, b'{"name": "other-{n}"}', unique_body=True),
        Request(
            "POST",
            f"{base}/upload",
            json_headers,
            f'{{"filename": "mix-{{n}}.png", "image_data": "{icon}", "tags": ["t3"]}}'.encode(),
            unique_body=True,
        ),
        Request(
            "POST",
            "/evotor/stores/mix-store/products/p{n}/images",
            {"X-Authorization": EVOTOR_TOKEN, "Content-Type": ctype},
            upload,
        ),
    ]
    mix = []
    for i, write in enumerate(writes):
        mix += [*requests[i * MIX_READS_PER_WRITE : (i + 1) * MIX_READS_PER_WRITE], write]
    return mix


def mixed_workload(loadgen: str, rounds: int, duration: float, connections: int, quick: bool) -> dict:
    """A fresh mock, seeded as for the endpoints, driven with the mix: req/s, p50, p99, answers not 2xx."""
    mock = start_mock()
    try:
        seeded = seed_mock(mock, 50 if quick else IMAGE_UPLOAD_RECORDS)
        mix = mixed_requests(seeded)
        runs = [run_load(loadgen, HOST, mock.port, mix, duration, connections) for _ in range(rounds)]
        summary = _summary(runs, mock)
        with httpx.Client(base_url=f"http://{HOST}:{mock.port}", timeout=30) as client:
            state = client.get("/__mock__/state").json()
    finally:
        mock.stop()
    summary["records_after"] = len(state.get("apis", state).get("tagged-images", {}).get("images", []))
    summary["mix"] = f"{len(mix)} requests: {len(mix) - len(mix) // 5} reads, {len(mix) // 5} writes"
    print(f"  mixed workload: {summary['rps']:.0f}/s, p99 {summary['p99_ms']:.1f} ms", file=sys.stderr)
    return summary


def mixed_table(row: dict) -> str:
    return "\n".join(
        [
            "| workload | req/s | p50 (ms) | p99 (ms) | non-2xx | peak RSS (MB) | "
            "tagged-images records at the end |",
            "|---|---|---|---|---|---|---|",
            f"| 80% reads with varied queries, 20% writes ({row['mix']}) | {row['rps']:.0f} | "
            f"{row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['bad']} | {_fmt(row['peak_rss_mb'])} | "
            f"{row['records_after']} |",
        ]
    )


# The request journal's cost: the same requests at the mock with its journal (the default) and without
# (--journal-size 0), in alternation. A cached read shows the per-request bookkeeping at its most visible;
# a multipart upload adds the body summary (hash, parsed fields, the file's image header).
JOURNAL_ENDPOINTS = ("tagged-images list (limit 20)", "evotor upload (300x300 PNG, multipart)")


def journal_cost(
    endpoints_: list[Endpoint],
    on: Server,
    off: Server,
    loadgen: str,
    rounds: int,
    duration: float,
    connections: int,
) -> list[dict]:
    rows = []
    for ep in endpoints_:
        runs: dict[str, list[LoadResult]] = {"on": [], "off": []}
        pairs = (("on", on), ("off", off))
        for _name, server in pairs if rounds > 1 else []:  # warm-up
            run_load(loadgen, HOST, server.port, ep.ours, min(1.0, duration / 2), connections)
        for round_ in range(rounds):  # on first, then off first: neither always follows the other
            for name, server in pairs if round_ % 2 == 0 else pairs[::-1]:
                runs[name].append(run_load(loadgen, HOST, server.port, ep.ours, duration, connections))
        row = {"endpoint": ep.name, "on": _summary(runs["on"], on), "off": _summary(runs["off"], off)}
        row["on_vs_off"] = row["on"]["rps"] / row["off"]["rps"] if row["off"]["rps"] else None
        rows.append(row)
        print(
            f"  {ep.name}: journal on {row['on']['rps']:.0f}/s, off {row['off']['rps']:.0f}/s",
            file=sys.stderr,
        )
    return rows


def journal_table(rows: list[dict]) -> str:
    head = (
        "| endpoint | journal on req/s | journal off req/s | on/off | p50 on / off (ms) | p99 on / off (ms) |"
    )
    lines = [head, "|---|---|---|---|---|---|"]
    for r in rows:
        on, off = r["on"], r["off"]
        lines.append(
            f"| {r['endpoint']} | {on['rps']:.0f} | {off['rps']:.0f} | {_fmt(r['on_vs_off'], '.2f')}x | "
            f"{on['p50_ms']:.1f} / {off['p50_ms']:.1f} | {on['p99_ms']:.1f} / {off['p99_ms']:.1f} |"
        )
    return "\n".join(lines)


# -- start-up, scaling, memory, conformance ----------------------------------------------------------------


def startup_seconds(runs: int) -> float:
    """Wall time from launching ``mockserver`` (all five APIs) to its first answered request."""
    times = []
    for _ in range(runs):
        server = start_mock()
        times.append(server.started_s)
        server.stop()
    return statistics.median(times)


def _median_latency_ms(client, path: str, n: int) -> float:
    client.get(path).raise_for_status()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        r = client.get(path)
        times.append(time.perf_counter() - started)
        assert r.status_code == 200, r.text
    return statistics.median(times) * 1000


def store_scaling(sizes: tuple[int, ...], requests: int) -> dict:
    """In process (the whole Connexion stack, no socket): list/search latency as the store grows."""
    from starlette.testclient import TestClient

    from mockserver.app import create_app

    queries = {
        "list page 0": "/v1/images?limit=20",
        "list last page": None,
        "list date range": "/v1/images?limit=20&start_timestamp=0&end_timestamp=2147483647",
        "search exact_tags (1 tag)": "/v1/search/images?exact_tags=t1&limit=20",
        "search exact_tags (2 tags)": "/v1/search/images?exact_tags=a|t1&limit=20",
        "search match_tags": "/v1/search/images?match_tags=T%25&limit=20",
        "tag's images": "/v1/tags/2/images?limit=20",
    }
    out: dict[str, dict[int, float]] = {q: {} for q in queries}
    for size in sizes:
        # The reply cache off: each request reaches the store (a repeated query would be a cache hit).
        app = create_app(apis=("tagged-images",), prefixed=False, reply_cache_bytes=0)
        api = app.ctx.apis["tagged-images"]
        for i in range(size):  # through the handler's own create path: bounded by ``size``
            api.create_record(f"f{i}.png", 10, ["a", f"t{i % 5}"])
        with TestClient(app, base_url="http://localhost") as client:
            for name, path in queries.items():
                path = path or f"/v1/images?limit=20&page={max(0, size // 20 - 1)}"
                out[name][size] = _median_latency_ms(client, path, requests)
        del app, api
        gc.collect()
    return {name: {"ms": times, "ratio": times[sizes[-1]] / times[sizes[0]]} for name, times in out.items()}


def _distinct_pngs(count: int, side: int) -> list[bytes]:
    from PIL import Image

    images = []
    for _ in range(count):
        buf = io.BytesIO()
        Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, "PNG")
        images.append(buf.getvalue())
    return images


def memory_per_image(count: int) -> dict:
    """tracemalloc over ``count`` uploads through each API's upload operation: bytes kept beyond the data
    by the store, and apart, what the request journal keeps per request (a ring of the last 1,000, so
    bounded whatever the store holds)."""
    from starlette.testclient import TestClient

    from mockserver.app import create_app

    pngs = _distinct_pngs(count + 5, 48)
    results = {}
    uploads = {
        "tagged-images": lambda c, i, data: c.post(
            "/tagged-images/v1/upload",
            json={"filename": f"m{i}.png", "tags": ["mem"], "image_data": base64.b64encode(data).decode()},
        ),
        "image-upload": lambda c, i, data: c.post(
            "/image-upload/UploadImage",
            files={"file": (f"m{i}.png", data, "image/png")},
            headers={"Authorization": f"Bearer {image_upload_token()}"},
        ),
        "everydaypic": lambda c, i, data: c.post(
            "/everydaypic/v1/image",
            files={"file": (f"m{i}.png", data, "image/png")},
            data={"name": f"m{i}", "fileName": f"m{i}.png"},
        ),
    }
    data_bytes = sum(len(p) for p in pngs[:count])
    for api, upload in uploads.items():
        kept = {}
        for journal_size in (0, 1000):
            with TestClient(create_app(journal_size=journal_size), base_url="http://localhost") as client:
                for i in range(5):  # warm-up: lazily built caches are not per-image costs
                    assert upload(client, -i - 1, pngs[count + i]).status_code < 300
                gc.collect()
                tracemalloc.start()
                before = tracemalloc.get_traced_memory()[0]
                for i in range(count):
                    r = upload(client, i, pngs[i])
                    assert r.status_code < 300, r.text
                del r
                gc.collect()
                kept[journal_size] = tracemalloc.get_traced_memory()[0] - before
                tracemalloc.stop()
        results[api] = {
            "images": count,
            "mean_image_bytes": data_bytes / count,
            "overhead_bytes_per_image": (kept[0] - data_bytes) / count,
            "journal_bytes_per_request": (kept[1000] - kept[0]) / count,
        }
    return results


def conformance_times(apis: list[str], latencies: tuple[int, ...] = (0,)) -> dict:
    """``conformance --api X`` against a fresh mock, default profile, with ``latency_ms`` added to every
    request by the mock (as across a network to a staging server); wall time and exit status."""
    from image_api_contracts import APIS

    out = {}
    for latency in latencies:
        for api in apis:
            mock = start_mock()
            try:
                base = f"http://{HOST}:{mock.port}"
                if latency:
                    httpx.post(f"{base}/__mock__/behaviour", json={"latency_ms": latency}, timeout=10)
                started = time.perf_counter()
                done = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "conformance",
                        "--api",
                        api,
                        "--base-url",
                        base + APIS[api].base_path(True),
                    ],
                    cwd=ROOT,
                    env=CHILD_ENV,
                    capture_output=True,
                    text=True,
                    timeout=900,
                )
                key = api if not latency else f"{api} @{latency} ms"
                out[key] = {
                    "seconds": time.perf_counter() - started,
                    "exit": done.returncode,
                    "latency_ms": latency,
                }
                print(
                    f"  conformance {key}: {out[key]['seconds']:.1f}s exit {done.returncode}", file=sys.stderr
                )
            finally:
                mock.stop()
    return out


# -- machine and report ------------------------------------------------------------------------------------


def machine() -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gb = None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "host": socket.gethostname(),
        "cores": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": ram_gb,
        "os": platform.platform(),
        "load_avg_at_start": load,
    }


def versions(prism: str | None, wrk: str | None) -> dict:
    from importlib.metadata import version

    out = {"python": platform.python_version()}
    for package in ("connexion", "starlette", "uvicorn", "uvloop", "httptools", "jsonschema-rs", "orjson"):
        with contextlib.suppress(Exception):
            out[package] = version(package)
    out["prism"] = prism
    out["wrk"] = wrk or "not used (Python load generator)"
    return out


def _fmt(value, spec=".0f", none="—"):
    return none if value is None else format(value, spec)


def table(rows: list[Row]) -> str:
    """The headline first: every read a reply-cache miss (a write is never cached); the cache hit second."""
    head = (
        "| endpoint | ours req/s (reads: cache miss) | Prism req/s | ours/Prism | ours, cache hit req/s | "
        "hit/Prism | ceiling req/s | miss/ceiling | hit/ceiling | p50 ours / Prism (ms) | "
        "p95 ours / Prism (ms) | p99 ours / Prism (ms) | p99 ours, cache hit (ms) | "
        "peak RSS ours / Prism (MB) | non-2xx ours / Prism |"
    )
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        p, h = r.prism or {}, r.headline
        hit = r.ours if r.ours_miss is not None else {}
        lines.append(
            f"| {r.endpoint} | {_fmt(h['rps'])} | {_fmt(p.get('rps'))} | "
            f"{_fmt(r.headline_vs_prism, '.2f')}x | "
            f"{_fmt(hit.get('rps'))} | {_fmt(r.vs_prism if hit else None, '.2f')}x | "
            f"{_fmt((r.ceiling or {}).get('rps'))} | {_fmt(r.miss_vs_ceiling, '.2f')}x | "
            f"{_fmt(r.vs_ceiling if hit else None, '.2f')}x | "
            f"{h['p50_ms']:.1f} / {_fmt(p.get('p50_ms'), '.1f')} | "
            f"{_fmt(h.get('p95_ms'), '.1f')} / {_fmt(p.get('p95_ms'), '.1f')} | "
            f"{h['p99_ms']:.1f} / {_fmt(p.get('p99_ms'), '.1f')} | "
            f"{_fmt(hit.get('p99_ms'), '.1f')} | "
            f"{_fmt(r.ours['peak_rss_mb'])} / {_fmt(p.get('peak_rss_mb'))} | "
            f"{h['bad'] + (hit.get('bad') or 0)} / {_fmt(p.get('bad'), 'd')} |"
        )
    return "\n".join(lines).replace("| —x |", "| — |")


def targets(
    rows: list[Row], scaling: dict | None, memory: dict | None, conformance: dict | None
) -> list[str]:
    """Each goal with its measured ratio and MET / MISSED (reads as cache misses against Prism: 1.5x, the
    1,000-image listing 1.2x, as it sends 365 KB of real records against Prism's 205-byte example)."""
    out = []

    def line(ok: bool, text: str):
        out.append(f"- {'MET' if ok else 'MISSED'}: {text}")

    for r in rows:  # cache misses: what a user meets
        if r.headline_vs_prism is None:
            continue
        if r.ours_miss is not None:
            goal = MISS_GOALS.get(r.endpoint, 1.5)
            line(
                r.headline_vs_prism >= goal,
                f"{r.endpoint}, every read a reply-cache miss: throughput {r.headline_vs_prism:.2f}x "
                f"Prism's (target >= {goal:g}x)",
            )
        else:
            line(
                r.headline_vs_prism >= 1.2,
                f"{r.endpoint}: throughput {r.headline_vs_prism:.2f}x Prism's (target >= 1.2x)",
            )
    for r in rows[:1]:
        if r.miss_vs_ceiling is not None:
            line(
                r.miss_vs_ceiling >= 0.5,
                f"{r.endpoint}, every read a reply-cache miss: {r.miss_vs_ceiling:.2f}x the bare-Starlette "
                "ceiling (target >= 0.5x)",
            )
    for r in rows:  # kept: repeated reads (the reply cache) and tail latency
        if r.prism is None:
            continue
        if r.ours_miss is not None:
            line(
                r.vs_prism >= 1.5,
                f"{r.endpoint}, cache hit: throughput {r.vs_prism:.2f}x Prism's (target >= 1.5x)",
            )
        line(
            r.headline["p99_ms"] < r.prism["p99_ms"],
            f"{r.endpoint}: p99 {r.headline['p99_ms']:.1f} ms vs Prism's {r.prism['p99_ms']:.1f} ms "
            "(target: under)",
        )
    for name, data in (scaling or {}).items():
        sizes = sorted(data["ms"])
        line(
            data["ratio"] <= 2,
            f"{name}: {data['ms'][sizes[-1]]:.2f} ms at {sizes[-1]:,} records vs "
            f"{data['ms'][sizes[0]]:.2f} ms at {sizes[0]:,} ({data['ratio']:.2f}x; target <= 2x)",
        )
    for api, data in (memory or {}).items():
        line(
            data["overhead_bytes_per_image"] <= 2048,
            f"{api}: {data['overhead_bytes_per_image']:.0f} bytes kept per stored image beyond its "
            f"{data['mean_image_bytes']:.0f} bytes (target <= 2048)",
        )
    for latency, limit in ((0, 60), (50, 180)):
        runs = {k: v for k, v in (conformance or {}).items() if v.get("latency_ms", 0) == latency}
        if not runs:
            continue
        total = sum(v["seconds"] for v in runs.values())
        passed = all(v["exit"] == 0 for v in runs.values())
        each = ", ".join(f"{k} {v['seconds']:.1f}" for k, v in runs.items())
        where = f" at {latency} ms per request" if latency else ""
        line(
            total < limit and passed,
            f"conformance, all five APIs against the mock{where}: {total:.1f} s ({each}); "
            f"{'all passed' if passed else 'NOT all passed'} (target < {limit} s)",
        )
    return out


def report_markdown(meta: dict, rows: list[Row], extra: dict, target_lines: list[str]) -> str:
    m, v = meta["machine"], meta["versions"]
    parts = [
        f"# Benchmark {meta['date']} on {m['host']}",
        "",
        f"Machine: {m['cores']} cores, {m['cpu']}, {m['ram_gb']} GB RAM, {m['os']}; load average at start "
        f"{m['load_avg_at_start']}.",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        f"Run: `{meta['command']}` — {meta['rounds']} round(s) of {meta['duration']} s per server and "
        "endpoint, "
        f"in alternation, medians, after {meta.get('warm_up', 0):g} s of warm-up each; "
        f"{meta['connections']} connections; load generator: {meta['loadgen']}; request journal on "
        "(the default: the last 1,000 requests); "
        "one uvicorn worker (uvloop + httptools, access log off) for the mock and the ceiling, one Prism "
        "process per spec (static examples). Python processes run with their bytecode cache "
        "(PYTHONDONTWRITEBYTECODE unset for them).",
        "",
        table(rows),
        "",
    ]
    if extra.get("mixed"):
        parts += [
            "Mixed workload against the mock alone (a fresh one, seeded alike; each request of the mix in "
            "turn, every connection from its own starting point; the writes keep the reply cache from "
            "answering most reads):",
            "",
            mixed_table(extra["mixed"]),
            "",
        ]
    if extra.get("journal"):
        parts += [
            "The request journal (default: the last 1,000 requests) against none (`--journal-size 0`), "
            "same requests in alternation:",
            "",
            journal_table(extra["journal"]),
            "",
        ]
    if "startup_s" in extra:
        parts.append(
            f"Mock start-up (all five APIs, launch to first answer, median): {extra['startup_s']:.2f} s"
        )
        parts.append("")
    if extra.get("scaling"):
        parts.append("Store scaling (tagged-images, in process, median latency per request):")
        parts.append("")
        sizes = sorted(next(iter(extra["scaling"].values()))["ms"])
        parts.append("| query | " + " | ".join(f"{s:,} records (ms)" for s in sizes) + " | ratio |")
        parts.append("|---|" + "---|" * len(sizes) + "---|")
        for name, data in extra["scaling"].items():
            parts.append(
                f"| {name} | "
                + " | ".join(f"{data['ms'][s]:.2f}" for s in sizes)
                + f" | {data['ratio']:.2f}x |"
            )
        parts.append("")
    if extra.get("memory"):
        parts.append(
            "Memory per stored image (tracemalloc over uploads through the API; the store with "
            "`--journal-size 0`, then what the journal adds):"
        )
        parts.append("")
        for api, data in extra["memory"].items():
            parts.append(
                f"- {api}: {data['images']} images of {data['mean_image_bytes']:.0f} bytes; "
                f"{data['overhead_bytes_per_image']:.0f} bytes kept per image beyond its bytes; the request "
                f"journal {data['journal_bytes_per_request']:.0f} bytes per request (of the last 1,000 only)"
            )
        parts.append("")
    if extra.get("conformance"):
        by_latency: dict[int, dict] = {}
        for k, x in extra["conformance"].items():
            by_latency.setdefault(x.get("latency_ms", 0), {})[k] = x
        for latency, runs in sorted(by_latency.items()):
            total = sum(x["seconds"] for x in runs.values())
            where = "" if not latency else f", {latency} ms added to every request"
            parts.append(
                f"Conformance against the mock, default profile{where}: {total:.1f} s in all ("
                + ", ".join(f"{k} {x['seconds']:.1f} s exit {x['exit']}" for k, x in runs.items())
                + ")."
            )
        parts.append("")
    parts += ["Goals:", "", *target_lines, ""]
    return "\n".join(parts)


# -- main --------------------------------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke mode: 1 round of 0.5 s, small stores, no conformance (seconds, not minutes)",
    )
    p.add_argument("--duration", type=float, help="seconds per round per server (default 5; quick 1)")
    p.add_argument("--rounds", type=int, help="rounds in alternation (default 3; quick 1)")
    p.add_argument(
        "--warm-up",
        type=float,
        help=f"seconds of load on each server per endpoint before its rounds (default {WARM_UP_SECONDS:g}; "
        "quick 0): Prism's JIT needs about five to reach the speed a user of a running Prism meets",
    )
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--no-prism", action="store_true", help="skip Prism (no npm needed)")
    p.add_argument(
        "--loadgen",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="auto: wrk if available (installed when root), else the Python generator",
    )
    p.add_argument("--skip-conformance", action="store_true")
    p.add_argument(
        "--conformance-latencies",
        default="0,50,200",
        help="latencies (ms, comma-separated) the mock adds to every request for the conformance run times",
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="ENDPOINT",
        help="measure only the endpoints whose name contains this text (repeatable; e.g. 'list (limit 20)')",
    )
    p.add_argument(
        "--no-extras",
        action="store_true",
        help="throughput only: skip start-up, store scaling, memory and conformance",
    )
    p.add_argument(
        "--mixed", action="store_true", help="with --only: run the mixed workload too (it runs by default)"
    )
    p.add_argument("--output-dir", type=Path, default=RESULTS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quick = args.quick
    duration = args.duration or (0.5 if quick else 5.0)
    rounds = args.rounds or (1 if quick else 3)
    warm_up = args.warm_up if args.warm_up is not None else (0.0 if quick else WARM_UP_SECONDS)
    prism_version = None if args.no_prism else ensure_prism()
    wrk_version = None
    if args.loadgen != "python":
        wrk_version = ensure_wrk()
        if wrk_version is None and args.loadgen == "wrk":
            print("benchmarks: --loadgen wrk but wrk is not available", file=sys.stderr)
            return 2
    loadgen = "wrk" if wrk_version else "python"
    meta = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "versions": versions(prism_version, wrk_version),
        "rounds": rounds,
        "duration": duration,
        "connections": args.connections,
        "loadgen": loadgen,
        "warm_up": warm_up,
    }
    servers: list[Server] = []
    try:
        print("benchmarks: starting the mock, Prism and the ceiling ...", file=sys.stderr)
        mock = start_mock()
        servers.append(mock)
        seeded = seed_mock(mock, 50 if quick else IMAGE_UPLOAD_RECORDS)
        eps = [ep for ep in endpoints(seeded) if not args.only or any(o in ep.name for o in args.only)]
        if not eps:
            print(f"benchmarks: no endpoint matches --only {args.only}", file=sys.stderr)
            return 2
        prisms = {}
        if prism_version:
            for spec in sorted({ep.prism_spec for ep in eps if ep.prism_spec}):
                prisms[spec] = start_prism(spec)
                servers.append(prisms[spec])
        ceiling = start_ceiling()
        servers.append(ceiling)
        print("benchmarks: measuring throughput ...", file=sys.stderr)
        rows = measure(eps, mock, prisms, ceiling, loadgen, rounds, duration, args.connections, warm_up)
        journal_eps = [ep for ep in eps if ep.name in JOURNAL_ENDPOINTS]
        if journal_eps:  # two fresh mocks, seeded alike: the first one's caches are full by now
            print("benchmarks: the request journal on and off ...", file=sys.stderr)
            pair = [start_mock(), start_mock(None, "--journal-size", "0")]
            servers += pair
            for server in pair:
                seed_mock(server, 50 if quick else IMAGE_UPLOAD_RECORDS)
            journal_rows = journal_cost(journal_eps, *pair, loadgen, rounds, duration, args.connections)
    finally:
        for server in servers:
            server.stop()
    extra: dict = {"journal": journal_rows} if journal_eps else {}
    if not args.only or args.mixed:
        print("benchmarks: the mixed workload ...", file=sys.stderr)
        extra["mixed"] = mixed_workload(loadgen, rounds, duration, args.connections, quick)
    if not args.no_extras:
        print("benchmarks: start-up, scaling, memory ...", file=sys.stderr)
        extra["startup_s"] = startup_seconds(1 if quick else 3)
        extra["scaling"] = store_scaling((100, 1_000) if quick else (100, 100_000), 20 if quick else 200)
        extra["memory"] = memory_per_image(20 if quick else 300)
    if not quick and not args.skip_conformance and not args.no_extras:
        print("benchmarks: conformance run time ...", file=sys.stderr)
        extra["conformance"] = conformance_times(
            ["everydaypic", "evotor", "image-upload", "sharinpix", "tagged-images"],
            tuple(int(ms) for ms in args.conformance_latencies.split(",")),
        )
    target_lines = targets(rows, extra.get("scaling"), extra.get("memory"), extra.get("conformance"))
    markdown = report_markdown(meta, rows, extra, target_lines)
    print(markdown)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{meta['date'][:10]}-{meta['machine']['host']}"
    (args.output_dir / f"{stem}.md").write_text(markdown, encoding="utf-8")
    data = {
        **meta,
        "rows": [
            {
                **asdict(r),
                "vs_prism": r.vs_prism,
                "miss_vs_prism": r.miss_vs_prism,
                "vs_ceiling": r.vs_ceiling,
            }
            for r in rows
        ],
        **extra,
        "targets": target_lines,
    }
    (args.output_dir / f"{stem}.json").write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    print(f"benchmarks: results written to {args.output_dir / stem}.md and .json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
