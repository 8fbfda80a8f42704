"""No lock is held while waiting: a write with ``Prefer: delay`` (or the behaviour's latency) holds up no
other request, read or write, in memory and under --state-dir (before: every other request waited out the
whole delay, on every worker)."""

from __future__ import annotations

import statistics
import threading
import time

import httpx
import pytest
from support.mock_process import MockProcess

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
            baseline = probes(client, 40)
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
            while time.monotonic() < deadline and len(during) < 40:  # bounded in count and time
                during.extend(probes(client, 2))
                time.sleep(0.02)  # spread over the delay
            writer.join(timeout=30)
            baseline += probes(client, 40)  # as many again after: the worst of 80 against the worst of 40
    finally:
        server.stop()
    assert delayed and delayed[0] >= DELAY_MS / 1000  # the delay itself was honoured
    stall = max(during) - statistics.median(baseline)
    worst_baseline = max(baseline) - statistics.median(baseline)
    assert stall <= worst_baseline + STALL_BOUND_SECONDS, (
        f"{len(during)} requests during the delayed write: worst {max(during) * 1000:.0f} ms, "
        f"baseline median {statistics.median(baseline) * 1000:.0f} ms, worst {max(baseline) * 1000:.0f} ms"
    )


def near_limit_png() -> bytes:
    """7071 x 7071 pixels (just under the 50-megapixel limit), one grey: ~60 KB sent, ~0.25 s to decode."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (7071, 7071), 128).save(buf, "PNG")
    return buf.getvalue()


UPLOAD_STALL_BOUND_SECONDS = 0.15  # decoding shares the CPU (and, in part, the GIL) with the small upload


@pytest.mark.parametrize("durable", [False, True], ids=["memory", "state-dir"])
def test_a_small_upload_does_not_wait_for_large_images_to_decode(tmp_path, durable):
    """Images are decoded before the write lock: before, a 559-byte upload waited 11.2 s behind twenty
    49-megapixel ones to the same API."""
    from support.images import image_bytes

    args = ["--state-dir", str(tmp_path / "state")] if durable else []
    server = MockProcess(*args, "--no-access-log", log_dir=tmp_path)
    big, small = near_limit_png(), image_bytes(8, 8)

    def upload(client, data, name):
        files = {"file": (f"{name}.png", data, "image/png")}
        return timed(
            client, "POST", "/everydaypic/v1/image", files=files, data={"fileName": name, "name": name}
        )

    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            baseline = [upload(client, small, f"s{i}") for i in range(10)]
            big_seconds: list[float] = []

            def big_upload(i):
                with httpx.Client(base_url=server.url, timeout=60) as own:
                    big_seconds.append(upload(own, big, f"b{i}"))

            bigs = [threading.Thread(target=big_upload, args=(i,)) for i in range(4)]
            for thread in bigs:
                thread.start()
            time.sleep(0.05)
            during = [upload(client, small, f"d{i}") for i in range(5)]
            for thread in bigs:
                thread.join(timeout=60)
    finally:
        server.stop()
    assert len(big_seconds) == 4  # the large ones were stored too
    stall = max(during) - statistics.median(baseline)
    assert stall <= max(baseline) - statistics.median(baseline) + UPLOAD_STALL_BOUND_SECONDS, (
        f"small uploads during four 50-MP ones: {[round(s * 1000) for s in during]} ms, "
        f"baseline median {statistics.median(baseline) * 1000:.0f} ms"
    )
