"""The ``mockserver`` command as a user runs it: a real process on a free port, real HTTP round trips."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import httpx
import pytest
from support.images import image_bytes
from support.mock_process import MockProcess

from image_api_contracts import auth_headers
from image_api_contracts.devtokens import DEV_ALBUM


@pytest.fixture
def serve(tmp_path):
    servers = []

    def start(*args):
        servers.append(MockProcess(*args, log_dir=tmp_path))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


def test_all_five_apis_round_trip_through_the_command(serve):
    server = serve()
    print(f"\nmockserver (all five APIs) answered after {server.startup_seconds:.2f}s")
    with httpx.Client(base_url=server.url, timeout=10) as c:
        png = image_bytes(33, 21)
        r = c.post(
            "/everydaypic/v1/image",
            files={"file": ("a.png", png, "image/png")},
            data={"fileName": "a.png", "name": "A"},
        )
        image_id = r.json()[0]["id"]
        assert c.get(f"/everydaypic/v1/image/info?id={image_id}").status_code == 200
        assert c.get(f"/everydaypic/v1/image/{image_id}").content == png

        h = auth_headers("evotor")
        base = "/evotor/stores/s1/products/p1/images"
        png300 = image_bytes(300, 300)
        created = c.post(base, files={"datafile": ("p.png", png300, "image/png")}, headers=h).json()
        assert [i["id"] for i in c.get(base, headers=h).json()["items"]] == [created["id"]]
        assert c.get(created["url"]).content == png300
        assert c.delete(f"{base}/{created['id']}", headers=h).status_code == 204
        assert c.get(base, headers=h).json()["items"] == []

        h = auth_headers("image-upload")
        data = c.post(
            "/image-upload/UploadImage", files={"file": ("x.png", png, "image/png")}, headers=h
        ).json()["data"]
        assert data["fileName"] in [
            d["fileName"] for d in c.get("/image-upload/GetAllImages", headers=h).json()["data"]
        ]
        assert c.get(data["mediaLink"]).content == png
        assert (
            c.delete(f"/image-upload/DeleteImage?FileName={data['fileName']}", headers=h).status_code == 200
        )
        assert c.get(data["mediaLink"]).status_code == 404

        h = {**auth_headers("sharinpix"), "Content-Type": "application/x-www-form-urlencoded"}
        r = c.post(
            f"/sharinpix/api/v1/albums/{DEV_ALBUM}/images/",
            content="cloudinary[public_id]=x1&cloudinary[width]=5",
            headers=h,
        )
        assert r.status_code == 200 and r.json()["width"] == 5

        r = c.post(
            "/tagged-images/v1/upload",
            json={"filename": "t.png", "image_data": base64.b64encode(png).decode()},
        )
        tid = r.json()["id"]
        record = c.get(f"/tagged-images/v1/images/{tid}").json()
        assert c.get(record["url"]).content == png
        assert c.delete(f"/tagged-images/v1/images/{tid}").status_code == 204
        assert c.get(f"/tagged-images/v1/images/{tid}").status_code == 404
    assert server.startup_seconds < 10


def test_one_api_at_its_real_paths_with_presigned_put(serve):
    server = serve("--api", "tagged-images")
    with httpx.Client(base_url=server.url, timeout=10) as c:
        created = c.post("/v1/images", json={"filename": "later.png", "tags": ["x"]}).json()
        png = image_bytes(12, 12)
        assert c.put(created["upload_url"], content=png).status_code in (200, 204)
        record = c.get(f"/v1/images/{created['id']}").json()
        assert record["uploaded_timestamp"] is not None and c.get(record["url"]).content == png
        assert c.get("/tagged-images/v1/images").status_code == 404  # not prefixed when served alone
        assert "tagged-images" in c.get("/").text


def test_state_dir_survives_a_restart(serve, tmp_path):
    png = image_bytes(300, 300, color=(1, 2, 3))
    first = serve("--state-dir", str(tmp_path))
    h = auth_headers("evotor")
    base = "/evotor/stores/s/products/p/images"
    created = httpx.post(first.url + base, files={"datafile": ("p.png", png, "image/png")}, headers=h).json()
    upload = httpx.post(first.url + "/tagged-images/v1/images", json={"filename": "a.png"}).json()
    assert "new state" in first.stop()
    second = serve("--state-dir", str(tmp_path))
    items = httpx.get(second.url + base, headers=h).json()["items"]
    assert [i["id"] for i in items] == [created["id"]]
    assert httpx.get(second.url + f"/__mock__/files/evotor/{created['id']}").content == png
    # A presigned URL handed out before the restart is still valid after it (the key is kept).
    put_url = upload["upload_url"].replace(str(first.port), str(second.port))
    assert httpx.put(put_url, content=image_bytes(8, 8)).status_code in (200, 204)
    assert "state restored" in second.stop()


def test_seed_data_flag_preloads_fixtures(serve):
    server = serve("--seed-data")
    meta = httpx.get(server.url + "/tagged-images/v1/images").json()["meta"]
    assert meta["total_results"] >= 2


def test_help_lists_every_option():
    out = subprocess.run(
        [sys.executable, "-m", "mockserver", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for option in (
        "--api",
        "--host",
        "--port",
        "--seed-data",
        "--state-dir",
        "--workers",
        "--max-store-bytes",
        "--jwt-secret",
    ):
        assert option in out


def test_console_script_is_installed():
    bindir = os.path.dirname(sys.executable)
    assert os.path.exists(os.path.join(bindir, "mockserver"))
