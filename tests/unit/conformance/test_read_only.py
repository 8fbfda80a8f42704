"""--read-only sends nothing but GET, HEAD and OPTIONS, from any layer of the suite: Schemathesis'
phases (unexpected-method probes, negative cases), its checks, the behaviour checks, their clean-ups.

Every API's read-only run goes through a server that records every method and accepts every write."""

from __future__ import annotations

import pytest
from support.live_server import LiveServer
from support.recording_server import RecordingServer

from conformance.runner import run
from conformance.target import Target
from image_api_contracts import APIS


@pytest.fixture(scope="module")
def recorder():
    mock = LiveServer()
    server = RecordingServer(mock.url)
    yield server
    server.stop()
    mock.stop()


def _read_only_target(recorder, api: str, tmp_path, seed: int, max_examples: int) -> Target:
    """A read-only run of ``api`` against the recording server."""
    return Target(
        api=api,
        base_url=recorder.url + f"/{api}" + APIS[api].server_path,
        seed=seed,
        max_examples=max_examples,
        shrink_seconds=1,
        read_only=True,
        bodies_dir=str(tmp_path),
    )


@pytest.mark.parametrize("api", list(APIS))
def test_a_read_only_run_sends_only_safe_methods(recorder, api, tmp_path, record_property):
    recorder.clear()
    report = run(_read_only_target(recorder, api, tmp_path, seed=3, max_examples=5))
    methods = recorder.by_method()
    record_property("read_only", f"{api}: {methods}")
    assert recorder.unsafe() == [], recorder.unsafe()[:20]
    reads = [m for item in APIS[api].spec["paths"].values() for m in item if m == "get"]
    if not reads:  # sharinpix documents one operation, an upload: read-only has nothing to send
        assert all(v.status == "skip" for v in report.verdicts), report.summary_lines()
        return
    assert methods.get("GET", 0) > 0, methods
    gated = [o.message for v in report.verdicts for o in v.checks if "read-only gate" in o.message]
    assert gated == [], gated  # the layers kept to safe methods themselves; the gate had nothing to stop
    statuses = {v.id: v.status for v in report.verdicts}
    assert statuses["ALL-01"] == "pass", report.summary_lines()  # reads were judged, not only skipped


def test_the_gate_stops_an_unsafe_request_before_it_leaves(recorder):
    """The last line: whatever a future check sends through httpx or requests, a write never leaves."""
    import httpx
    import requests

    from conformance.readonly import UnsafeRequestRefused, safe_methods_only

    recorder.clear()
    with safe_methods_only():
        for send in (
            lambda: httpx.put(recorder.url + "/tagged-images/v1/images/0"),
            lambda: requests.delete(recorder.url + "/tagged-images/v1/tags/1", timeout=10),
            lambda: httpx.request("TRACE", recorder.url + "/x"),
        ):
            with pytest.raises(UnsafeRequestRefused):
                send()
        assert httpx.get(recorder.url + "/tagged-images/v1/images").status_code == 200
    assert httpx.post(recorder.url + "/x").status_code == 201  # the gate is gone after the run
    assert recorder.by_method() == {"GET": 1, "POST": 1}


def test_read_only_holds_in_worker_processes_too(recorder, tmp_path):
    recorder.clear()
    report = run(_read_only_target(recorder, "tagged-images", tmp_path, seed=4, max_examples=3), workers=3)
    assert recorder.unsafe() == [], recorder.unsafe()[:20]
    assert recorder.by_method().get("GET", 0) > 0
    assert {v.id: v.status for v in report.verdicts}["ALL-01"] == "pass", report.summary_lines()
