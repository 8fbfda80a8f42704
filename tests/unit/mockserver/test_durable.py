"""``--state-dir`` and ``--workers``: real ``mockserver`` processes on 127.0.0.1, stopped, killed with
SIGKILL and restarted on the same directory; what was acknowledged must be there, byte for byte."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from starlette.testclient import TestClient
from support.failing import fail_after_change
from support.images import image_bytes
from support.mock_process import MockProcess
from support.stores import schema1_store

from image_api_contracts import auth_headers
from image_api_contracts.devtokens import DEV_ALBUM
from mockserver.app import create_app
from mockserver.state import durable
from mockserver.state.durable import DB_FILE

EVOTOR = "/evotor/stores/s1/products/{product}/images"


@pytest.fixture
def mock(tmp_path):
    """``mock(*args)`` starts a server on ``tmp_path/state``; every one still running is stopped after."""
    started: list[MockProcess] = []

    def start(*args: str) -> MockProcess:
        started.append(MockProcess("--state-dir", str(tmp_path / "state"), *args, log_dir=tmp_path))
        return started[-1]

    yield start
    for server in started:
        server.stop()
        server.kill()


def _state_dir(tmp_path):
    return tmp_path / "state"


# -- one upload per API, with the requests of tests/e2e/test_mockserver_cli.py ---------------------------
def upload_everywhere(url: str, n: int) -> dict[str, bytes]:
    """Upload on all five APIs; returns {download path: bytes} for everything that keeps bytes."""
    files: dict[str, bytes] = {}
    with httpx.Client(base_url=url, timeout=30) as c:
        png = image_bytes(20 + n, 10, color=(n, 1, 2))
        r = c.post(
            "/everydaypic/v1/image",
            files={"file": ("a.png", png, "image/png")},
            data={"fileName": f"a{n}.png", "name": f"A{n}"},
        )
        assert r.status_code == 200, r.text
        files[f"/everydaypic/v1/image/{r.json()[0]['id']}"] = png

        png300 = image_bytes(300, 300, color=(n, 3, 4))
        r = c.post(
            EVOTOR.format(product=f"p{n}"),
            files={"datafile": ("p.png", png300, "image/png")},
            headers=auth_headers("evotor"),
        )
        assert r.status_code == 200, r.text
        files[httpx.URL(r.json()["url"]).path] = png300

        r = c.post(
            "/image-upload/UploadImage",
            files={"file": ("x.png", png, "image/png")},
            headers=auth_headers("image-upload"),
        )
        assert r.status_code == 200, r.text
        files[httpx.URL(r.json()["data"]["mediaLink"]).path] = png

        r = c.post(
            f"/sharinpix/api/v1/albums/{DEV_ALBUM}/images/",
            content=f"cloudinary[public_id]=x{n}&cloudinary[width]=5",
            headers={**auth_headers("sharinpix"), "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 200, r.text

        r = c.post(
            "/tagged-images/v1/upload",
            json={"filename": f"t{n}.png", "tags": ["kept"], "image_data": base64.b64encode(png).decode()},
        )
        assert r.status_code == 201, r.text
        files[f"/tagged-images/v1/images/{r.json()['id']}"] = png  # downloaded through its signed url
    return files


def download(url: str, path: str) -> bytes:
    if path.startswith("/tagged-images/"):
        path = httpx.URL(httpx.get(url + path, timeout=30).json()["url"]).raw_path.decode()
    r = httpx.get(url + path, timeout=30)
    assert r.status_code == 200, (path, r.text)
    return r.content


def mock_state(url: str) -> dict:
    return httpx.get(url + "/__mock__/state", timeout=30).json()


def integrity(state_dir) -> str:
    with sqlite3.connect(state_dir / DB_FILE) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


# -- restart -------------------------------------------------------------------------------------------------
def test_restart_keeps_every_record_byte_and_signed_url(mock, tmp_path):
    first = mock()
    files = {**upload_everywhere(first.url, 1), **upload_everywhere(first.url, 2)}
    record = httpx.get(first.url + next(p for p in files if p.startswith("/tagged-images/"))).json()
    presigned = httpx.post(first.url + "/tagged-images/v1/images", json={"filename": "later.png"}).json()
    before = mock_state(first.url)
    assert before["stored_files"] == 8
    assert "new state" in first.stop()

    second = mock()
    assert mock_state(second.url) == before
    for path, data in files.items():
        assert download(second.url, path) == data, path
    # URLs signed before the restart are still valid after it (the signing key is in the state dir).
    signed = httpx.URL(record["url"]).copy_with(port=second.port)
    assert httpx.get(signed).content == files[f"/tagged-images/v1/images/{record['id']}"]
    put = httpx.URL(presigned["upload_url"]).copy_with(port=second.port)
    assert httpx.put(put, content=image_bytes(8, 8)).status_code in (200, 204)
    assert "state restored" in second.stop()
    assert integrity(_state_dir(tmp_path)) == "ok"


def test_an_old_state_json_snapshot_is_imported_once(tmp_path):
    state_dir = tmp_path / "state"
    (state_dir / "blobs").mkdir(parents=True)
    png = image_bytes(5, 5)
    key = "everydaypic/e1"
    name = hashlib.sha256(key.encode()).hexdigest()
    (state_dir / "blobs" / name).write_bytes(png)
    record = {
        "id": "e1",
        "name": "old",
        "fileName": "old.png",
        "created": "2024-01-01T00:00:00Z",
        "userID": "anonymous",
        "content_type": "image/png",
    }
    snapshot = {
        "version": 1,
        "apis": {"everydaypic": {"images": [record]}},
        "blobs": {key: {"file": name, "content_type": "image/png"}},
    }
    (state_dir / "state.json").write_text(json.dumps(snapshot))

    for expected_origin in ("imported", "restored"):
        app = create_app(allow_hosts=("testserver",), state_dir=state_dir)
        try:
            assert app.durable.origin == expected_origin
            with TestClient(app) as client:
                assert client.get("/everydaypic/v1/image/e1").content == png
                assert client.get("/everydaypic/v1/image/info?id=e1").json()[0]["name"] == "old"
        finally:
            app.durable.close()
        assert not (state_dir / "state.json").exists()
        assert (state_dir / "state.json.imported").exists()
    assert not (state_dir / "blobs" / name).exists()  # the old file, now held under a new name, is gone


def test_a_failed_write_is_rolled_back_in_memory_and_on_disk(tmp_path):
    """A handler that changes state and then fails (500) leaves nothing behind, now or after a restart."""
    state_dir = tmp_path / "state"

    def open_app():
        return create_app(allow_hosts=("testserver",), state_dir=state_dir)

    app = open_app()
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            fail_after_change(app.ctx.apis["everydaypic"], "create_image", "boom after the change")
            r = client.post(
                "/everydaypic/v1/image",
                files={"file": ("a.png", image_bytes(6, 6), "image/png")},
                data={"fileName": "a.png", "name": "A"},
            )
            assert r.status_code == 500
            assert r.headers["content-type"].startswith("text/plain")  # everydaypic's error format
            assert client.get("/__mock__/state").json()["apis"]["everydaypic"] == {"images": []}
            assert client.get("/__mock__/state").json()["stored_files"] == 0
    finally:
        app.durable.close()
    assert list((state_dir / "blobs").iterdir()) == []
    app = open_app()
    try:
        assert app.ctx.dump()["everydaypic"] == {"images": []}
    finally:
        app.durable.close()


def test_a_write_waits_for_another_process_then_gets_a_503_and_reads_go_on(tmp_path, monkeypatch):
    """While another connection holds the write lock past the busy timeout, a write is refused in the
    API's own format with nothing changed, and reads are served from the last commit (WAL)."""
    monkeypatch.setattr(durable, "BUSY_TIMEOUT_SECONDS", 0.2)
    state_dir = tmp_path / "state"
    app = create_app(
        allow_hosts=("testserver",), state_dir=state_dir, apis=("tagged-images",), prefixed=False
    )
    other = sqlite3.connect(state_dir / DB_FILE, isolation_level=None)
    try:
        with TestClient(app) as client:
            assert client.post("/v1/images", json={"filename": "before.png"}).status_code == 201
            other.execute("BEGIN IMMEDIATE")
            r = client.post("/v1/images", json={"filename": "blocked.png"})
            assert r.status_code == 503 and r.json()["code"] == 503, r.text  # {code, message}
            assert [i["filename"] for i in client.get("/v1/images").json()["results"]] == ["before.png"]
            other.execute("ROLLBACK")
            assert client.post("/v1/images", json={"filename": "after.png"}).status_code == 201
            assert client.get("/v1/images").json()["meta"]["total_results"] == 2
    finally:
        other.close()
        app.durable.close()


def test_the_store_quota_counts_committed_and_pending_bytes_across_restarts(tmp_path):
    state_dir = tmp_path / "state"
    png = image_bytes(30, 30)
    settings = {"state_dir": state_dir, "apis": ("tagged-images",), "prefixed": False}

    def upload(client):
        body = {"filename": "q.png", "image_data": base64.b64encode(png).decode()}
        return client.post("/v1/upload", json=body)

    app = create_app(allow_hosts=("testserver",), max_store_bytes=len(png) * 2 + 1, **settings)
    try:
        with TestClient(app) as client:
            first = upload(client).json()["id"]
            assert upload(client).status_code == 201
            refused = upload(client)  # two fit; the third would exceed the quota
            assert refused.status_code == 507 and "quota" in refused.json()["message"]
    finally:
        app.durable.close()
    app = create_app(allow_hosts=("testserver",), max_store_bytes=len(png) * 2 + 1, **settings)
    try:
        with TestClient(app) as client:
            assert client.get("/__mock__/state").json()["stored_bytes"] == 2 * len(png)
            assert upload(client).status_code == 507
            assert client.delete(f"/v1/images/{first}").status_code == 204
            assert client.get("/__mock__/state").json()["stored_bytes"] == len(png)
            assert upload(client).status_code == 201
            assert client.get("/__mock__/state").json()["stored_files"] == 2
            assert client.post("/__mock__/reset").status_code == 204
            assert client.get("/__mock__/state").json()["stored_bytes"] == 0
    finally:
        app.durable.close()
    assert list((state_dir / "blobs").iterdir()) == []


def test_without_state_dir_nothing_touches_the_disk(make_client):
    client = make_client()
    assert client.app.durable is None
    assert "x-mock-worker" not in client.get("/__mock__/state").headers


# -- kill -9 -------------------------------------------------------------------------------------------------
def test_kill_9_right_after_acknowledgements_keeps_them_all(mock, tmp_path):
    first = mock()
    files = {}
    for n in range(3):
        files.update(upload_everywhere(first.url, n))
    before = mock_state(first.url)
    first.kill()  # no graceful shutdown: nothing runs after the last acknowledgement

    assert integrity(_state_dir(tmp_path)) == "ok"
    second = mock()
    assert mock_state(second.url) == before
    for path, data in files.items():
        assert download(second.url, path) == data, path


def test_kill_9_mid_upload_loses_only_the_unacknowledged_upload(mock, tmp_path):
    first = mock()
    files = {**upload_everywhere(first.url, 1), **upload_everywhere(first.url, 2)}
    before = mock_state(first.url)

    # An upload whose body has only half arrived when the server dies.
    payload = json.dumps(
        {"filename": "partial.png", "image_data": base64.b64encode(image_bytes(400, 400)).decode()}
    ).encode()
    head = (
        f"POST /tagged-images/v1/upload HTTP/1.1\r\nHost: 127.0.0.1:{first.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", first.port), timeout=10) as sock:
        sock.sendall(head + payload[: len(payload) // 2])
        # The server is alive and has not answered: the upload is in flight.
        assert httpx.get(first.url + "/", timeout=10).status_code == 200
        first.kill()
        assert sock.recv(1024) == b""  # closed without a response

    assert integrity(_state_dir(tmp_path)) == "ok"
    second = mock()
    after = mock_state(second.url)
    assert after == before
    assert "partial.png" not in json.dumps(after)
    for path, data in files.items():
        assert download(second.url, path) == data, path
    blob_files = list((_state_dir(tmp_path) / "blobs").iterdir())
    assert len(blob_files) == after["stored_files"]  # no orphan file left behind


def test_kill_9_during_concurrent_uploads_keeps_every_acknowledged_one(mock, tmp_path):
    """Threads upload until the server is killed at an arbitrary moment: every upload that was answered
    is there after a restart, with its bytes; no file is left that no record names."""
    first = mock()
    acked: dict[int, bytes] = {}
    stop = threading.Event()

    def uploader(worker: int) -> None:
        for n in range(1000):  # bounded; the kill ends it long before
            if stop.is_set():
                return
            png = image_bytes(10 + n % 50, 10 + worker, color=(worker, n % 256, 7))
            body = {"filename": f"k{worker}-{n}.png", "image_data": base64.b64encode(png).decode()}
            try:
                r = httpx.post(first.url + "/tagged-images/v1/upload", json=body, timeout=30)
            except httpx.TransportError:
                return  # the server died with this request in flight
            assert r.status_code == 201, r.text
            acked[r.json()["id"]] = png

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(uploader, w) for w in range(4)]
        deadline = time.monotonic() + 60
        while len(acked) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        first.kill()
        stop.set()
        for future in futures:
            future.result(timeout=60)
    assert len(acked) >= 20

    assert integrity(_state_dir(tmp_path)) == "ok"
    second = mock()
    for image_id, png in acked.items():
        assert download(second.url, f"/tagged-images/v1/images/{image_id}") == png
    state = mock_state(second.url)
    assert len(list((_state_dir(tmp_path) / "blobs").iterdir())) == state["stored_files"] >= len(acked)


# -- workers -------------------------------------------------------------------------------------------------
def test_workers_need_a_state_dir():
    run = subprocess.run(
        [sys.executable, "-m", "mockserver", "--workers", "2"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 2
    assert "--workers N needs --state-dir DIR" in run.stderr


def _fresh(method: str, url: str, **kwargs) -> httpx.Response:
    """One request on its own connection, so successive requests can land on different workers."""
    with httpx.Client(timeout=30) as c:
        return c.request(method, url, **kwargs)


def test_workers_share_one_state(mock):
    server = mock("--workers", "2")
    url = server.url + "/tagged-images/v1"
    workers: set[str] = set()
    crossed = 0  # rounds whose read was served by another worker than the upload
    ids: list[int] = []
    for n in range(200):
        if crossed >= 5 and n >= 20:
            break
        png = image_bytes(10 + n, 7, color=(n % 256, 9, 9))
        up = _fresh(
            "POST",
            url + "/upload",
            json={"filename": f"w{n}.png", "tags": ["w"], "image_data": base64.b64encode(png).decode()},
        )
        assert up.status_code == 201, up.text
        image_id = up.json()["id"]
        ids.append(image_id)
        got = _fresh("GET", f"{url}/images/{image_id}")
        assert got.status_code == 200, got.text
        assert _fresh("GET", got.json()["url"]).content == png
        listed = _fresh("GET", url + "/images", params={"limit": 1}).json()["results"]
        assert listed[0]["id"] == image_id  # newest first
        if n % 2:
            assert _fresh("DELETE", f"{url}/images/{image_id}").status_code == 204
            assert _fresh("GET", f"{url}/images/{image_id}").status_code == 404
        workers |= {up.headers["x-mock-worker"], got.headers["x-mock-worker"]}
        crossed += up.headers["x-mock-worker"] != got.headers["x-mock-worker"]
    assert len(workers) == 2 and crossed >= 5, (workers, crossed)
    assert len(set(ids)) == len(ids)  # ids are never reused, whichever worker allocates them

    # Concurrent uploads from threads all land, each with its own id.
    pngs = [image_bytes(50, 5 + i) for i in range(24)]

    def upload(png: bytes) -> int:
        r = _fresh(
            "POST",
            url + "/upload",
            json={"filename": "c.png", "tags": ["concurrent"], "image_data": base64.b64encode(png).decode()},
        )
        assert r.status_code == 201, r.text
        return r.json()["id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        new_ids = list(pool.map(upload, pngs))
    assert len(set(new_ids) | set(ids)) == len(new_ids) + len(ids)
    tags = _fresh("GET", url + "/tags", params={"limit": 100}).json()["results"]
    tag_id = next(t["id"] for t in tags if t["name"] == "concurrent")
    tagged = _fresh("GET", f"{url}/tags/{tag_id}/images", params={"limit": 100}).json()["results"]
    assert sorted(r["id"] for r in tagged) == sorted(new_ids)

    # One image per evotor product holds across workers: of concurrent uploads, exactly one wins.
    png300 = image_bytes(300, 300)

    def evotor_upload(_):
        return _fresh(
            "POST",
            server.url + EVOTOR.format(product="race"),
            files={"datafile": ("p.png", png300, "image/png")},
            headers=auth_headers("evotor"),
        ).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(evotor_upload, range(6)))
    assert statuses == [200, 409, 409, 409, 409, 409]


# -- old data never stops the start ------------------------------------------------------------------------
def _old_snapshot(state_dir, apis: dict, blobs: dict | None = None) -> None:
    (state_dir / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot = {"version": 1, "apis": apis, "blobs": blobs or {}}
    (state_dir / "state.json").write_text(json.dumps(snapshot))  # ensure_ascii: "\ud800" as an escape


def test_an_old_state_json_with_lone_surrogates_is_repaired_and_the_server_starts(tmp_path, caplog):
    state_dir = tmp_path / "state"
    image = {
        "id": 1,
        "filename": "\ud800.png",
        "size": 2**64,
        "created_timestamp": 1700000000,
        "created_by": "anonymous",
        "uploaded_timestamp": None,
        "tag_ids": [1],
    }
    _old_snapshot(
        state_dir,
        {
            "tagged-images": {
                "images": [image],
                "tags": [{"id": 1, "name": "x\udfff"}],
                "next_image_id": 2,
                "next_tag_id": 2,
            },
            "everydaypic": {"images": [{"id": "e1", "unexpected": "shape"}]},
        },
        {"evotor/gone": {"file": "no-such-file", "content_type": "image/png"}},
    )
    with caplog.at_level("WARNING", logger="mockserver"):
        app = create_app(allow_hosts=("testserver",), state_dir=state_dir)
    try:
        with TestClient(app) as client:
            record = client.get("/tagged-images/v1/images/1")
            assert record.status_code == 200, record.text
            assert record.json()["filename"] == "\ufffd.png"
            assert record.json()["size"] == 2**63 - 1
            assert record.json()["tags"] == [{"id": 1, "name": "x\ufffd"}]
            for path in ("/tagged-images/v1/images", "/tagged-images/v1/tags", "/__mock__/state"):
                assert client.get(path).status_code == 200, path
            assert client.get("/everydaypic/v1/image/info").status_code == 404  # skipped: no images
    finally:
        app.durable.close()
    logged = caplog.text
    assert "repaired 3 value(s)" in logged and "lone surrogate" in logged, logged
    assert "the everydaypic state" in logged and "is skipped" in logged, logged
    assert "the file of evotor/gone is skipped" in logged, logged


def test_a_stored_row_that_orjson_refuses_is_read_repaired(tmp_path, caplog):
    """Rows written by older versions with ``json.dumps`` may hold ``\\ud800`` escapes: a schema-1 store's
    row is repaired as it is migrated."""
    state_dir = schema1_store(tmp_path)
    tags = [{"id": 1, "name": "\ud800"}]
    row = json.dumps({"images": [], "tags": tags, "next_image_id": 1, "next_tag_id": 2})
    with sqlite3.connect(state_dir / DB_FILE) as db:
        db.execute("UPDATE api_state SET json = ?, version = version + 1 WHERE api = 'tagged-images'", (row,))
    with caplog.at_level("WARNING", logger="mockserver"):
        app = create_app(allow_hosts=("testserver",), state_dir=state_dir)
    try:
        with TestClient(app) as client:
            assert client.get("/tagged-images/v1/tags").json()["results"] == [{"id": 1, "name": "\ufffd"}]
    finally:
        app.durable.close()
    assert "repaired 1 value(s)" in caplog.text, caplog.text
