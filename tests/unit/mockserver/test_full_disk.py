"""A full disk under --state-dir is survivable: writes get a 503 that says the disk is full, nothing
acknowledged is lost, and a delete or a reset frees space and works (reset never answers 500). On a real
small tmpfs when this runs as root and may mount one, and by fault injection everywhere."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import sqlite3
import subprocess

import httpx
import pytest
from PIL import Image
from starlette.testclient import TestClient
from support.mock_process import MockProcess

from mockserver.app import create_app

FULL = "is full"


def noisy_png(seed: int) -> bytes:
    """~250 KB that do not compress: the disk fills in a few dozen uploads."""
    buf = io.BytesIO()
    Image.frombytes("RGB", (300, 300), hashlib.shake_256(str(seed).encode()).digest(270_000)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the fault-injection tests below run anyway)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_tmpfs_ends_with_delete_and_reset_working_and_nothing_acknowledged_lost(small_disk, tmp_path):
    server = MockProcess("--state-dir", str(small_disk / "state"), "--no-access-log", log_dir=tmp_path)
    try:
        with httpx.Client(base_url=f"{server.url}/tagged-images/v1", timeout=30) as http:
            kept: dict[int, bytes] = {}
            refused = None
            for i in range(60):  # bounded: 8 MB hold about 30 of these
                png = noisy_png(i)
                response = http.post(
                    "/upload", json={"filename": f"{i}.png", "image_data": base64.b64encode(png).decode()}
                )
                if response.status_code != 201:
                    refused = response
                    break
                kept[response.json()["id"]] = png
            assert refused is not None and refused.status_code == 503, "the disk never filled"
            assert FULL in refused.json()["message"] and "/__mock__/reset" in refused.json()["message"]
            tag = http.post("/tags", json={"name": "x" * 200})
            assert tag.status_code in (201, 503)
            for image_id, png in kept.items():  # every acknowledged upload, byte for byte
                url = http.get(f"/images/{image_id}").json()["url"]
                assert httpx.get(url, timeout=30).content == png
            first = next(iter(kept))
            deleted = http.delete(f"/images/{first}")
            assert deleted.status_code == 204, deleted.text
            del kept[first]
            again = noisy_png(1000)
            stored = http.post(
                "/upload", json={"filename": "again.png", "image_data": base64.b64encode(again).decode()}
            )
            assert stored.status_code in (201, 503), stored.text  # a delete frees about one image
            assert httpx.post(f"{server.url}/__mock__/reset", timeout=30).status_code == 204
            state = httpx.get(f"{server.url}/__mock__/state").json()
            assert state["stored_files"] == 0
            after = http.post(
                "/upload", json={"filename": "b.png", "image_data": base64.b64encode(again).decode()}
            )
            assert after.status_code == 201, after.text
    finally:
        server.stop()


@pytest.fixture
def durable_client(tmp_path):
    app = create_app(state_dir=tmp_path / "state", allow_hosts=("testserver",))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client


def fail_commits(monkeypatch, app, times: int, exc: Exception):
    """The next ``times`` commits fail with ``exc`` (what SQLite or the file system raise on a full disk)."""
    state, real = app.durable, app.durable.commit
    left = [times]

    async def commit(apis):
        if left[0] > 0:
            left[0] -= 1
            raise exc
        return await real(apis)

    monkeypatch.setattr(state, "commit", commit)


@pytest.mark.parametrize(
    "exc",
    [sqlite3.OperationalError("database or disk is full"), OSError(28, "No space left on device")],
    ids=["sqlite", "file"],
)
def test_an_injected_full_disk_is_named_and_delete_frees_it(durable_client, monkeypatch, exc):
    app, client = durable_client
    created = client.post("/tagged-images/v1/images", json={"filename": "a.png"}).json()["id"]
    fail_commits(monkeypatch, app, 1, exc)
    refused = client.post("/tagged-images/v1/tags", json={"name": "t"})
    assert refused.status_code == 503 and FULL in refused.json()["message"]
    assert client.get("/tagged-images/v1/tags").json()["results"] == []  # nothing half-kept
    fail_commits(monkeypatch, app, 1, exc)  # the delete's first commit fails: the reserve is released
    assert client.delete(f"/tagged-images/v1/images/{created}").status_code == 204
    assert client.get(f"/tagged-images/v1/images/{created}").status_code == 404
    assert (app.settings.state_dir / "reserve").exists()  # released for the delete, taken back after it
    assert client.post("/tagged-images/v1/tags", json={"name": "t"}).status_code == 201


def test_reset_never_answers_500_even_when_the_journal_cannot_be_cleared(durable_client, monkeypatch):
    app, client = durable_client
    client.post("/tagged-images/v1/tags", json={"name": "t"})

    def full(*_):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(app.ctx.journal, "clear", full)
    fail_commits(monkeypatch, app, 1, sqlite3.OperationalError("database or disk is full"))
    with contextlib.suppress(Exception):
        response = client.post("/__mock__/reset")
    assert response.status_code == 204, response.text
    assert client.get("/tagged-images/v1/tags").json()["results"] == []


def test_clearing_the_journal_on_a_full_disk_says_so(durable_client, monkeypatch):
    app, client = durable_client

    def full(*_):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(app.ctx.journal, "clear", full)
    response = client.delete("/__mock__/requests")
    assert response.status_code == 503 and FULL in response.json()["error"]
