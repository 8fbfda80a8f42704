"""evotor through the mock (EVT-01..10, ALL-01..05)."""

from __future__ import annotations

import asyncio
import io
import re
import uuid

import httpx
from PIL import Image, PngImagePlugin
from support.evotor import AUTH, PRODUCT, STORE, images_path, upload
from support.images import image_bytes
from support.json_bodies import json_of

from image_api_contracts import FIXTURES_DIR
from mockserver.apis.evotor import EvotorApi
from mockserver.app import create_app

LIMIT = 5242800
SEED_KEYS = {"id", "user_id", "store_id", "product_id", "url", "meta", "created_at", "updated_at"}
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


def listed(client, store=STORE, product=PRODUCT) -> list[dict]:
    r = client.get(images_path(store, product), headers=AUTH)
    assert r.status_code == 200, r.text
    return json_of(r)["items"]


def state(client) -> dict:
    return client.get("/__mock__/state").json()


def assert_error(response, status: int):
    assert response.status_code == status, response.text
    body = json_of(response)
    assert set(body) == {"errors"} and len(body["errors"]) == 1
    assert body["errors"][0]["code"] == status and isinstance(body["errors"][0]["reason"], str)


def assert_nothing_stored(client):
    s = state(client)
    assert s["apis"]["evotor"]["images"] == [] and s["stored_files"] == 0 and s["stored_bytes"] == 0


def png_of_size(size: int) -> bytes:
    """A valid 300x300 PNG padded with a private ancillary chunk to exactly ``size`` bytes."""
    base = image_bytes(300, 300)
    info = PngImagePlugin.PngInfo()
    info.add(b"prVt", b"x" * (size - len(base) - 12))  # a chunk costs 12 bytes besides its data
    buf = io.BytesIO()
    Image.new("RGB", (300, 300), (10, 120, 200)).save(buf, "PNG", pnginfo=info)
    data = buf.getvalue()
    assert len(data) == size
    return data


# -- EVT-01 ------------------------------------------------------------------------------------------
def test_evt01_every_method_without_token_is_401(make_client, fixture_image):
    client = make_client("evotor")
    image = json_of(upload(client, fixture_image("evotor-product-300.png")))
    one = f"{images_path()}/{image['id']}"
    for headers in ({}, {"X-Authorization": ""}):
        assert_error(upload(client, fixture_image("evotor-product-300-b.png"), headers=headers), 401)
        assert_error(client.get(images_path(), headers=headers), 401)
        assert_error(client.get(one, headers=headers), 401)
        assert_error(client.delete(one, headers=headers), 401)
    assert [i["id"] for i in listed(client)] == [image["id"]]  # the 401 delete removed nothing


# -- EVT-02 ------------------------------------------------------------------------------------------
def test_evt02_seed_example_request_gets_200_with_seed_shape(make_client, fixture_image):
    client = make_client("evotor")
    data = fixture_image("evotor-product-300.png")
    # curl -F datafile=@000.png: the file part as curl sends it
    r = client.post(images_path(), files={"datafile": ("000.png", data)}, headers=AUTH)
    assert r.status_code == 200, r.text
    body = json_of(r)
    assert set(body) == SEED_KEYS
    assert uuid.UUID(body["id"]).version == 4
    assert body["store_id"] == STORE and body["product_id"] == PRODUCT
    assert body["meta"] == {"extension": "png", "file_size": len(data), "width": 300, "height": 300}
    assert re.fullmatch(r"02-\d{15}", body["user_id"])
    assert STAMP.match(body["created_at"]) and body["updated_at"] == body["created_at"]


def test_evt02_user_id_is_stable_per_token(make_client, fixture_image):
    client = make_client("evotor")
    data = fixture_image("evotor-product-300.png")
    a = json_of(upload(client, data, product="p1"))["user_id"]
    b = json_of(upload(client, data, product="p2"))["user_id"]
    c = json_of(upload(client, data, product="p3", headers={"X-Authorization": "another-token"}))["user_id"]
    assert a == b != c


def test_evt02_missing_or_text_datafile_is_400(make_client):
    client = make_client("evotor")
    wrong_field = {"other": ("a.png", image_bytes(300, 300))}
    assert_error(client.post(images_path(), files=wrong_field, headers=AUTH), 400)
    assert_error(client.post(images_path(), files={"datafile": (None, "000.png")}, headers=AUTH), 400)
    assert_error(client.post(images_path(), headers=AUTH), 400)
    assert_nothing_stored(client)


def test_evt02_malformed_multipart_is_400(make_client):
    client = make_client("evotor")
    headers = {**AUTH, "Content-Type": "multipart/form-data; boundary=xyz"}
    body = b"--xyz\r\nContent-Disposition: form-data\r\n\r\nnope"
    r = client.post(images_path(), content=body, headers=headers)
    assert 400 <= r.status_code < 500, r.text
    assert "errors" in json_of(r)
    assert_nothing_stored(client)


# -- EVT-03 ------------------------------------------------------------------------------------------
def test_evt03_non_png_or_wrong_size_is_400_and_nothing_stored(make_client, fixture_image):
    client = make_client("evotor")
    bad = [
        image_bytes(300, 300, "JPEG"),  # declared image/png below: Pillow's format decides, not the header
        image_bytes(300, 300, "WEBP"),
        fixture_image("evotor-wrong-size-301x300.png"),
        image_bytes(300, 299),
        fixture_image("icon-64.png"),
        image_bytes(300, 300)[:200],  # truncated PNG
        b"not an image at all",
        b"",
    ]
    for data in bad:
        assert_error(upload(client, data), 400)
    assert_nothing_stored(client)
    assert listed(client) == []


def test_evt03_png_declared_as_other_type_is_accepted(make_client, fixture_image):
    client = make_client("evotor")
    data = fixture_image("evotor-product-300.png")
    r = upload(client, data, name="photo.jpg", ctype="image/jpeg")
    assert r.status_code == 200 and json_of(r)["meta"]["file_size"] == len(data)


def test_all05_every_kind_of_300x300_png_is_accepted(make_client):
    """The seed asks a PNG of 300x300 pixels: its colour mode, and the part's name and label, are free."""
    client = make_client("evotor")
    base = Image.new("RGB", (300, 300), (200, 30, 60))
    for i, image in enumerate(
        [base.quantize(16), base.convert("L"), base.convert("RGBA"), base.convert("1")]
    ):
        buf = io.BytesIO()
        image.save(buf, "PNG")
        r = upload(client, buf.getvalue(), product=f"p-{i}", name="photo", ctype="application/octet-stream")
        assert r.status_code == 200, (image.mode, r.text)
        assert json_of(r)["meta"] == {
            "extension": "png",
            "file_size": len(buf.getvalue()),
            "width": 300,
            "height": 300,
        }


def test_evt03_size_limit_is_inclusive_and_over_is_413(make_client):
    client = make_client("evotor")
    assert_error(upload(client, png_of_size(LIMIT + 1)), 413)
    assert_nothing_stored(client)
    r = upload(client, png_of_size(LIMIT))
    assert r.status_code == 200, r.text
    assert json_of(r)["meta"]["file_size"] == LIMIT


def test_evt03_quota_exhausted_is_507_and_nothing_stored(make_client, fixture_image):
    client = make_client("evotor", max_store_bytes=1000)
    assert_error(upload(client, fixture_image("evotor-product-300.png")), 507)
    assert_nothing_stored(client)
    assert listed(client) == []


# -- EVT-04 ------------------------------------------------------------------------------------------
def test_evt04_second_upload_is_409_first_unchanged_delete_then_upload(make_client, fixture_image):
    client = make_client("evotor")
    first_bytes = fixture_image("evotor-product-300.png")
    second_bytes = fixture_image("evotor-product-300-b.png")
    first = json_of(upload(client, first_bytes))
    assert_error(upload(client, second_bytes), 409)
    assert listed(client) == [first]
    assert json_of(client.get(f"{images_path()}/{first['id']}", headers=AUTH)) == first
    assert client.get(first["url"]).content == first_bytes
    assert len(state(client)["apis"]["evotor"]["images"]) == 1

    assert client.delete(f"{images_path()}/{first['id']}", headers=AUTH).status_code == 204
    second = json_of(upload(client, second_bytes))
    assert second["id"] != first["id"]
    assert listed(client) == [second]
    assert client.get(second["url"]).content == second_bytes


def test_evt04_bad_file_on_occupied_product_is_400_not_409(make_client, fixture_image):
    """Check order: the file is judged before the one-image rule (see the module docstring)."""
    client = make_client("evotor")
    first = json_of(upload(client, fixture_image("evotor-product-300.png")))
    assert_error(upload(client, fixture_image("evotor-wrong-size-301x300.png")), 400)
    assert_error(upload(client, png_of_size(LIMIT + 1)), 413)
    assert listed(client) == [first]


def test_evt04_concurrent_uploads_to_one_product_one_200_one_409():
    # Over Starlette's 1 MB spool size, so reading each upload really suspends (a thread-pool read):
    # a handler that awaited between the one-image check and the store would let both through.
    a, b = png_of_size(1_500_000), png_of_size(1_500_001)

    async def run():
        app = create_app(apis=("evotor",), prefixed=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            results = await asyncio.gather(
                *(
                    client.post(images_path(), files={"datafile": ("x.png", d, "image/png")}, headers=AUTH)
                    for d in (a, b)
                )
            )
            items = (await client.get(images_path(), headers=AUTH)).json()["items"]
            download = (await client.get(items[0]["url"])).content if items else None
        return results, items, download

    results, items, download = asyncio.run(run())
    assert sorted(r.status_code for r in results) == [200, 409]
    winner = next(r for r in results if r.status_code == 200).json()
    assert items == [winner]
    assert len(a) != len(b)  # so the winner's file_size says whose bytes must be served
    assert download == (a if winner["meta"]["file_size"] == len(a) else b)


# -- EVT-05 ------------------------------------------------------------------------------------------
def test_evt05_list_has_items_and_paging(make_client, fixture_image):
    client = make_client("evotor")
    r = client.get(images_path(), headers=AUTH)
    assert r.status_code == 200 and json_of(r) == {"items": [], "paging": {}}
    image = json_of(upload(client, fixture_image("evotor-product-300.png")))
    assert json_of(client.get(images_path(), headers=AUTH)) == {"items": [image], "paging": {}}


# -- EVT-06 ------------------------------------------------------------------------------------------
def test_evt06_get_returns_the_image_and_unknown_is_404(make_client, fixture_image):
    client = make_client("evotor")
    image = json_of(upload(client, fixture_image("evotor-product-300.png")))
    r = client.get(f"{images_path()}/{image['id']}", headers=AUTH)
    assert r.status_code == 200 and json_of(r) == image
    assert_error(client.get(f"{images_path()}/{uuid.uuid4()}", headers=AUTH), 404)
    assert_error(client.get(f"{images_path()}/not-an-id", headers=AUTH), 404)


# -- EVT-07 ------------------------------------------------------------------------------------------
def test_evt07_delete_is_204_without_body_and_image_is_gone(make_client, fixture_image):
    client = make_client("evotor")
    image = json_of(upload(client, fixture_image("evotor-product-300.png")))
    one = f"{images_path()}/{image['id']}"
    r = client.delete(one, headers=AUTH)
    assert r.status_code == 204 and r.content == b""
    assert_error(client.get(one, headers=AUTH), 404)
    assert listed(client) == []
    assert client.get(image["url"]).status_code == 404
    assert_error(client.delete(one, headers=AUTH), 404)
    assert_nothing_stored(client)


# -- EVT-08 ------------------------------------------------------------------------------------------
def test_evt08_images_never_show_under_another_store_or_product(make_client, fixture_image):
    client = make_client("evotor")
    data = fixture_image("evotor-product-300.png")
    image = json_of(upload(client, data))
    others = [(STORE, "other-product"), ("other-store", PRODUCT), ("other-store", "other-product")]
    for store, product in others:
        assert listed(client, store, product) == []
        foreign = f"{images_path(store, product)}/{image['id']}"
        assert_error(client.get(foreign, headers=AUTH), 404)
        assert_error(client.delete(foreign, headers=AUTH), 404)
    assert listed(client) == [image]  # the foreign deletes left it alone
    # The one-image rule is per store and product too: the same product id in another store is free.
    for store, product in others:
        r = upload(client, data, store, product)
        assert r.status_code == 200, r.text
        assert (json_of(r)["store_id"], json_of(r)["product_id"]) == (store, product)
        assert [i["id"] for i in listed(client, store, product)] == [json_of(r)["id"]]
    assert listed(client) == [image]


# -- EVT-09 ------------------------------------------------------------------------------------------
def test_evt09_url_downloads_exactly_the_bytes_as_png(make_client, fixture_image):
    client = make_client("evotor")
    data = fixture_image("evotor-product-300-b.png")
    image = json_of(upload(client, data))
    r = client.get(image["url"])
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "image/png"


# -- ALL-01..04 and mock features ----------------------------------------------------------------------
def test_all04_concurrent_uploads_to_many_products_lose_nothing(fixture_image):
    data = fixture_image("evotor-product-300.png")
    products = [f"product-{i}" for i in range(12)]

    async def run():
        app = create_app(apis=("evotor",), prefixed=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            made = await asyncio.gather(
                *(
                    client.post(images_path(product=p), files={"datafile": ("x.png", data)}, headers=AUTH)
                    for p in products
                )
            )
            lists = [
                (await client.get(images_path(product=p), headers=AUTH)).json()["items"] for p in products
            ]
            downloads = [(await client.get(r.json()["url"])).content for r in made]
        return made, lists, downloads

    made, lists, downloads = asyncio.run(run())
    assert [r.status_code for r in made] == [200] * len(products)
    assert len({r.json()["id"] for r in made}) == len(products)
    assert [items[0]["id"] for items in lists] == [r.json()["id"] for r in made]
    assert downloads == [data] * len(products)


def test_prefer_code_forces_a_documented_error(make_client, fixture_image):
    client = make_client("evotor")
    forced = {**AUTH, "Prefer": "code=409"}
    assert_error(upload(client, fixture_image("evotor-product-300.png"), headers=forced), 409)
    assert_nothing_stored(client)


def test_seed_fixtures_load_and_state_round_trips(make_client, fixture_image):
    client = make_client("evotor", seed_data=FIXTURES_DIR)
    records = state(client)["apis"]["evotor"]["images"]
    assert len(records) == 3
    items = listed(client)
    assert len(items) == 1 and items[0]["meta"]["file_size"] == len(fixture_image("evotor-product-300.png"))
    assert client.get(items[0]["url"]).content == fixture_image("evotor-product-300.png")
    assert_error(upload(client, fixture_image("evotor-product-300-b.png")), 409)

    api: EvotorApi = client.app.ctx.apis["evotor"]
    dumped = api.dump()
    api.reset()
    assert listed(client) == []
    api.restore(dumped)
    assert api.dump() == dumped and listed(client) == items
    assert client.post("/__mock__/reset").status_code == 204
    assert_nothing_stored(client)


def test_evt10_timestamps_have_the_seeds_shape(make_client, fixture_image):
    """The seed writes "2018-09-04T13:31:01.104+0000": milliseconds and an offset without a colon."""
    import re

    client = make_client("evotor")
    body = upload(client, fixture_image("evotor-product-300.png")).json()
    shape = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
    assert shape.match(body["created_at"]) and shape.match(body["updated_at"]), body
    listed_body = listed(client)[0]
    assert listed_body["created_at"] == body["created_at"]
