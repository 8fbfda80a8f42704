"""The reply cache: a read is answered from it until a change of the API's state, and never for a request
that fails authentication or validation or carries ``Prefer:``. The clock's second is pinned, so only an
invalidation can make a second read differ from the first."""

from __future__ import annotations

import asyncio
import base64
import json
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient
from support.evotor import AUTH as EVOTOR_AUTH
from support.evotor import images_path as evotor_images
from support.evotor import upload as evotor_upload
from support.image_upload import SECRET, token
from support.image_upload import auth as image_upload_auth
from support.image_upload import upload as image_upload_upload
from support.images import image_bytes
from support.json_bodies import json_of

from mockserver.app import create_app
from mockserver.layers import reply_cache


@pytest.fixture(autouse=True)
def frozen_second(monkeypatch):
    monkeypatch.setattr(reply_cache, "now_second", lambda: 1_000_000)


def _kept(client) -> int:
    return len(client.app.ctx.replies)


def test_a_repeated_read_is_served_from_the_cache_with_the_same_bytes(make_client):
    client = make_client("tagged-images")
    client.post("/v1/images", json={"filename": "a.png"})
    first = client.get("/v1/images")
    assert _kept(client) == 1
    api = client.app.ctx.apis["tagged-images"]
    calls = []
    original = api.list_images

    async def counting(*args, **kwargs):
        calls.append(1)
        return await original(*args, **kwargs)

    api.list_images = counting
    second = client.get("/v1/images")
    assert second.content == first.content and second.headers["content-type"] == first.headers["content-type"]
    assert calls == []  # the handler did not run


def test_tagged_images_upload_then_list_and_search_show_it_delete_then_get_is_404(make_client):
    client = make_client("tagged-images")
    reads = ["/v1/images", "/v1/search/images?exact_tags=t", "/v1/tags"]
    for path in reads:
        assert client.get(path).status_code == 200
    created = json_of(
        client.post("/v1/upload", json={"filename": "a.png", "tags": ["t"], "image_data": _b64png()})
    )
    assert [r["id"] for r in json_of(client.get("/v1/images"))["results"]] == [created["id"]]
    found = json_of(client.get("/v1/search/images?exact_tags=t"))["results"]
    assert [r["id"] for r in found] == [created["id"]]
    assert [t["name"] for t in json_of(client.get("/v1/tags"))["results"]] == ["t"]
    one = f"/v1/images/{created['id']}"
    assert client.get(one).status_code == 200
    assert client.delete(one).status_code == 204
    assert client.get(one).status_code == 404
    assert json_of(client.get("/v1/images"))["results"] == []


def test_tagged_images_presigned_put_invalidates_the_listing(make_client):
    client = make_client("tagged-images")
    presigned = json_of(client.post("/v1/images", json={"filename": "a.png"}))
    assert json_of(client.get("/v1/images"))["results"][0]["url"] is None
    url = urlsplit(presigned["upload_url"])
    assert client.put(f"{url.path}?{url.query}", content=image_bytes(8, 8)).status_code in (200, 204)
    assert json_of(client.get("/v1/images"))["results"][0]["url"] is not None


def test_everydaypic_upload_then_info_shows_it(make_client):
    client = make_client("everydaypic")
    assert client.get("/v1/image/info").status_code == 404
    assert client.get("/v1/image/info").status_code == 404
    r = client.post(
        "/v1/image",
        files={"file": ("a.png", image_bytes(), "image/png")},
        data={"fileName": "a.png", "name": "A"},
    )
    assert r.status_code == 200, r.text
    assert [i["fileName"] for i in json_of(client.get("/v1/image/info"))] == ["a.png"]


def test_evotor_upload_then_list_delete_then_get_is_404(make_client):
    client = make_client("evotor")
    assert json_of(client.get(evotor_images(), headers=EVOTOR_AUTH))["items"] == []
    image = json_of(evotor_upload(client, image_bytes(300, 300)))
    listed = json_of(client.get(evotor_images(), headers=EVOTOR_AUTH))["items"]
    assert [i["id"] for i in listed] == [image["id"]]
    one = f"{evotor_images()}/{image['id']}"
    assert client.get(one, headers=EVOTOR_AUTH).status_code == 200
    assert client.delete(one, headers=EVOTOR_AUTH).status_code == 204
    assert client.get(one, headers=EVOTOR_AUTH).status_code == 404
    assert json_of(client.get(evotor_images(), headers=EVOTOR_AUTH))["items"] == []


def test_image_upload_upload_then_list_delete_then_list(make_client):
    client = make_client("image-upload", jwt_secret=SECRET)
    headers = image_upload_auth()
    assert json_of(client.get("/GetAllImages", headers=headers))["data"] == []
    image = json_of(image_upload_upload(client, image_bytes(), headers=headers))["data"]
    listed = json_of(client.get("/GetAllImages", headers=headers))["data"]
    assert [i["fileName"] for i in listed] == [image["fileName"]]
    r = client.delete("/DeleteImage", params={"FileName": image["fileName"]}, headers=headers)
    assert r.status_code == 200
    assert json_of(client.get("/GetAllImages", headers=headers))["data"] == []


def test_reset_and_fixtures_invalidate(make_client):
    client = make_client("tagged-images")
    client.post("/v1/images", json={"filename": "a.png"})
    assert len(json_of(client.get("/v1/images"))["results"]) == 1
    assert client.post("/__mock__/reset").status_code == 204
    assert json_of(client.get("/v1/images"))["results"] == []
    assert client.post("/__mock__/fixtures").status_code == 201
    assert json_of(client.get("/v1/images"))["results"] != []


def test_no_cached_reply_without_credentials_or_with_invalid_input_or_prefer(make_client):
    client = make_client("evotor")
    assert client.get(evotor_images(), headers=EVOTOR_AUTH).status_code == 200
    assert client.get(evotor_images()).status_code == 401  # same path, no token: security runs first
    guarded = make_client("image-upload", jwt_secret=SECRET)
    assert guarded.get("/GetAllImages", headers=image_upload_auth()).status_code == 200
    forged = image_upload_auth(token("another-secret-of-at-least-32-bytes!!"))
    assert guarded.get("/GetAllImages", headers=forged).status_code == 401
    tagged = make_client("tagged-images")
    assert tagged.get("/v1/images?limit=5").status_code == 200
    assert tagged.get("/v1/images?limit=101").status_code == 400  # the seed: at most 100
    assert tagged.get("/v1/images?limit=5", headers={"Prefer": "code=400"}).status_code == 400
    kept = _kept(tagged)
    assert tagged.get("/v1/images?limit=6", headers={"Prefer": "delay=1"}).status_code == 200
    assert _kept(tagged) == kept  # a reply to a request with Prefer is not kept


def test_the_cache_is_bounded_in_bytes(make_client):
    client = make_client("tagged-images", reply_cache_bytes=64 * 1024)
    for i in range(40):
        client.post("/v1/images", json={"filename": f"{i}.png"})
    for limit in range(1, 40):
        assert client.get(f"/v1/images?limit={limit}").status_code == 200
    assert 0 < client.app.ctx.replies.held_bytes <= 64 * 1024


def test_the_bound_counts_what_entries_really_hold_keys_and_overhead_included(make_client):
    """Before, only reply bodies counted: an entry held ~5.3 KB for ~250 counted bytes."""
    import gc
    import tracemalloc

    bound = 512 * 1024
    client = make_client("tagged-images", reply_cache_bytes=bound, journal_size=0)
    cache = client.app.ctx.replies
    browser_like = {f"x-header-{i}": "v" * 30 for i in range(12)}
    tracemalloc.start()
    try:
        for i in range(600):  # distinct misses, far more than fit
            assert client.get(f"/v1/images?limit=5&page={i}", headers=browser_like).status_code == 200
        gc.collect()
        with_entries, held, kept = tracemalloc.get_traced_memory()[0], cache.held_bytes, len(cache)
        cache._entries.clear()
        gc.collect()
        really = with_entries - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held <= bound and 0 < kept < 600
    assert really <= bound * 1.25, f"{kept} entries hold {really} bytes for a bound of {bound}"


def test_entries_that_can_no_longer_be_served_are_dropped(make_client, monkeypatch):
    clock = [1_000_000]
    monkeypatch.setattr(reply_cache, "now_second", lambda: clock[0])
    client = make_client("tagged-images")
    cache = client.app.ctx.replies
    for limit in range(1, 21):
        client.get(f"/v1/images?limit={limit}")
    assert len(cache) == 20
    clock[0] += 1  # every kept reply's key holds the second it was made in
    client.get("/v1/images?limit=1")
    assert len(cache) == 1
    client.get("/v1/images?limit=2")
    client.post("/v1/tags", json={"name": "new"})  # the API's version moves on
    client.get("/v1/images?limit=3")
    assert len(cache) == 1


def test_turned_off_it_keeps_nothing(make_client):
    client = make_client("tagged-images", reply_cache_bytes=0)
    assert client.get("/v1/images").status_code == 200
    assert client.app.ctx.replies is None


def test_durable_another_processes_write_invalidates_this_ones_replies(tmp_path):
    """Two apps on one --state-dir are two workers: B's kept listing goes once A commits a record."""
    a, b = (create_app(allow_hosts=("testserver",), state_dir=tmp_path) for _ in range(2))
    try:
        with TestClient(a) as client_a, TestClient(b) as client_b:
            assert json_of(client_b.get("/tagged-images/v1/images"))["results"] == []
            created = json_of(client_a.post("/tagged-images/v1/images", json={"filename": "a.png"}))
            listed = json_of(client_b.get("/tagged-images/v1/images"))["results"]
            assert [r["id"] for r in listed] == [created["id"]]
            assert client_a.delete(f"/tagged-images/v1/images/{created['id']}").status_code == 204
            assert client_b.get(f"/tagged-images/v1/images/{created['id']}").status_code == 404
            assert json_of(client_b.get("/tagged-images/v1/images"))["results"] == []
    finally:
        a.durable.close()
        b.durable.close()


def _b64png() -> str:
    import base64

    return base64.b64encode(image_bytes(8, 8)).decode()


def test_the_command_line_sizes_or_turns_off_the_cache():
    from mockserver.cli import build_parser, settings_from_args

    def settings(*argv):
        return settings_from_args(build_parser().parse_args(list(argv)))

    assert settings().reply_cache_bytes == 32 * 2**20
    assert settings("--reply-cache-mb", "0").reply_cache_bytes == 0
    assert create_app(settings("--reply-cache-mb", "0")).ctx.replies is None
    with pytest.raises(SystemExit):
        settings("--reply-cache-mb", "-1")


def test_a_kept_reply_gets_the_cors_headers_once_like_a_fresh_one(make_client):
    client = make_client("tagged-images", allow_origins=("http://app.example",))
    origin = {"Origin": "http://app.example"}
    fresh, kept = client.get("/v1/images", headers=origin), client.get("/v1/images", headers=origin)
    assert _kept(client) == 1
    assert fresh.headers.get_list("access-control-allow-origin") == ["http://app.example"]
    assert kept.headers.multi_items() == fresh.headers.multi_items()


def test_a_read_made_while_a_write_is_still_answering_sees_the_write():
    """A client that has read a write's answer may read again before the server has finished sending it:
    the version must move as the answer starts, not only once the write is over."""
    app = create_app(apis=("tagged-images",), prefixed=False, allow_hosts=("testserver",))

    async def call(method: str, path: str, body: bytes = b"", on_body=None) -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"testserver"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("testserver", 80),
        }
        sent = False
        status, chunks = 0, []

        async def receive():
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if on_body is not None:
                    await on_body()

        await app(scope, receive, send)
        return status, b"".join(chunks)

    async def scenario():
        assert json.loads((await call("GET", "/v1/images"))[1])["results"] == []  # kept
        seen = []

        async def read_again():
            seen.append(json.loads((await call("GET", "/v1/images"))[1]))

        upload = {"filename": "a.png", "tags": [], "image_data": base64.b64encode(image_bytes()).decode()}
        status, created = await call("POST", "/v1/upload", json.dumps(upload).encode(), on_body=read_again)
        assert status == 201, created
        assert [image["id"] for image in seen[0]["results"]] == [json.loads(created)["id"]]

    asyncio.run(scenario())


def _key(i: int, path: str = "/v1/images", second: int = 1_000_000, version: int = 0) -> tuple:
    return ("tagged-images", version, second, "GET", path, f"uncached={i}".encode(), "http", "", ())


START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}


def _consistent(cache) -> None:
    entries = cache._entries
    assert cache.held_bytes == sum(cost for _, _, cost in entries.values()) <= cache.max_bytes
    large = [cost for _, _, cost in entries.values() if cost > cache.large_entry_bytes]
    assert cache.held_large_bytes == sum(large) <= cache.max_large_bytes
    assert len(large) <= cache.MAX_LARGE_REPLIES


def test_a_run_of_distinct_large_replies_recycles_the_last_two_and_keeps_the_small_ones():
    cache = reply_cache.ReplyCache(1_000_000)  # large: over 7,812 bytes each; at most 250,000 together
    small = [(_key(i, "/v1/tags"), b"[]") for i in range(20)]
    for key, body in small:
        cache.put(key, START, body)
    for i in range(200):  # every first read after a write of a big listing, say
        cache.put(_key(i), START, b"x" * 20_000)
        _consistent(cache)
    assert all(cache.get(key) == (START, body) for key, body in small)
    assert 0 < cache.held_large_bytes <= 250_000
    keys = [_key(i) for i in range(200)]
    assert all(cache.get(key) is not None for key in keys[-2:])  # the latest two are the ones kept
    assert all(cache.get(key) is None for key in keys[:-2])  # their buffers were recycled


def test_a_large_reply_read_again_is_kept_before_the_older_large_ones():
    cache = reply_cache.ReplyCache(1_000_000)
    body = b"x" * 20_000
    for i in range(cache.MAX_LARGE_REPLIES):
        cache.put(_key(i), START, body)
    favourite = _key(0)
    for i in range(cache.MAX_LARGE_REPLIES, 200):
        assert cache.get(favourite) is not None  # read again and again: the large LRU keeps it
        cache.put(_key(i), START, body)
    assert cache.get(favourite) is not None
    _consistent(cache)


def test_large_and_small_accounts_stay_exact_through_replacements_and_unservable_drops():
    cache = reply_cache.ReplyCache(1_000_000)
    for i in range(30):
        cache.put(_key(i % 7), START, b"x" * (20_000 if i % 2 else 50))  # the same keys, now large, now small
        _consistent(cache)
    cache.bump("tagged-images")
    cache.put(_key(99, version=1), START, b"x" * 20_000)  # every older version's entry goes
    _consistent(cache)
    assert len(cache) == 1


def test_the_largest_reply_kept_is_as_before():
    cache = reply_cache.ReplyCache(1_000_000)
    cache.put(_key(1), START, b"x" * 240_000)  # within a quarter of the bound, overhead included
    assert cache.get(_key(1)) is not None
    cache.put(_key(2), START, b"x" * 260_000)
    assert cache.get(_key(2)) is None
    _consistent(cache)
