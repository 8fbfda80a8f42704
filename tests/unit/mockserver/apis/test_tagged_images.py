"""tagged-images through the mock (TIM-01..13, ALL-01..04)."""

import asyncio
import base64
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from support.images import image_bytes
from support.json_bodies import json_of

from image_api_contracts import FIXTURES_DIR
from mockserver.apis import tagged_images
from mockserver.app import create_app

API = "tagged-images"
RECORD_KEYS = {
    "id",
    "created_by",
    "created_timestamp",
    "filename",
    "size",
    "tags",
    "uploaded_timestamp",
    "url",
}
JSON = {"Content-Type": "application/json"}


# -- helpers ---------------------------------------------------------------------------------------------
def create(client, filename="a.png", tags=(), **extra):
    r = client.post("/v1/images", json={"filename": filename, "tags": list(tags), **extra})
    assert r.status_code == 201, r.text
    return json_of(r)


def upload(client, data=None, filename="a.png", tags=()):
    data = image_bytes() if data is None else data
    r = client.post(
        "/v1/upload",
        json={"filename": filename, "image_data": base64.b64encode(data).decode(), "tags": list(tags)},
    )
    assert r.status_code == 201, r.text
    return json_of(r)


def get(client, image_id):
    r = client.get(f"/v1/images/{image_id}")
    assert r.status_code == 200, r.text
    return json_of(r)


def page_of(client, path, **params):
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return json_of(r)


def ids_of(client, path, **params):
    return [i["id"] for i in page_of(client, path, **params)["results"]]


def search(client, **params):
    return ids_of(client, "/v1/search/images", **params)


def state(client):
    return client.get("/__mock__/state").json()


def api_of(client):
    return client.app.ctx.apis[API]


def assert_error(r, status):
    assert r.status_code == status, r.text
    body = json_of(r)
    assert set(body) == {"code", "message"} and body["code"] == status and isinstance(body["message"], str)
    return body


def restore(client, stamps, uploaded=(), tags=None):
    """Records 1..n created at ``stamps`` (no bytes); ``tags``: {image id: [tag ids]} over tags 1..3."""
    tags = tags or {}
    images = [
        {
            "id": i,
            "filename": f"img-{i}.png",
            "size": 0,
            "created_timestamp": ts,
            "created_by": "anonymous",
            "uploaded_timestamp": ts if i in uploaded else None,
            "tag_ids": tags.get(i, []),
        }
        for i, ts in enumerate(stamps, start=1)
    ]
    api_of(client).restore(
        {
            "images": images,
            "tags": [{"id": 1, "name": "red"}, {"id": 2, "name": "green"}, {"id": 3, "name": "blue"}],
        }
    )


def with_query(url, **changes):
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    query = {k: v for k, v in query.items() if v is not None}
    return parts._replace(query=urlencode(query)).geturl()


@pytest.fixture
def clock(monkeypatch):
    """Set the creation clock of the module: ``clock(1000)``."""

    def set_to(seconds):
        monkeypatch.setattr(tagged_images, "now", lambda: seconds)

    return set_to


# -- TIM-01 ----------------------------------------------------------------------------------------------
def test_tim01_create_record_without_file(make_client):
    client = make_client(API)
    before = int(time.time())
    body = create(client, "cat.png", ["pets", "cat"], size=1234)
    after = int(time.time())
    assert set(body) == {"id", "upload_url"} and isinstance(body["id"], int)
    assert body["upload_url"].startswith(f"http://testserver/__mock__/files/{API}/")
    assert {"expires", "signature"} <= set(parse_qs(urlsplit(body["upload_url"]).query))
    record = get(client, body["id"])
    assert set(record) == RECORD_KEYS
    assert record["uploaded_timestamp"] is None and record["url"] is None
    assert record["size"] == 1234 and record["filename"] == "cat.png" and record["created_by"] == "anonymous"
    assert before <= record["created_timestamp"] <= after
    assert [t["name"] for t in record["tags"]] == ["pets", "cat"]
    assert get(client, create(client, "nosize.png")["id"])["size"] == 0


def test_tim01_seed_example_request_as_it_stands(make_client):
    client = make_client(API)
    r = client.post("/v1/images", json={"filename": "string", "size": 0, "tags": ["string"]})
    assert r.status_code == 201
    assert set(json_of(r)) == {"id", "upload_url"}


def test_tim01_ids_are_unique_and_never_reused(make_client):
    client = make_client(API)
    first, second = create(client)["id"], create(client)["id"]
    assert client.delete(f"/v1/images/{second}").status_code == 204
    third = create(client)["id"]
    assert len({first, second, third}) == 3 and third > second > first


@pytest.mark.parametrize(
    "body, filename, size, tags",
    [
        ({}, "", 0, []),
        ({"size": 1}, "", 1, []),
        ({"filename": ""}, "", 0, []),
        ({"filename": "a"}, "a", 0, []),
        ({"filename": "ab", "size": 0}, "ab", 0, []),
        ({"filename": "a", "size": -1}, "a", -1, []),
        ({"filename": "a", "tags": [""]}, "a", 0, [""]),
        ({"filename": "x" * 300, "tags": ["t" * 101]}, "x" * 300, 0, ["t" * 101]),
    ],
)
def test_all05_create_accepts_every_body_the_seed_allows(make_client, body, filename, size, tags):
    """The seed marks no field required and sets no length: each of these is a valid request."""
    client = make_client(API)
    r = client.post("/v1/images", json=body)
    assert r.status_code == 201, r.text
    record = get(client, json_of(r)["id"])
    assert (record["filename"], record["size"]) == (filename, size)
    assert [t["name"] for t in record["tags"]] == tags


@pytest.mark.parametrize(
    "body",
    [
        {"filename": 3},
        {"filename": "a", "size": "big"},
        {"filename": "a", "size": True},
        {"filename": "a", "tags": "x"},
        {"filename": "a", "tags": [1]},
        [],
        None,
    ],
)
def test_tim01_invalid_create_body_is_400_and_nothing_created(make_client, body):
    client = make_client(API)
    assert_error(client.post("/v1/images", json=body), 400)
    assert state(client)["apis"][API]["images"] == [] and state(client)["apis"][API]["tags"] == []


def test_tim01_malformed_json_is_400(make_client):
    client = make_client(API)
    for raw in (b"{", b"[}", b"", b"null"):
        assert_error(client.post("/v1/images", content=raw, headers=JSON), 400)


# -- TIM-02 ----------------------------------------------------------------------------------------------
def test_tim02_put_to_upload_url_uploads_the_file(make_client, fixture_image):
    client = make_client(API)
    data = fixture_image("photo-exif.jpg")
    created = create(client, "photo.jpg", size=10)
    r = client.put(created["upload_url"], content=data)
    assert r.status_code == 200 and r.content == b""
    record = get(client, created["id"])
    assert isinstance(record["uploaded_timestamp"], int)
    assert record["uploaded_timestamp"] >= record["created_timestamp"]
    assert record["size"] == len(data)
    download = client.get(record["url"])
    assert download.status_code == 200 and download.content == data
    assert download.headers["content-type"] == "image/jpeg"


def test_tim02_urls_are_signed_for_their_method_and_path(make_client):
    client = make_client(API)
    created = create(client)
    url = created["upload_url"]
    other = create(client)["upload_url"]
    forged = [
        with_query(url, signature="0" * 64),
        with_query(url, signature=None),
        with_query(url, expires=None),
        with_query(url, expires=str(int(time.time()) + 10**6)),  # a longer life than signed
        with_query(url, expires="soon"),
        url.replace(f"/{created['id']}?", f"/{created['id'] + 1}?"),  # another record, same signature
        with_query(other, signature=parse_qs(urlsplit(url).query)["signature"][0]),
    ]
    for bad in forged:
        assert_error(client.put(bad, content=image_bytes()), 403)
    assert get(client, created["id"])["uploaded_timestamp"] is None
    assert state(client)["stored_files"] == 0
    assert client.put(url, content=image_bytes()).status_code == 200
    download_url = get(client, created["id"])["url"]
    assert_error(client.put(download_url, content=image_bytes()), 403)  # a GET URL does not allow PUT
    assert_error(client.get(url), 403)  # the PUT URL does not allow GET
    assert_error(client.get(with_query(download_url, signature="f" * 64)), 403)
    assert_error(client.get(download_url.split("?")[0]), 403)
    assert client.get(download_url).content == image_bytes()


def test_tim02_expired_urls_get_403(make_client):
    client = make_client(API, url_ttl_seconds=-1)
    created = create(client)
    assert_error(client.put(created["upload_url"], content=image_bytes()), 403)
    uploaded = upload(client)
    assert_error(client.get(get(client, uploaded["id"])["url"]), 403)


def test_tim02_url_is_fresh_at_each_read_and_expires(make_client, monkeypatch):
    client = make_client(API)
    image_id = upload(client)["id"]
    first = get(client, image_id)["url"]
    start = time.time()
    monkeypatch.setattr("mockserver.apis.signing.time.time", lambda: start + 600)
    second = get(client, image_id)["url"]
    assert second != first
    assert client.get(first).status_code == 200  # 15 minutes not yet over
    monkeypatch.setattr("mockserver.apis.signing.time.time", lambda: start + 1000)
    assert_error(client.get(first), 403)
    assert client.get(second).status_code == 200
    assert client.get(get(client, image_id)["url"]).content == image_bytes()


def test_tim02_put_of_a_non_image_is_400_and_changes_nothing(make_client):
    client = make_client(API)
    created = create(client, size=7)
    assert_error(client.put(created["upload_url"], content=b"plain text, not an image"), 400)
    assert_error(client.put(created["upload_url"], content=b""), 400)
    truncated = image_bytes(64, 64, "JPEG")[:300]
    assert_error(client.put(created["upload_url"], content=truncated), 400)
    record = get(client, created["id"])
    assert record["uploaded_timestamp"] is None and record["size"] == 7
    assert state(client)["stored_files"] == 0


def test_tim02_put_for_a_deleted_record_is_404(make_client):
    client = make_client(API)
    created = create(client)
    assert client.delete(f"/v1/images/{created['id']}").status_code == 204
    assert_error(client.put(created["upload_url"], content=image_bytes()), 404)
    assert state(client)["stored_files"] == 0


def test_tim02_put_body_over_the_limit_is_413(make_client):
    client = make_client(API, max_body_bytes=1000)
    created = create(client)
    assert_error(client.put(created["upload_url"], content=image_bytes(200, 200, "BMP")), 413)
    assert get(client, created["id"])["uploaded_timestamp"] is None


def test_tim02_second_put_replaces_the_bytes(make_client, fixture_image):
    client = make_client(API)
    created = create(client)
    assert client.put(created["upload_url"], content=image_bytes()).status_code == 200
    new = fixture_image("sticker.webp")
    assert client.put(created["upload_url"], content=new).status_code == 200
    record = get(client, created["id"])
    assert record["size"] == len(new)
    r = client.get(record["url"])
    assert r.content == new and r.headers["content-type"] == "image/webp"
    assert state(client)["stored_bytes"] == len(new)


# -- TIM-03 ----------------------------------------------------------------------------------------------
def test_tim03_upload_creates_an_uploaded_record(make_client, fixture_image, clock):
    client = make_client(API)
    clock(1_700_000_000)
    data = fixture_image("street-exif.jpg")
    created = upload(client, data, "street.jpg", ["street"])
    assert set(created) == {"id", "upload_url"}
    record = get(client, created["id"])
    assert record["size"] == len(data) and record["filename"] == "street.jpg"
    assert record["uploaded_timestamp"] == record["created_timestamp"] == 1_700_000_000
    assert [t["name"] for t in record["tags"]] == ["street"]
    assert client.get(record["url"]).content == data


def test_tim03_upload_url_of_the_combined_upload_replaces_the_bytes(make_client, fixture_image):
    client = make_client(API)
    created = upload(client)
    new = fixture_image("icon-64.png")
    assert client.put(created["upload_url"], content=new).status_code == 200
    record = get(client, created["id"])
    assert record["size"] == len(new) and client.get(record["url"]).content == new


def test_tim03_seed_example_requests(make_client):
    client = make_client(API)
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
    example = {"filename": "string", "image_data": png, "tags": ["string"]}
    r = client.post("/v1/upload", json=example)
    assert r.status_code == 201 and set(json_of(r)) == {"id", "upload_url"}
    assert get(client, json_of(r)["id"])["size"] == len(base64.b64decode(example["image_data"]))
    # The seed's own example, "image_data": "string", is not base64 (spec x-decision): 400.
    assert_error(client.post("/v1/upload", json={**example, "image_data": "string"}), 400)


@pytest.mark.parametrize("image_data", ["string", "not base64!", "iVBORw0KGgo", "aGVsbG8gd29ybGQ=", "", "ü"])
def test_tim03_bad_base64_or_non_image_is_400_and_nothing_stored(make_client, image_data):
    client = make_client(API)
    body = {"filename": "a.png", "image_data": image_data, "tags": ["t"]}
    assert_error(client.post("/v1/upload", json=body), 400)
    s = state(client)
    assert s["apis"][API]["images"] == [] and s["apis"][API]["tags"] == [] and s["stored_files"] == 0


@pytest.mark.parametrize("body", [{"filename": "a", "image_data": 5}, {"filename": 1}, {"tags": [2]}])
def test_tim03_invalid_fields_are_400(make_client, body):
    assert_error(make_client(API).post("/v1/upload", json=body), 400)


@pytest.mark.parametrize("body", [{}, {"filename": "a.png"}, {"tags": ["x" * 150]}, {"filename": ""}])
def test_all05_upload_without_image_data_creates_a_record_to_put(make_client, body, fixture_image):
    """The seed makes every field optional: without image_data the record waits for a PUT."""
    client = make_client(API)
    r = client.post("/v1/upload", json=body)
    assert r.status_code == 201, r.text
    created = json_of(r)
    assert set(created) == {"id", "upload_url"}
    record = get(client, created["id"])
    assert record["filename"] == body.get("filename", "") and record["size"] == 0
    assert record["uploaded_timestamp"] is None and record["url"] is None
    data = fixture_image("icon-64.png")
    assert client.put(created["upload_url"], content=data).status_code == 200
    assert client.get(get(client, created["id"])["url"]).content == data


def test_all05_upload_with_a_one_character_filename_and_no_tags(make_client):
    client = make_client(API)
    data = image_bytes()
    r = client.post("/v1/upload", json={"filename": "a", "image_data": base64.b64encode(data).decode()})
    assert r.status_code == 201, r.text
    record = get(client, json_of(r)["id"])
    assert record["filename"] == "a" and record["tags"] == [] and record["size"] == len(data)


def test_tim03_payload_over_3_96_mb_is_413(make_client):
    client = make_client(API)
    payload = {"filename": "big.png", "image_data": "A" * 4_000_000}
    assert_error(client.post("/v1/upload", json=payload), 413)
    assert state(client)["apis"][API]["images"] == []


def test_tim03_storage_quota_gives_507(make_client):
    client = make_client(API, max_store_bytes=150)
    upload(client, image_bytes())
    data = base64.b64encode(image_bytes()).decode()
    r = client.post("/v1/upload", json={"filename": "b.png", "image_data": data, "tags": ["new"]})
    assert_error(r, 507)
    assert len(state(client)["apis"][API]["images"]) == 1
    assert page_of(client, "/v1/tags")["meta"]["total_results"] == 0


# -- TIM-04 ----------------------------------------------------------------------------------------------
def test_tim04_paging_over_45_records(make_client, clock):
    client = make_client(API)
    created = []
    for i in range(45):
        clock(1_000 + i // 4)  # several records per second: order must still be stable
        created.append(create(client, f"{i}.png")["id"])
    pages = [page_of(client, "/v1/images", page=p) for p in range(4)]
    assert [len(p["results"]) for p in pages] == [20, 20, 5, 0]
    assert [p["meta"]["has_more_pages"] for p in pages] == [True, True, False, False]
    assert [p["meta"]["current_page"] for p in pages] == [0, 1, 2, 3]
    assert all(p["meta"]["total_results"] == 45 for p in pages)
    listed = [r["id"] for p in pages for r in p["results"]]
    assert listed == created[::-1]  # newest first, none repeated or missing
    assert ids_of(client, "/v1/images", page=4, limit=10) == created[4::-1]
    assert ids_of(client, "/v1/images", limit=100) == created[::-1]
    last = page_of(client, "/v1/images", page=2147483647, limit=100)
    assert last["results"] == [] and last["meta"]["has_more_pages"] is False
    assert last["meta"]["current_page"] == 2147483647


def test_tim04_order_is_by_creation_time_then_id(make_client):
    client = make_client(API)
    restore(client, [300, 100, 200, 200, 100])
    assert ids_of(client, "/v1/images") == [1, 4, 3, 5, 2]
    assert ids_of(client, "/v1/images", limit=2, page=1) == [3, 5]
    assert create(client)["id"] == 6  # the counter continues after a restore


def test_tim04_exact_multiple_of_limit(make_client):
    client = make_client(API)
    restore(client, [100] * 40)
    pages = [page_of(client, "/v1/images", page=p) for p in range(3)]
    assert [p["meta"]["has_more_pages"] for p in pages] == [True, False, False]
    assert [len(p["results"]) for p in pages] == [20, 20, 0]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 101},
        {"limit": "ten"},
        {"page": "first"},
        {"end_timestamp": "yesterday"},
        {"uploaded_only": "maybe"},
        {"page": 2147483648},
        {"start_timestamp": -2147483649},
    ],
)
def test_tim04_invalid_paging_or_filters_are_400(make_client, params):
    client = make_client(API)
    assert_error(client.get("/v1/images", params=params), 400)
    paging = {k: v for k, v in params.items() if k in ("page", "limit")}
    if paging:
        assert_error(client.get("/v1/tags", params=paging), 400)


def test_all05_paging_values_within_int32_are_accepted(make_client):
    """The seed gives page and limit as int32 with only "max 100": a negative page, or a limit below 1,
    is answered with an empty page (and has_more_pages false for a limit below 1), never refused."""
    client = make_client(API)
    restore(client, [100, 200, 300])
    for path, extra in (("/v1/images", {}), ("/v1/tags", {}), ("/v1/search/images", {"match_tags": "%"})):
        for page, limit, more in ((-1, 20, True), (-3, 2, True), (0, 0, False), (1, -5, False)):
            body = page_of(client, path, page=page, limit=limit, **extra)
            assert body["results"] == [] and body["meta"]["current_page"] == page, (path, page, limit)
            assert body["meta"]["has_more_pages"] is (more and body["meta"]["total_results"] > 0)
    assert ids_of(client, "/v1/images", start_timestamp=-5, end_timestamp=150) == [1]


# -- TIM-05 ----------------------------------------------------------------------------------------------
def test_tim05_timestamp_filters_are_inclusive(make_client):
    client = make_client(API)
    restore(client, [100, 200, 200, 300])
    assert ids_of(client, "/v1/images", start_timestamp=200) == [4, 3, 2]
    assert ids_of(client, "/v1/images", end_timestamp=200) == [3, 2, 1]
    assert ids_of(client, "/v1/images", start_timestamp=200, end_timestamp=200) == [3, 2]
    assert ids_of(client, "/v1/images", start_timestamp=101, end_timestamp=299) == [3, 2]
    assert ids_of(client, "/v1/images", start_timestamp=100, end_timestamp=300) == [4, 3, 2, 1]
    assert ids_of(client, "/v1/images", start_timestamp=301) == []
    assert ids_of(client, "/v1/images", start_timestamp=300, end_timestamp=100) == []
    meta = page_of(client, "/v1/images", start_timestamp=200, limit=2)["meta"]
    assert meta == {"current_page": 0, "total_results": 3, "has_more_pages": True}


def test_tim05_uploaded_only(make_client, clock):
    client = make_client(API)
    clock(100)
    pending = create(client, "pending.png")
    done = upload(client)["id"]
    assert ids_of(client, "/v1/images", uploaded_only="true") == [done]
    assert ids_of(client, "/v1/images", uploaded_only="false") == [done, pending["id"]]
    assert ids_of(client, "/v1/images") == [done, pending["id"]]
    assert client.put(pending["upload_url"], content=image_bytes()).status_code == 200
    assert ids_of(client, "/v1/images", uploaded_only="true") == [done, pending["id"]]
    assert ids_of(client, "/v1/images", uploaded_only="true", start_timestamp=101) == []


# -- TIM-06 ----------------------------------------------------------------------------------------------
def test_tim06_get_returns_record_with_tags(make_client):
    client = make_client(API)
    image_id = create(client, "x.png", ["sky", "sea", "sky"])["id"]
    tags = {t["name"]: t["id"] for t in page_of(client, "/v1/tags")["results"]}
    record = get(client, image_id)
    assert record["tags"] == [{"id": tags["sky"], "name": "sky"}, {"id": tags["sea"], "name": "sea"}]
    body = assert_error(client.get("/v1/images/999"), 404)
    assert body == {"code": 404, "message": "Image 999 not found"}
    assert_error(client.get("/v1/images/0"), 404)  # any integer is an id; none has 0
    assert_error(client.get("/v1/images/-3"), 404)
    assert_error(client.get("/v1/images/abc"), 404)  # no such path


# -- TIM-07 ----------------------------------------------------------------------------------------------
def test_tim07_delete_removes_record_everywhere(make_client):
    client = make_client(API)
    keep = upload(client, tags=["pets"])["id"]
    gone = upload(client, image_bytes(color=(1, 2, 3)), tags=["pets"])["id"]
    url = get(client, gone)["url"]
    tag_id = page_of(client, "/v1/tags")["results"][0]["id"]
    r = client.delete(f"/v1/images/{gone}")
    assert r.status_code == 204 and r.content == b""
    assert_error(client.get(f"/v1/images/{gone}"), 404)
    assert ids_of(client, "/v1/images") == [keep]
    assert page_of(client, "/v1/images")["meta"]["total_results"] == 1
    assert ids_of(client, f"/v1/tags/{tag_id}/images") == [keep]
    assert search(client, exact_tags="pets") == [keep]
    assert search(client, match_tags="p%") == [keep]
    assert_error(client.get(url), 404)
    assert state(client)["stored_files"] == 1
    assert [t["name"] for t in page_of(client, "/v1/tags")["results"]] == ["pets"]  # the tag stays
    assert_error(client.delete(f"/v1/images/{gone}"), 404)


# -- TIM-08 ----------------------------------------------------------------------------------------------
def test_tim08_tags_created_on_first_use_and_reused(make_client):
    client = make_client(API)
    a = get(client, create(client, tags=["b", "a"])["id"])
    b = get(client, upload(client, tags=["a", "c", "A"])["id"])
    tags = page_of(client, "/v1/tags")
    assert [t["name"] for t in tags["results"]] == ["A", "a", "b", "c"]
    assert tags["meta"] == {"current_page": 0, "total_results": 4, "has_more_pages": False}
    assert a["tags"][1] == b["tags"][0]  # "a" is one tag, reused
    assert len({t["id"] for t in tags["results"]}) == 4


def test_tim08_tag_listing_is_alphabetical_and_paged(make_client):
    client = make_client(API)
    names = [f"tag-{i:02d}" for i in range(25)]
    for name in reversed(names):
        assert client.post("/v1/tags", json={"name": name}).status_code == 201
    pages = [page_of(client, "/v1/tags", page=p, limit=10) for p in range(3)]
    assert [t["name"] for p in pages for t in p["results"]] == names
    assert [p["meta"]["has_more_pages"] for p in pages] == [True, True, False]
    assert all(p["meta"]["total_results"] == 25 for p in pages)
    assert page_of(client, "/v1/tags", page=9)["results"] == []
    assert len(page_of(client, "/v1/tags")["results"]) == 20  # default limit


# -- TIM-09 ----------------------------------------------------------------------------------------------
def test_tim09_create_tag_and_duplicate_409(make_client):
    client = make_client(API)
    r = client.post("/v1/tags", json={"name": "sunset"})
    assert r.status_code == 201
    tag = json_of(r)
    assert tag == {"id": tag["id"], "name": "sunset"} and isinstance(tag["id"], int)
    body = assert_error(client.post("/v1/tags", json={"name": "sunset"}), 409)
    assert body["message"] == "Tag 'sunset' already exists"
    assert client.post("/v1/tags", json={"name": "Sunset"}).status_code == 201  # case-sensitive
    record = get(client, create(client, tags=["sunset"])["id"])
    assert record["tags"] == [tag]  # reused by image creation
    assert page_of(client, "/v1/tags")["meta"]["total_results"] == 2


def test_tim09_seed_example_and_invalid_bodies(make_client):
    client = make_client(API)
    r = client.post("/v1/tags", json={"name": "string"})
    assert r.status_code == 201 and set(json_of(r)) == {"id", "name"}
    for body in ({"name": 4}, ["name"]):
        assert_error(client.post("/v1/tags", json=body), 400)
    assert_error(client.post("/v1/tags", content=b"{", headers=JSON), 400)


def test_all05_tag_names_of_any_length_and_absent_names(make_client):
    """The seed makes `name` optional with no length: `{}` names the tag "tag-<id>" (a free name)."""
    client = make_client(API)
    for body, name in (
        ({"name": ""}, ""),
        ({"name": "x" * 101}, "x" * 101),
        ({"name": "tag-4"}, "tag-4"),
        ({}, "tag-4-2"),
        ({}, "tag-5"),
    ):
        r = client.post("/v1/tags", json=body)
        assert r.status_code == 201, r.text
        assert json_of(r)["name"] == name


# -- TIM-10 ----------------------------------------------------------------------------------------------
def test_tim10_tag_images_paged_newest_first(make_client, clock):
    client = make_client(API)
    tagged = []
    for i in range(25):
        clock(5_000 + i // 3)
        tags = ["even"] if i % 2 == 0 else ["odd"]
        tagged.append((create(client, f"{i}.png", tags)["id"], tags[0]))
    even = [image_id for image_id, tag in tagged if tag == "even"][::-1]
    tag_id = next(t["id"] for t in page_of(client, "/v1/tags")["results"] if t["name"] == "even")
    pages = [page_of(client, f"/v1/tags/{tag_id}/images", page=p, limit=5) for p in range(3)]
    assert [r["id"] for p in pages for r in p["results"]] == even
    assert [p["meta"]["has_more_pages"] for p in pages] == [True, True, False]
    assert all(p["meta"]["total_results"] == 13 for p in pages)
    assert all(r["tags"] == [{"id": tag_id, "name": "even"}] for p in pages for r in p["results"])
    in_range = ids_of(client, f"/v1/tags/{tag_id}/images", start_timestamp=5_002, end_timestamp=5_003)
    assert in_range == [11, 9, 7]
    assert ids_of(client, f"/v1/tags/{tag_id}/images", uploaded_only="true") == []
    body = assert_error(client.get("/v1/tags/999/images"), 404)
    assert body["message"] == "Tag 999 not found"


def test_tim10_uploaded_only_on_tag_images_pages_correctly(make_client):
    client = make_client(API)
    restore(
        client,
        [100 + i for i in range(12)],
        uploaded={2, 4, 6, 8, 10, 12},
        tags={i: [1] for i in range(1, 13)},
    )
    first = page_of(client, "/v1/tags/1/images", uploaded_only="true", limit=4)
    second = page_of(client, "/v1/tags/1/images", uploaded_only="true", limit=4, page=1)
    assert [r["id"] for r in first["results"]] == [12, 10, 8, 6]
    assert [r["id"] for r in second["results"]] == [4, 2]
    assert first["meta"] == {"current_page": 0, "total_results": 6, "has_more_pages": True}
    assert second["meta"] == {"current_page": 1, "total_results": 6, "has_more_pages": False}


# -- TIM-11 ----------------------------------------------------------------------------------------------
def test_tim11_delete_tag_keeps_images_without_it(make_client):
    client = make_client(API)
    one = create(client, tags=["cat", "pet"])["id"]
    two = upload(client, tags=["cat"])["id"]
    tags = {t["name"]: t["id"] for t in page_of(client, "/v1/tags")["results"]}
    r = client.delete(f"/v1/tags/{tags['cat']}")
    assert r.status_code == 204 and r.content == b""
    assert [t["name"] for t in page_of(client, "/v1/tags")["results"]] == ["pet"]
    assert get(client, one)["tags"] == [{"id": tags["pet"], "name": "pet"}]
    assert get(client, two)["tags"] == []
    assert ids_of(client, "/v1/images") == [two, one]
    assert_error(client.get(f"/v1/tags/{tags['cat']}/images"), 404)
    assert search(client, exact_tags="cat") == [] and search(client, match_tags="cat") == []
    assert_error(client.delete(f"/v1/tags/{tags['cat']}"), 404)
    new_cat = get(client, create(client, tags=["cat"])["id"])["tags"][0]
    assert new_cat["id"] != tags["cat"]  # a new tag of the same name, with a new id


# -- TIM-12 ----------------------------------------------------------------------------------------------
@pytest.fixture
def gallery(make_client, clock):
    client = make_client(API)
    ids = {}
    for i, (name, tags) in enumerate(
        [
            ("sunset", ["sunset", "beach"]),
            ("sun", ["Sun"]),
            ("dotted", ["a.b", "Beach"]),
            ("plain", ["axb"]),
            ("untagged", []),
            ("beachside", ["beach", "sunrise", "holiday"]),
        ]
    ):
        clock(2_000 + i)
        ids[name] = create(client, f"{name}.png", tags)["id"]
    return client, ids


def test_tim12_exact_tags_case_sensitive_all_present(gallery):
    client, ids = gallery
    assert search(client, exact_tags="beach") == [ids["beachside"], ids["sunset"]]
    assert search(client, exact_tags="Beach") == [ids["dotted"]]
    assert search(client, exact_tags="beach|sunset") == [ids["sunset"]]
    assert search(client, exact_tags="sunset|beach") == [ids["sunset"]]
    assert search(client, exact_tags="beach|nope") == []
    assert search(client, exact_tags="sun") == []
    assert search(client, exact_tags="a.b") == [ids["dotted"]]


def test_tim12_match_tags_wildcards_case_insensitive(gallery):
    client, ids = gallery
    assert search(client, match_tags="SUNSET") == [ids["sunset"]]
    assert search(client, match_tags="sun") == [ids["sun"]]  # whole-tag match, case-insensitive
    assert search(client, match_tags="sun%") == [ids["beachside"], ids["sun"], ids["sunset"]]
    assert search(client, match_tags="%set") == [ids["sunset"]]
    assert search(client, match_tags="s%t") == [ids["sunset"]]
    assert search(client, match_tags="%RISE%") == [ids["beachside"]]
    assert search(client, match_tags="%") == [
        ids["beachside"],
        ids["plain"],
        ids["dotted"],
        ids["sun"],
        ids["sunset"],
    ]
    assert search(client, match_tags="a.b") == [ids["dotted"]]  # '.' is literal
    assert search(client, match_tags="a_b") == []  # only % is a wildcard
    assert search(client, match_tags="beach|sun%") == [ids["beachside"], ids["sunset"]]
    assert search(client, match_tags="beach|sunrise|holiday") == [ids["beachside"]]
    assert search(client, match_tags="beach|nothing%") == []
    assert search(client, match_tags="b%|%h") == [ids["beachside"], ids["dotted"], ids["sunset"]]


def test_tim12_both_filters_apply_together(gallery):
    """The seed requires both parameters: a request with both is the certainly valid one (AND)."""
    client, ids = gallery
    assert search(client, exact_tags="beach", match_tags="b%") == [ids["beachside"], ids["sunset"]]
    assert search(client, exact_tags="beach", match_tags="sun%") == [ids["beachside"], ids["sunset"]]
    assert search(client, exact_tags="beach", match_tags="%set") == [ids["sunset"]]
    assert search(client, exact_tags="Beach", match_tags="%set") == []
    assert search(client, exact_tags="beach|holiday", match_tags="SUN%|%day") == [ids["beachside"]]
    assert search(client, exact_tags="nope", match_tags="%") == []


def test_tim12_neither_filter_is_400(gallery):
    client, _ = gallery
    assert_error(client.get("/v1/search/images"), 400)
    assert_error(client.get("/v1/search/images", params={"start_timestamp": 1}), 400)


def test_tim12_date_range_uploaded_only_paging_and_order(gallery):
    client, ids = gallery
    assert search(client, match_tags="%", start_timestamp=2_001, end_timestamp=2_003) == [
        ids["plain"],
        ids["dotted"],
        ids["sun"],
    ]
    assert search(client, exact_tags="beach", end_timestamp=2_000) == [ids["sunset"]]
    first = page_of(client, "/v1/search/images", match_tags="%", limit=2)
    third = page_of(client, "/v1/search/images", match_tags="%", limit=2, page=2)
    assert [r["id"] for r in first["results"]] == [ids["beachside"], ids["plain"]]
    assert first["meta"] == {"current_page": 0, "total_results": 5, "has_more_pages": True}
    assert [r["id"] for r in third["results"]] == [ids["sunset"]]
    assert third["meta"] == {"current_page": 2, "total_results": 5, "has_more_pages": False}
    assert search(client, exact_tags="beach", uploaded_only="true") == []
    upload_url = client.post("/v1/images", json={"filename": "late.png", "tags": ["beach"]}).json()
    assert client.put(upload_url["upload_url"], content=image_bytes()).status_code == 200
    assert search(client, exact_tags="beach", uploaded_only="true") == [upload_url["id"]]
    assert search(client, match_tags="BEACH", uploaded_only="true") == [upload_url["id"]]
    assert_error(client.get("/v1/search/images", params={"match_tags": "%", "limit": 101}), 400)


# -- TIM-13 ----------------------------------------------------------------------------------------------
def test_tim13_every_error_is_code_and_message(make_client):
    client = make_client(API)
    tag_id = json_of(client.post("/v1/tags", json={"name": "dup"}))["id"]
    cases = [
        (client.get("/v1/images", params={"limit": 101}), 400),
        (client.get("/v1/images/abc"), 404),
        (client.get("/v1/images/12345"), 404),
        (client.delete("/v1/images/12345"), 404),
        (client.get("/v1/tags/12345/images"), 404),
        (client.delete("/v1/tags/12345"), 404),
        (client.post("/v1/tags", json={"name": "dup"}), 409),
        (client.post("/v1/images", content=b"filename=a", headers={"Content-Type": "text/plain"}), None),
        (client.post("/v1/upload", json={"filename": "a", "image_data": "A" * 3_960_001}), 413),
        (client.get("/v1/search/images"), 400),
        (client.put(f"http://testserver/__mock__/files/{API}/1", content=b"x"), 403),
        (client.get(f"http://testserver/__mock__/files/{API}/1"), 403),
    ]
    for r, status in cases:
        assert_error(r, status or r.status_code)  # None: any 4xx (a wrong media type: 400 or 415)
        assert 400 <= r.status_code < 500
    assert client.delete(f"/v1/tags/{tag_id}").status_code == 204


def test_tim13_limit_101_is_400_in_the_error_format(make_client):
    body = assert_error(make_client(API).get("/v1/images?limit=101"), 400)
    assert "100" in body["message"]


def test_prefer_code_forces_a_documented_status(make_client):
    client = make_client(API)
    r = client.post("/v1/tags", json={"name": "real"}, headers={"Prefer": "code=201"})
    assert r.status_code == 201 and json_of(r) == {"id": 0, "name": "string"}  # the spec's example
    assert page_of(client, "/v1/tags")["meta"]["total_results"] == 0  # the handler did not run
    # GET /v1/tags documents 200 and 400 only (POST /v1/tags documents ``default``: any code)
    assert_error(client.get("/v1/tags", headers={"Prefer": "code=418"}), 400)


def test_prefer_code_forces_a_documented_error(make_client):
    client = make_client(API)
    image_id = create(client)["id"]
    assert_error(client.get(f"/v1/images/{image_id}", headers={"Prefer": "code=404"}), 404)


# -- ALL-04 and the mock's state operations -----------------------------------------------------------------
def test_all04_concurrent_creates_and_uploads_lose_nothing():
    app = create_app(apis=(API,), prefixed=False)
    pictures = [image_bytes(8 + i, 8, color=(i, 0, 0)) for i in range(12)]

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:

            async def one(data, i):
                if i % 2:
                    r = await client.post(
                        "/v1/upload",
                        json={
                            "filename": f"{i}.png",
                            "tags": ["shared"],
                            "image_data": base64.b64encode(data).decode(),
                        },
                    )
                    return r.json()["id"]
                r = await client.post("/v1/images", json={"filename": f"{i}.png", "tags": ["shared"]})
                assert (await client.put(r.json()["upload_url"], content=data)).status_code == 200
                return r.json()["id"]

            ids = await asyncio.gather(*(one(data, i) for i, data in enumerate(pictures)))
            listing = (await client.get("/v1/images", params={"limit": 100})).json()
            contents = {}
            for image_id in ids:
                record = (await client.get(f"/v1/images/{image_id}")).json()
                contents[image_id] = (await client.get(record["url"])).content
            tags = (await client.get("/v1/tags")).json()
            return ids, listing, contents, tags

    ids, listing, contents, tags = asyncio.run(run())
    assert len(set(ids)) == len(pictures)
    assert {r["id"] for r in listing["results"]} == set(ids) and listing["meta"]["total_results"] == len(ids)
    assert all(contents[image_id] == data for image_id, data in zip(ids, pictures, strict=True))
    assert [t["name"] for t in tags["results"]] == ["shared"]


def test_dump_restore_round_trip(make_client):
    client = make_client(API)
    create(client, tags=["x", "y"])
    upload(client, tags=["y"])
    client.post("/v1/tags", json={"name": "z"})
    client.delete("/v1/images/1")
    dumped = state(client)["apis"][API]
    fresh = make_client(API)
    api_of(fresh).restore(dumped)
    assert state(fresh)["apis"][API] == dumped
    assert create(fresh)["id"] == 3  # the counter is part of the state: id 1 is never reused
    assert json_of(fresh.post("/v1/tags", json={"name": "w"}))["id"] == 4


def test_reset_clears_everything(make_client):
    client = make_client(API)
    upload(client, tags=["x"])
    assert client.post("/__mock__/reset").status_code == 204
    assert page_of(client, "/v1/images")["meta"]["total_results"] == 0
    assert page_of(client, "/v1/tags")["meta"]["total_results"] == 0
    assert state(client)["stored_files"] == 0


def test_seed_fixtures_load_through_the_real_code_paths(make_client, fixture_image):
    client = make_client(API, seed_data=FIXTURES_DIR)
    listing = page_of(client, "/v1/images")
    assert listing["meta"]["total_results"] == 4
    records = {r["filename"]: r for r in listing["results"]}
    beach = records["beach-sunset.jpg"]
    assert beach["size"] == len(fixture_image("photo-exif.jpg"))
    assert client.get(beach["url"]).content == fixture_image("photo-exif.jpg")
    assert records["product-shot-draft.png"]["url"] is None
    assert search(client, exact_tags="holiday-2024") == [records["old-town-street.jpg"]["id"], beach["id"]]
    assert page_of(client, "/v1/tags")["results"][0]["name"] == "beach"


def test_prefixed_mount_serves_tagged_images_under_its_name(make_client):
    client = make_client()
    r = client.post(
        f"/{API}/v1/upload",
        json={"filename": "a.png", "tags": ["t"], "image_data": base64.b64encode(image_bytes()).decode()},
    )
    assert r.status_code == 201
    record = json_of(client.get(f"/{API}/v1/images/{r.json()['id']}"))
    assert client.get(record["url"]).content == image_bytes()
