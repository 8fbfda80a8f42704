"""No lock is held while waiting: a write with ``Prefer: delay`` (or the behaviour's latency) holds up no
other request, read or write, in memory and under --state-dir (before: every other request waited out the
whole delay, on every worker)."""

from __future__ import annotations

import statistics
import threading
import time

import httpx
import pytest
from mock_process import MockProcess

DELAY_MS = 2000
STALL_BOUND_SECONDS = 0.05


def timed(client: httpx.Client, method: str, path: str, **kwargs) -> float:
    started = time.perf_counter()
    response = client.request(method, path, **kwargs)
    assert response.status_code < 300, response.text
    return time.perf_counter() - started


def probes(client: httpx.Client, count: int) -> list[float]:
    """A read and a write of the delayed write's own API, alternately."""
    seconds = []
    for i in range(count):
        if i % 2:
            seconds.append(
                timed(client, "POST", "/tagged-images/v1/tags", json={"name": f"p{time.time_ns()}"})
            )
        else:
            seconds.append(timed(client, "GET", "/tagged-images/v1/tags"))
    return seconds


@pytest.mark.parametrize("durable", [False, True], ids=["memory", "state-dir"])
@pytest.mark.parametrize("how", ["prefer", "behaviour"])
def test_a_delayed_write_stalls_no_other_request(tmp_path, durable, how):
    args = ["--state-dir", str(tmp_path / "state")] if durable else []
    server = MockProcess(*args, "--no-access-log", log_dir=tmp_path)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            baseline = probes(client, 20)
            headers = {"Prefer": f"delay={DELAY_MS}"} if how == "prefer" else {}
            if how == "behaviour":  # every request under the prefix waits: the delayed one is a write
                body = {"latency_ms": DELAY_MS, "path_prefix": "/tagged-images/v1/images"}
                assert client.post("/__mock__/behaviour", json=body).status_code == 200
            delayed: list[float] = []
            writer = threading.Thread(
                target=lambda: delayed.append(
                    timed(
                        client,
                        "POST",
                        "/tagged-images/v1/images",
                        json={"filename": "a.png"},
                        headers=headers,
                    )
                )
            )
            writer.start()
            time.sleep(0.2)  # the delayed write is in
            during = []
            deadline = time.monotonic() + DELAY_MS / 1000 - 0.5
            while time.monotonic() < deadline and len(during) < 200:  # bounded in count and time
                during.extend(probes(client, 2))
            writer.join(timeout=30)
    finally:
        server.stop()
    assert delayed and delayed[0] >= DELAY_MS / 1000  # the delay itself was honoured
    stall = max(during) - statistics.median(baseline)
    worst_baseline = max(baseline) - statistics.median(baseline)
    assert stall <= worst_baseline + STALL_BOUND_SECONDS, (
        f"{len(during)} requests during the delayed write: worst {max(during) * 1000:.0f} ms, "
        f"baseline median {statistics.median(baseline) * 1000:.0f} ms, worst {max(baseline) * 1000:.0f} ms"
    )
