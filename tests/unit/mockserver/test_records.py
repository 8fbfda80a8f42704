"""Records validated and encoded when written (mockserver.state.records): a listing joins them, and what
breaks
the spec is still refused: at the write that makes it, at the read that finds it changed, and by the
response validation that still judges every envelope, status and record's place."""

from __future__ import annotations

import base64
from dataclasses import replace

from image_api_contracts import auth_headers
from mockserver.layers.reply_cache import ReplyCache
from mockserver.state.records import EncodedList


def _no_reply_cache(client):
    client.app.ctx.replies = None  # every read below runs its handler
    return client


def _sized_as_text(api):
    original = api.public_record

    def _public(image):
        return {**original(image), "size": "ten bytes"}  # ImageRecord.size is an integer

    api.public_record = _public


def test_a_record_of_the_wrong_shape_is_refused_by_the_write_that_makes_it(make_client):
    client = make_client("tagged-images")
    api = client.app.ctx.apis["tagged-images"]
    _sized_as_text(api)
    r = client.post("/v1/images", json={"filename": "a.png", "size": 10, "tags": ["x"]})
    assert r.status_code == 500, r.text
    assert r.json()["code"] == 500
    assert "ImageRecord" in r.json()["message"] and "ten bytes" in r.json()["message"]
    assert api.images == {} and api.tags == {}  # the write was undone, its new tag too
    api.public_record = type(api).public_record.__get__(api)
    assert client.get("/v1/images").json()["meta"]["total_results"] == 0
    r = client.post("/v1/images", json={"filename": "b.png", "size": 1})
    assert r.status_code == 201 and r.json()["id"] == 1  # the undone write left no id behind


def test_the_base64_upload_is_refused_too_when_its_record_breaks_the_spec(make_client, png):
    client = make_client("tagged-images")
    api = client.app.ctx.apis["tagged-images"]
    _sized_as_text(api)
    body = {"filename": "a.png", "image_data": base64.b64encode(png()).decode()}
    assert client.post("/v1/upload", json=body).status_code == 500
    assert api.images == {} and len(client.app.ctx.blobs) == 0  # no record, no stored bytes


def test_an_image_upload_record_of_the_wrong_shape_is_refused_by_its_upload(make_client, png):
    client = make_client("image-upload")
    api = client.app.ctx.apis["image-upload"]
    original = api.public
    api.public = lambda record: {**original(record), "size": "101 bytes"}  # an integer in the spec
    auth = auth_headers("image-upload")
    r = client.post("/UploadImage", files={"file": ("a.png", png(), "image/png")}, headers=auth)
    assert r.status_code == 500, r.text
    assert r.json()["data"] is None and "ImageInformationDto" in r.json()["message"]
    api.public = original
    assert client.get("/GetAllImages", headers=auth).json()["data"] == []


def test_a_record_broken_after_it_was_written_is_caught_at_the_next_read(make_client):
    client = _no_reply_cache(make_client("tagged-images"))
    api = client.app.ctx.apis["tagged-images"]
    client.post("/v1/images", json={"filename": "a.png", "size": 10})
    assert client.get("/v1/images").status_code == 200
    api.images[1] = replace(api.images[1], size="10")  # a handler bug storing a record of the wrong shape
    for path in ("/v1/images", "/v1/images/1"):
        r = client.get(path)
        assert r.status_code == 500, (path, r.text)
        assert "ImageRecord" in r.json()["message"]


def test_each_record_is_built_once_and_a_listing_joins_them(make_client):
    client = _no_reply_cache(make_client("tagged-images"))
    api = client.app.ctx.apis["tagged-images"]
    for i in range(30):
        client.post("/v1/images", json={"filename": f"f{i}.png", "size": i, "tags": ["a"]})
    built = []
    original = api.public_record
    api.public_record = lambda image: built.append(image.id) or original(image)
    for query in ("limit=20", "limit=20&page=1", "limit=100", "limit=7&start_timestamp=0"):
        assert client.get(f"/v1/images?{query}").status_code == 200
    assert client.get("/v1/search/images?exact_tags=a&limit=100").json()["meta"]["total_results"] == 30
    assert built == []  # every record was built, validated and encoded when written
    client.post("/v1/images", json={"filename": "new.png", "size": 1})
    assert built == [31]  # the write builds its own record, and only that one
    client.delete("/v1/tags/1")  # every record loses tag "a": each is rebuilt at the next read
    page = client.get("/v1/images?limit=100").json()["results"]
    assert sorted(built) == list(range(1, 32)) and all(r["tags"] == [] for r in page)


def test_a_wrong_envelope_around_encoded_records_is_still_a_500(make_client):
    client = _no_reply_cache(make_client("tagged-images"))
    api = client.app.ctx.apis["tagged-images"]
    client.post("/v1/images", json={"filename": "a.png", "size": 10})

    async def list_images(**_):
        records = EncodedList(api.records, [api.encoded_record(api.images[1])])
        meta = {"current_page": 0, "total_results": "one", "has_more_pages": False}
        return {"results": records, "meta": meta}, 200, {"Content-Type": "application/json"}

    api.list_images = list_images
    r = client.get("/v1/images")
    assert r.status_code == 500
    message = r.json()["message"]
    assert "does not conform" in message and "'one' is not of type 'integer'" in message


def test_a_record_where_another_schema_belongs_is_still_a_500(make_client):
    """An image record validated as an ImageRecord, sent where the spec wants a Tag: judged from the wire."""
    client = _no_reply_cache(make_client("tagged-images"))
    api = client.app.ctx.apis["tagged-images"]
    client.post("/v1/images", json={"filename": "a.png", "size": 10, "tags": ["x"]})

    async def list_tags(**_):
        records = EncodedList(api.records, [api.encoded_record(api.images[1])])
        meta = {"current_page": 0, "total_results": 1, "has_more_pages": False}
        return {"results": records, "meta": meta}, 200, {"Content-Type": "application/json"}

    api.list_tags = list_tags
    r = client.get("/v1/tags")
    assert r.status_code == 500, r.text
    assert "does not conform" in r.json()["message"]


def test_the_encoded_reply_is_byte_for_byte_what_the_records_make(make_client, png):
    """The joined bytes parse to the dicts the handler would have built, URLs included."""
    client = _no_reply_cache(make_client("tagged-images"))
    body = {"filename": "a.png", "image_data": base64.b64encode(png()).decode(), "tags": ["x", "y"]}
    client.post("/v1/upload", json=body)
    client.post("/v1/images", json={"filename": "b.png", "size": 3})
    page = client.get("/v1/images").json()["results"]
    assert [r["id"] for r in page] == [2, 1]
    assert page[1]["url"].startswith("http://testserver/__mock__/files/tagged-images/1?expires=")
    assert client.get(page[1]["url"]).content == png()
    assert [t["name"] for t in page[1]["tags"]] == ["x", "y"] and page[0]["url"] is None


def test_a_signed_url_is_signed_afresh_each_second_and_for_each_origin(make_client, png, monkeypatch):
    client = _no_reply_cache(make_client("tagged-images", allow_hosts=("testserver", "mock.example")))
    body = {"filename": "a.png", "image_data": base64.b64encode(png()).decode()}
    client.post("/v1/upload", json=body)
    clock = [1_900_000_000.0]
    monkeypatch.setattr("time.time", lambda: clock[0])
    first = client.get("/v1/images/1").json()["url"]
    assert client.get("/v1/images/1").json()["url"] == first
    clock[0] += 1
    later = client.get("/v1/images/1").json()["url"]
    assert later != first and f"expires={1_900_000_001 + 900}" in later
    other = client.get("/v1/images/1", headers={"Host": "mock.example:9000"}).json()["url"]
    assert other.startswith("http://mock.example:9000/")


def test_the_reply_cache_setting_does_not_change_a_listing(make_client):
    cached = make_client("tagged-images")
    uncached = _no_reply_cache(make_client("tagged-images"))
    assert isinstance(cached.app.ctx.replies, ReplyCache)
    for client in (cached, uncached):
        for i in range(5):
            client.post("/v1/images", json={"filename": f"f{i}.png", "size": i, "tags": [f"t{i % 2}"]})
    for query in ("limit=3", "limit=3&page=1", "uploaded_only=true"):
        a, b = cached.get(f"/v1/images?{query}").json(), uncached.get(f"/v1/images?{query}").json()
        assert [r["id"] for r in a["results"]] == [r["id"] for r in b["results"]]
        assert a["meta"] == b["meta"]


def test_encoded_records_under_an_undocumented_status_are_still_a_500(make_client):
    """The fast path judges the body only: the status is checked as before (list_images documents 200)."""
    client = _no_reply_cache(make_client("tagged-images"))
    api = client.app.ctx.apis["tagged-images"]
    client.post("/v1/images", json={"filename": "a.png", "size": 10})
    original = api.list_images

    async def list_images(**kwargs):
        body, _, headers = await original(**kwargs)
        return body, 203, headers  # a status the spec does not document for this operation

    api.list_images = list_images
    r = client.get("/v1/images")
    assert r.status_code == 500, r.text
    assert r.json()["code"] == 500
