"""Load generators: wrk when it is installed, else a small asyncio HTTP/1.1 client with keep-alive.

Both drive ``connections`` persistent connections for ``duration`` seconds and report requests/s, the
50th and 99th latency percentiles, and how many answers were not the expected status class (2xx).
A request is described by :class:`Request`; ``path`` (and, if it says so, ``body``) may contain ``{n}``,
replaced by a text unique to each request (so that e.g. every upload goes to a new product). A list of
requests is a mix: each connection sends them in turn, from its own starting point (the mixed workload).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    unique_body: bool = False  # ``{n}`` in the body too (a JSON write); never in a binary body


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    bad_status: int  # answers outside 2xx, or broken connections
    p95_ms: float = float("nan")

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_path() -> str | None:
    return shutil.which("wrk")


def _lua_string(data: bytes) -> str:
    """A Lua string literal holding exactly ``data`` (decimal escapes for every byte)."""
    return '"' + "".join(f"\\{b}" for b in data) + '"'


_WRK_SCRIPT = """
local counter = 0
local thread_id = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  thread_id = tid
end
local mix = {%(mix)s}
function request()
  counter = counter + 1
  local r = mix[((counter + thread_id * 7919) %% #mix) + 1]
  local unique = thread_id .. "x" .. counter
  local path = string.gsub(r[2], "{n}", unique)
  if r[4] == "" then return wrk.format(r[1], path, r[3]) end
  if r[5] then return wrk.format(r[1], path, r[3], (string.gsub(r[4], "{n}", unique))) end
  return wrk.format(r[1], path, r[3], r[4])
end
function done(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    'WRKJSON {"requests": %%d, "micros": %%d, "p50": %%d, "p99": %%d, "bad": %%d, "p95": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), bad,
    latency:percentile(95)))
end
"""


def _lua_request(request: Request) -> str:
    headers = ", ".join(
        f"[{_lua_string(k.encode())}] = {_lua_string(v.encode())}" for k, v in request.headers.items()
    )
    parts = (request.method.encode(), request.path.encode())
    unique = "true" if request.unique_body else "false"
    return f"{{{', '.join(map(_lua_string, parts))}, {{{headers}}}, {_lua_string(request.body)}, {unique}}}"


def run_wrk(
    host: str, port: int, requests: list[Request], duration: float, connections: int, threads: int = 2
) -> LoadResult:
    script = _WRK_SCRIPT % {"mix": ", ".join(_lua_request(r) for r in requests)}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        script_path = f.name
    try:
        seconds = max(1, round(duration))
        out = subprocess.run(
            [
                wrk_path() or "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                script_path,
                f"http://{host}:{port}/",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    finally:
        Path(script_path).unlink(missing_ok=True)
    for line in out.stdout.splitlines():
        if line.startswith("WRKJSON "):
            data = json.loads(line[len("WRKJSON ") :])
            return LoadResult(
                data["requests"],
                data["micros"] / 1e6,
                data["p50"] / 1000,
                data["p99"] / 1000,
                data["bad"],
                data["p95"] / 1000,
            )
    raise RuntimeError(f"wrk gave no result: {out.stdout[-500:]} {out.stderr[-500:]}")


# -- the Python fallback -------------------------------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        for _ in range(1_000_000):  # bounded: one iteration per chunk
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


def _encode(request: Request, host: str, n: str) -> bytes:
    body = request.body.replace(b"{n}", n.encode()) if request.unique_body else request.body
    lines = [f"{request.method} {request.path.replace('{n}', n)} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items()]
    if body or request.method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _run_python(host, port, requests: list[Request], duration: float, connections: int) -> LoadResult:
    latencies: list[float] = []
    bad = 0
    counter = 0
    deadline = time.perf_counter() + duration

    async def worker(index: int):
        nonlocal bad, counter
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                counter += 1
                request = requests[(counter + index * 7919) % len(requests)]
                started = time.perf_counter()
                writer.write(_encode(request, host, f"{index}x{counter}"))
                status = await asyncio.wait_for(_read_response(reader), timeout=10)
                latencies.append(time.perf_counter() - started)
                if not 200 <= status < 300:
                    bad += 1
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            bad += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(connections)))
    seconds = time.perf_counter() - started
    if not latencies:
        return LoadResult(0, seconds, 0.0, 0.0, bad)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    p50 = statistics.median(latencies)
    return LoadResult(len(latencies), seconds, p50 * 1000, p99 * 1000, bad, p95 * 1000)


def run_python(
    host: str, port: int, requests: list[Request], duration: float, connections: int
) -> LoadResult:
    return asyncio.run(_run_python(host, port, requests, duration, connections))


_RUNS = itertools.count(1)


def run_load(
    kind: str, host: str, port: int, request: Request | list[Request], duration: float, connections: int
) -> LoadResult:
    """``kind``: "wrk" or "python". ``{n}`` stays unique across runs: each run gets its own prefix."""
    prefix = f"{os.getpid()}r{next(_RUNS)}x"
    requests = []
    for r in request if isinstance(request, list) else [request]:
        body = r.body.replace(b"{n}", f"{prefix}{{n}}".encode()) if r.unique_body else r.body
        requests.append(dataclasses.replace(r, path=r.path.replace("{n}", f"{prefix}{{n}}"), body=body))
    if kind == "wrk":
        return run_wrk(host, port, requests, duration, connections)
    return run_python(host, port, requests, duration, connections)
