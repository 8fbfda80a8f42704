"""What the dashboard costs the APIs' own requests: ``python benchmarks/dashboard_cost.py``.

Three mocks on free 127.0.0.1 ports, each driven by one client sending requests one after another
(latency, not throughput): this code with no dashboard open, this code with one dashboard open, and,
with ``--baseline DIR`` (an export of the code before the dashboard existed, e.g.
``git archive <commit> mockserver specs fixtures | tar -x -C DIR``), that code. The open dashboard is
emulated as the page behaves: it follows ``GET /__mock__/requests/feed`` and, 150 ms after a write it
saw, reloads the gallery (``GET /__mock__/ui/api/records``). The mocks are driven in turn, in a rotating
order, for ``--rounds`` rounds, so drift on a shared machine falls on all of them alike. Two requests: a
listing (``tagged-images``, a reply-cache hit after the first) and an upload (``evotor``, multipart,
300x300 PNG, a new product each time). Prints p50/p95/p99 and the ratios to "no page", as Markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from support.mock_process import free_port  # noqa: E402

from image_api_contracts.profiles import auth_headers  # noqa: E402

START_SECONDS = 30
GALLERY_DELAY = 0.15  # the page reloads its gallery this long after a write it saw


def png_300() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (300, 300), (58, 123, 213)).save(buf, "PNG")
    return buf.getvalue()


class Mock:
    def __init__(self, label: str, cwd: Path):
        self.label = label
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "mockserver", "--port", str(self.port), "--log-level", "warning"]
        self.proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if httpx.get(self.url + "/", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{label}: the mock did not start")
            time.sleep(0.05)

    def stop(self) -> float:
        """SIGTERM; the seconds it took to exit."""
        started = time.monotonic()
        self.proc.terminate()
        self.proc.wait(timeout=30)
        return time.monotonic() - started


class Page:
    """One open dashboard: follows the feed and reloads the gallery after writes, as dashboard.js does.
    It runs in a process of its own (``--page URL``), as a browser would: not in the driver's GIL."""

    def __init__(self, url: str):
        self.url = url
        self.events = 0
        self.gallery_loads = 0
        self._timer: threading.Timer | None = None

    def _reload_gallery(self) -> None:
        httpx.get(f"{self.url}/__mock__/ui/api/records", timeout=30)
        self.gallery_loads += 1

    def run(self) -> None:
        httpx.get(f"{self.url}/__mock__/ui/api/records", timeout=30)
        httpx.get(f"{self.url}/__mock__/requests?limit=100", timeout=30)
        try:
            with httpx.stream("GET", f"{self.url}/__mock__/requests/feed", timeout=None) as feed:
                print("ready", flush=True)
                for line in feed.iter_lines():
                    if line.startswith("data: "):
                        self.events += 1
                        idle = self._timer is None or not self._timer.is_alive()
                        if idle and '"method":"GET"' not in line[:400]:
                            self._timer = threading.Timer(GALLERY_DELAY, self._reload_gallery)
                            self._timer.start()
        except httpx.HTTPError:
            pass


def open_page(url: str) -> subprocess.Popen:
    page = subprocess.Popen([sys.executable, __file__, "--page", url], stdout=subprocess.PIPE, text=True)
    if page.stdout.readline().strip() != "ready":
        raise SystemExit("the page did not open its feed")
    return page


def close_page(page: subprocess.Popen) -> str:
    page.send_signal(signal.SIGINT)
    return page.communicate(timeout=30)[0].strip()


def follow_as_page(url: str) -> int:
    page = Page(url)
    with contextlib.suppress(KeyboardInterrupt):  # the driver's SIGINT ends the page
        page.run()
    print(f"the page saw {page.events} feed events and reloaded its gallery {page.gallery_loads} times")
    return 0


def drive(client: httpx.Client, endpoint: str, count: int, png: bytes, counter: list[int]) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        if endpoint == "list":
            answer = client.get("/tagged-images/v1/images", params={"limit": 20})
        else:
            counter[0] += 1
            answer = client.post(
                f"/evotor/stores/bench/products/p-{counter[0]}/images",
                files={"datafile": ("p.png", png, "image/png")},
                headers=auth_headers("evotor"),
            )
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code >= 300:
            raise SystemExit(f"{endpoint}: {answer.status_code} {answer.text[:200]}")
    return times


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--requests", type=int, default=50, help="per endpoint, per mock, per round")
    parser.add_argument("--baseline", type=Path, help="a directory holding the code before the dashboard")
    parser.add_argument("--page", metavar="URL", help=argparse.SUPPRESS)  # the page's own process
    args = parser.parse_args()
    if args.page:
        return follow_as_page(args.page)
    png = png_300()
    mocks = {"no page": Mock("no page", ROOT), "one page open": Mock("one page open", ROOT)}
    if args.baseline:
        mocks["before the dashboard"] = Mock("before the dashboard", args.baseline)
    page = open_page(mocks["one page open"].url)
    clients = {label: httpx.Client(base_url=mock.url, timeout=30) for label, mock in mocks.items()}
    counters = {label: [0] for label in mocks}
    times = {(label, ep): [] for label in mocks for ep in ("list", "upload")}
    labels = list(mocks)
    for label in labels:  # warm-up, not counted
        for ep in ("list", "upload"):
            drive(clients[label], ep, 30, png, counters[label])
    for round_ in range(args.rounds):
        order = labels[round_ % len(labels) :] + labels[: round_ % len(labels)]
        for label in order:
            for ep in ("list", "upload"):
                times[label, ep] += drive(clients[label], ep, args.requests, png, counters[label])
    seen = close_page(page)
    stops = {}
    for label, mock in mocks.items():
        clients[label].close()
        stops[label] = mock.stop()
    print(
        f"{args.rounds} rounds x {args.requests} requests per endpoint and mock; {os.cpu_count()} cores; "
        f"{seen}\n"
    )
    print("| request | mock | p50 ms | p95 ms | p99 ms | p50 / no page | p95 / no page | p99 / no page |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for ep in ("list", "upload"):
        base = {q: percentile(times["no page", ep], q) for q in (50, 95, 99)}
        for label in labels:
            got = {q: percentile(times[label, ep], q) for q in (50, 95, 99)}
            ratios = " | ".join(f"{got[q] / base[q]:.3f}" for q in (50, 95, 99))
            print(f"| {ep} | {label} | {got[50]:.2f} | {got[95]:.2f} | {got[99]:.2f} | {ratios} |")
    print("\nSIGTERM to exit: " + ", ".join(f"{label} {s:.2f} s" for label, s in stops.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
