"""A failed write in memory is undone from a log of what it touched (mockserver.state.undo): the state after
the undo is the state before, in the same order, and what a write notes does not grow with the store."""

from __future__ import annotations

from support.failing import fail_after_change
from support.images import image_bytes

from image_api_contracts import auth_headers
from mockserver.state.undo import UndoLog


def _state(client) -> dict:
    body = client.get("/__mock__/state").json()
    return {key: body[key] for key in ("apis", "stored_bytes", "stored_files")}


# -- the log itself --------------------------------------------------------------------------------
def test_an_undone_write_puts_back_values_keys_and_order():
    log = UndoLog()
    records = log.journaled_dict({"a": 1, "b": 2, "c": 3}, ordered=True)
    log.start()
    del records["b"]
    records["a"] = 10
    records["d"] = 4
    records.pop("c")
    records["b"] = 20  # a deleted key written again lands at the end
    log.rollback()
    assert list(records.items()) == [("a", 1), ("b", 2), ("c", 3)]
    assert not log.recording


def test_a_settled_write_stays_and_nothing_is_noted_outside_a_write():
    log = UndoLog()
    records = log.journaled_dict(ordered=True)
    records["outside"] = 1
    log.start()
    records["kept"] = 2
    log.settle()
    records["later"] = 3
    assert log.entries is None
    assert list(records) == ["outside", "kept", "later"]


# -- every API, through its own requests ------------------------------------------------------------
def test_an_image_upload_delete_that_fails_puts_the_record_back_in_its_place(make_client):
    client = make_client("image-upload")
    auth = auth_headers("image-upload")
    names = [
        client.post(
            "/UploadImage", files={"file": (f"{i}.png", image_bytes(), "image/png")}, headers=auth
        ).json()["data"]["fileName"]
        for i in range(3)
    ]
    before = _state(client)
    fail_after_change(client.app.ctx.apis["image-upload"], "delete_image")
    assert client.delete("/DeleteImage", params={"FileName": names[1]}, headers=auth).status_code == 500
    assert _state(client) == before
    listed = client.get("/GetAllImages", headers=auth).json()["data"]
    assert [record["fileName"] for record in listed] == names  # upload order, the middle one included


def test_an_evotor_delete_that_fails_keeps_the_image_and_its_product_slot(make_client):
    client = make_client("evotor")
    auth = auth_headers("evotor")
    ids = []
    for product in ("p1", "p2", "p3"):
        reply = client.post(
            f"/stores/s/products/{product}/images",
            headers=auth,
            files={"datafile": ("a.png", image_bytes(300, 300), "image/png")},
        )
        ids.append(reply.json()["id"])
    before = _state(client)
    fail_after_change(client.app.ctx.apis["evotor"], "delete_product_image")
    assert client.delete(f"/stores/s/products/p2/images/{ids[1]}", headers=auth).status_code == 500
    assert _state(client) == before
    again = client.post(
        "/stores/s/products/p2/images",
        headers=auth,
        files={"datafile": ("a.png", image_bytes(300, 300), "image/png")},
    )
    assert again.status_code == 409  # the product still has its image


def test_a_tagged_images_tag_delete_that_fails_gives_every_image_its_tag_back(make_client):
    client = make_client("tagged-images")
    for i in range(3):
        body = {"filename": f"{i}.png", "tags": ["red", "blue"]}
        assert client.post("/v1/images", json=body).status_code == 201
    before = _state(client)
    red = client.get("/v1/tags").json()["results"][1]
    assert red["name"] == "red"
    fail_after_change(client.app.ctx.apis["tagged-images"], "delete_tag")
    assert client.delete(f"/v1/tags/{red['id']}").status_code == 500
    assert _state(client) == before
    tagged = client.get(f"/v1/tags/{red['id']}/images").json()
    assert tagged["meta"]["total_results"] == 3
    found = client.get("/v1/search/images", params={"exact_tags": ["red"], "match_tags": ["r%"]}).json()
    assert [record["filename"] for record in found["results"]] == ["2.png", "1.png", "0.png"]


def test_a_tagged_images_delete_that_fails_keeps_the_image_in_every_index(make_client, png):
    client = make_client("tagged-images")
    import base64

    for i in range(3):
        body = {"filename": f"{i}.png", "image_data": base64.b64encode(png()).decode(), "tags": ["t"]}
        assert client.post("/v1/upload", json=body).status_code == 201
    before = _state(client)
    fail_after_change(client.app.ctx.apis["tagged-images"], "delete_image")
    assert client.delete("/v1/images/2").status_code == 500
    assert _state(client) == before
    listed = client.get("/v1/images", params={"uploaded_only": True}).json()
    assert [record["id"] for record in listed["results"]] == [3, 2, 1]
    assert client.get("/v1/images/2").json()["url"] is not None


def test_a_reset_that_fails_is_undone_too(make_client):
    client = make_client("everydaypic")
    files = {"file": ("a.png", image_bytes(), "image/png")}
    assert client.post("/v1/image", files=files, data={"fileName": "a.png", "name": "a"}).status_code == 200
    api = client.app.ctx.apis["everydaypic"]
    before = api.dump()
    undo = api.snapshot()
    api.reset()
    api.create_record(image_bytes(), "b.png", "b")
    api.rollback(undo)
    assert api.dump() == before


def test_what_a_write_notes_does_not_grow_with_the_store(make_client):
    client = make_client("evotor")
    api = client.app.ctx.apis["evotor"]
    png = image_bytes(300, 300)

    def entries_of_one_upload(product: str) -> int:
        undo = api.snapshot()
        api.create_record(png, "s", product, "token")
        noted = len(undo.entries)
        api.settle(undo)
        return noted

    first = entries_of_one_upload("first")
    for i in range(300):
        api.create_record(png, "s", f"p{i}", "token")
    assert entries_of_one_upload("last") == first
