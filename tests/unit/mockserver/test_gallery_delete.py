"""The dashboard gallery's delete goes through the API's own state path (``remove_record``), never its
``dump()``/``restore()``: one click costs the same at any store size, the record is gone from the API's own
answers, its neighbours and their indexes stay, and under ``--state-dir`` the commit stores that one row."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from support.images import image_bytes

from image_api_contracts import auth_headers
from image_api_contracts.devtokens import DEV_ALBUM
from mockserver.state.durable import DB_FILE

GALLERY = "/__mock__/ui/api/records"
RECORDS = 3


@dataclass(frozen=True)
class ApiUnderTest:
    """How to make one record through the API's own requests (returning the id the gallery shows), and
    the API's own answer that tells whether it still holds it (404 once it is gone)."""

    name: str
    create: Callable  # (client, n) -> record id
    fetch: Callable  # (client, record id) -> response


def _evotor_create(client, n):
    answer = client.post(
        f"/stores/s1/products/p{n}/images",
        files={"datafile": ("p.png", image_bytes(300, 300), "image/png")},
        headers=auth_headers("evotor"),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def _evotor_fetch(client, record_id):
    records = client.get("/__mock__/state").json()["apis"]["evotor"]["images"]
    products = {r["id"]: r["product_id"] for r in records}
    # A deleted image's product is no longer listed: ask under the product it was made for.
    product_id = products.get(record_id, "unknown")
    return client.get(f"/stores/s1/products/{product_id}/images/{record_id}", headers=auth_headers("evotor"))


def _image_upload_create(client, n):
    answer = client.post(
        "/UploadImage",
        files={"file": (f"f{n}.png", image_bytes(8, 8), "image/png")},
        headers=auth_headers("image-upload"),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["fileName"]


def _image_upload_fetch(client, record_id):
    """image-upload has no read of one image: its file URL (``mediaLink``) answers while it is stored."""
    return client.get(f"/__mock__/files/image-upload/{record_id}")


def _everydaypic_create(client, n):
    answer = client.post(
        "/v1/image",
        files={"file": ("a.png", image_bytes(8, 8), "image/png")},
        data={"fileName": "shared.png", "name": f"n{n}"},  # one fileName: its index holds every record
    )
    assert answer.status_code == 200, answer.text
    return answer.json()[0]["id"]


def _tagged_images_create(client, n):
    data = base64.b64encode(image_bytes(8, 8)).decode()
    answer = client.post("/v1/upload", json={"filename": f"t{n}.png", "tags": ["all"], "image_data": data})
    assert answer.status_code in (200, 201), answer.text
    return str(answer.json()["id"])


def _sharinpix_create(client, n):
    answer = client.post(
        f"/api/v1/albums/{DEV_ALBUM}/images/",
        content=f"cloudinary[public_id]=p{n}&cloudinary[width]=8&cloudinary[height]=8&cloudinary[format]=png",
        headers={**auth_headers("sharinpix"), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def _sharinpix_fetch(client, record_id):
    """sharinpix has no read of one image: its rendition placeholders answer while it is stored."""
    return client.get(f"/__mock__/files/sharinpix/{record_id}/thumbnails/mini.png")


APIS = [
    ApiUnderTest("evotor", _evotor_create, _evotor_fetch),
    ApiUnderTest("image-upload", _image_upload_create, _image_upload_fetch),
    ApiUnderTest("everydaypic", _everydaypic_create, lambda c, i: c.get(f"/v1/image/{i}")),
    ApiUnderTest("tagged-images", _tagged_images_create, lambda c, i: c.get(f"/v1/images/{i}")),
    ApiUnderTest("sharinpix", _sharinpix_create, _sharinpix_fetch),
]


def _latest_rows(state_dir) -> int:
    """How many record rows the last commit stored (a deletion's is a tombstone)."""
    with sqlite3.connect(state_dir / DB_FILE) as db:
        version = db.execute("SELECT value FROM meta WHERE name = 'version'").fetchone()[0]
        return db.execute("SELECT count(*) FROM records WHERE version = ?", (version,)).fetchone()[0]


def _refuse(what: str):
    def refused(*_args, **_kwargs):
        raise AssertionError(f"the gallery's delete called {what}(): O(records) per click")

    return refused


@pytest.mark.parametrize("store", ["memory", "sqlite"])
@pytest.mark.parametrize("api", APIS, ids=lambda a: a.name)
def test_a_gallery_delete_removes_one_record_through_the_api_state_path_without_a_dump(
    make_client, tmp_path, api, store
):
    settings = {"state_dir": tmp_path / "state"} if store == "sqlite" else {}
    client = make_client(api.name, **settings)
    ids = [api.create(client, n) for n in range(RECORDS)]
    assert all(api.fetch(client, i).status_code == 200 for i in ids)
    handler = client.app.ctx.apis[api.name]
    handler.dump, handler.restore = _refuse("dump"), _refuse("restore")
    try:
        deleted = client.delete(f"{GALLERY}/{api.name}/{ids[1]}")
        assert deleted.status_code == 204, deleted.text
        if store == "sqlite":
            assert _latest_rows(tmp_path / "state") == 1  # the record's tombstone, nothing else
        assert client.delete(f"{GALLERY}/{api.name}/{ids[1]}").status_code == 404
        gallery = client.get(GALLERY).json()["apis"][api.name]
    finally:
        del handler.dump, handler.restore
    assert gallery["count"] == RECORDS - 1
    assert [item["id"] for item in gallery["items"]] == [ids[0], ids[2]]
    assert api.fetch(client, ids[1]).status_code == 404
    assert all(api.fetch(client, i).status_code == 200 for i in (ids[0], ids[2]))
    if store == "sqlite":  # a process opened afterwards loads the store without the record
        reopened = make_client(api.name, **settings)
        assert api.fetch(reopened, ids[1]).status_code == 404
        assert all(api.fetch(reopened, i).status_code == 200 for i in (ids[0], ids[2]))


def test_a_gallery_delete_leaves_the_apis_indexes_as_its_own_delete_would(make_client):
    """The indexes a search or a listing reads lose the record and keep the others: everydaypic's fileName
    index (three records share one name) and tagged-images' per-tag and newest-first listings."""
    client = make_client()
    everydaypic = [_everydaypic_create(_Prefixed(client, "/everydaypic"), n) for n in range(RECORDS)]
    assert client.delete(f"{GALLERY}/everydaypic/{everydaypic[0]}").status_code == 204
    named = client.get("/everydaypic/v1/image/info", params={"fileName": "shared.png"}).json()
    assert [r["id"] for r in named if r["fileName"] == "shared.png"][-2:] == everydaypic[1:]
    assert everydaypic[0] not in [r["id"] for r in named]

    tagged = [int(_tagged_images_create(_Prefixed(client, "/tagged-images"), n)) for n in range(RECORDS)]
    assert client.delete(f"{GALLERY}/tagged-images/{tagged[1]}").status_code == 204
    page = client.get("/tagged-images/v1/images", params={"limit": 100}).json()
    listed = [r["id"] for r in page["results"]]
    assert tagged[1] not in listed and {tagged[0], tagged[2]} <= set(listed)
    found = client.get("/tagged-images/v1/search/images", params={"exact_tags": "all", "limit": 100}).json()
    assert tagged[1] not in [r["id"] for r in found["results"]]
    assert {tagged[0], tagged[2]} <= {r["id"] for r in found["results"]}
    assert client.delete(f"{GALLERY}/tagged-images/not-a-number").status_code == 404


class _Prefixed:
    """A client whose paths go to one API of a mock serving all five under their prefixes."""

    def __init__(self, client, prefix: str):
        self.client, self.prefix = client, prefix

    def post(self, path, **kwargs):
        return self.client.post(self.prefix + path, **kwargs)
