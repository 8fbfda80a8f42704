"""What every API shares: error formats, no 5xx, spec-valid responses, concurrency, controls, quota."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest
from support.images import image_bytes
from support.json_bodies import json_of
from support.live_server import LiveServer

from conformance.openapi_check import SpecViolation, assert_honours_contract
from image_api_contracts import auth_headers
from image_api_contracts.devtokens import DEV_ALBUM

STORE, PRODUCT = "20180413-2595-40E8-80CB-4646C05D81B6", "5e46f8de-ec4f-4f87-85de-337b88fa2bdd"
EVOTOR_IMAGES = f"/evotor/stores/{STORE}/products/{PRODUCT}/images"

# (api, method, path, request kwargs) that break the spec or HTTP itself; none may get a 5xx.
MALFORMED = [
    (
        "everydaypic",
        "POST",
        "/everydaypic/v1/image",
        {"content": b"--x\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=x"}},
    ),
    (
        "everydaypic",
        "POST",
        "/everydaypic/v1/image",
        {"content": b"garbage", "headers": {"content-type": "multipart/form-data"}},
    ),
    ("everydaypic", "POST", "/everydaypic/v1/image", {"json": {"file": "x"}}),
    (
        "everydaypic",
        "POST",
        "/everydaypic/v1/image",
        {"data": {"file": "text, not a file part", "fileName": "a", "name": "b"}},
    ),
    ("everydaypic", "GET", "/everydaypic/v1/image/info?id=" + "x" * 5000, {}),
    ("evotor", "POST", EVOTOR_IMAGES, {"files": {"datafile": ("a.png", b"", "image/png")}}),
    ("evotor", "POST", EVOTOR_IMAGES, {"content": b"\x00" * 100, "headers": {"content-type": "image/png"}}),
    ("evotor", "GET", f"/evotor/stores/{STORE}/products/{PRODUCT}/images/%00", {}),
    (
        "image-upload",
        "POST",
        "/image-upload/UploadImage",
        {"content": b"--b\r\n\r\n", "headers": {"content-type": "multipart/form-data; boundary=b"}},
    ),
    ("image-upload", "DELETE", "/image-upload/DeleteImage", {}),
    (
        "sharinpix",
        "POST",
        f"/sharinpix/api/v1/albums/{DEV_ALBUM}/images/",
        {
            "content": b"cloudinary[public_id]=1&cloudinary=2",
            "headers": {"content-type": "application/x-www-form-urlencoded"},
        },
    ),
    (
        "sharinpix",
        "POST",
        f"/sharinpix/api/v1/albums/{DEV_ALBUM}/images/",
        {"content": b"\xff\xfe=\xff", "headers": {"content-type": "application/x-www-form-urlencoded"}},
    ),
    (
        "sharinpix",
        "POST",
        f"/sharinpix/api/v1/albums/{DEV_ALBUM}/images/",
        {
            "content": b"a" + b"[x]" * 50 + b"=1",
            "headers": {"content-type": "application/x-www-form-urlencoded"},
        },
    ),
    (
        "tagged-images",
        "POST",
        "/tagged-images/v1/images",
        {"content": b"[1, 2]", "headers": {"content-type": "application/json"}},
    ),
    (
        "tagged-images",
        "POST",
        "/tagged-images/v1/images",
        {"content": b"{" * 10000, "headers": {"content-type": "application/json"}},
    ),
    (
        "tagged-images",
        "POST",
        "/tagged-images/v1/tags",
        {"content": b"\xff\x1bj-J", "headers": {"content-type": "application/json"}},
    ),
    (
        "tagged-images",
        "POST",
        "/tagged-images/v1/upload",
        {"json": {"filename": "a", "image_data": "!!!not base64"}},
    ),
    ("tagged-images", "GET", "/tagged-images/v1/images?limit=abc&page=-1", {}),
    ("tagged-images", "GET", "/tagged-images/v1/search/images?start_timestamp=1", {}),  # neither filter
    ("tagged-images", "GET", "/tagged-images/v1/images/99999999999999999999999", {}),
]


@pytest.mark.parametrize(
    ("api", "method", "path", "kwargs"), MALFORMED, ids=[f"{m[0]}-{i}" for i, m in enumerate(MALFORMED)]
)
def test_all01_malformed_requests_get_4xx_never_5xx(make_client, api, method, path, kwargs):
    client = make_client()
    headers = {**auth_headers(api), **kwargs.pop("headers", {})}
    r = client.request(method, path, headers=headers, **kwargs)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert "problem+json" not in r.headers.get("content-type", "")


def test_all01_nothing_is_stored_by_rejected_requests(make_client):
    client = make_client()
    for api, method, path, kwargs in MALFORMED:
        headers = {**auth_headers(api), **kwargs.get("headers", {})}
        client.request(method, path, headers=headers, **{k: v for k, v in kwargs.items() if k != "headers"})
    state = client.get("/__mock__/state").json()
    assert state["stored_bytes"] == 0 and state["stored_files"] == 0


def test_edp06_errors_are_plain_text_in_everydaypic(make_client):
    client = make_client()
    r = client.get("/everydaypic/v1/image/no-such-id")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/plain")
    assert r.text == "Image not found"


@pytest.mark.parametrize(
    ("api", "path", "expected"),
    [
        ("everydaypic", "/everydaypic/v1/image/nope", "Image not found"),
        ("evotor", f"/evotor/stores/{STORE}/products/{PRODUCT}/images/nope", {"errors"}),
        ("image-upload", "/image-upload/DeleteImage?FileName=nope", {"message", "data"}),
        ("tagged-images", "/tagged-images/v1/images/424242", {"code", "message"}),
    ],
)
def test_all02_errors_use_each_apis_own_format(make_client, api, path, expected):
    client = make_client()
    method = "DELETE" if "Delete" in path else "GET"
    r = client.request(method, path, headers=auth_headers(api))
    assert r.status_code == 404
    if isinstance(expected, str):
        assert r.text == expected
    else:
        assert set(json_of(r)) == expected


def _scenario(client) -> list[tuple[str, httpx.Response]]:
    """One round of every operation of every API; each response is checked against its spec."""
    png300 = image_bytes(300, 300)
    out = []
    r = client.post(
        "/everydaypic/v1/image",
        files={"file": ("a.png", image_bytes(), "image/png")},
        data={"fileName": "a.png", "name": "A"},
    )
    image_id = r.json()[0]["id"]
    out += [
        ("everydaypic", r),
        ("everydaypic", client.get(f"/everydaypic/v1/image/info?id={image_id}")),
        ("everydaypic", client.get(f"/everydaypic/v1/image/{image_id}")),
        ("everydaypic", client.get("/everydaypic/v1/image/info?id=zz")),
    ]
    h = auth_headers("evotor")
    r = client.post(EVOTOR_IMAGES, files={"datafile": ("p.png", png300, "image/png")}, headers=h)
    evotor_id = r.json()["id"]
    out += [
        ("evotor", r),
        ("evotor", client.get(EVOTOR_IMAGES, headers=h)),
        ("evotor", client.get(f"{EVOTOR_IMAGES}/{evotor_id}", headers=h)),
        ("evotor", client.post(EVOTOR_IMAGES, files={"datafile": ("p.png", png300, "image/png")}, headers=h)),
        ("evotor", client.delete(f"{EVOTOR_IMAGES}/{evotor_id}", headers=h)),
        ("evotor", client.get(EVOTOR_IMAGES)),
    ]
    h = auth_headers("image-upload")
    r = client.post(
        "/image-upload/UploadImage", files={"file": ("x.png", image_bytes(), "image/png")}, headers=h
    )
    name = r.json()["data"]["fileName"]
    out += [
        ("image-upload", r),
        ("image-upload", client.get("/image-upload/GetAllImages", headers=h)),
        ("image-upload", client.delete(f"/image-upload/DeleteImage?FileName={name}", headers=h)),
        ("image-upload", client.get("/image-upload/GetAllImages")),
    ]
    h = {**auth_headers("sharinpix"), "content-type": "application/x-www-form-urlencoded"}
    body = (
        "cloudinary[public_id]=abc&cloudinary[width]=10&cloudinary[height]=20&cloudinary[bytes]=99"
        "&cloudinary[format]=png&metadatas[k]=v"
    )
    out += [
        ("sharinpix", client.post(f"/sharinpix/api/v1/albums/{DEV_ALBUM}/images/", content=body, headers=h)),
        ("sharinpix", client.post("/sharinpix/api/v1/albums/OTHER/images/", content=body, headers=h)),
    ]
    b64 = base64.b64encode(image_bytes()).decode()
    r = client.post(
        "/tagged-images/v1/upload", json={"filename": "t.png", "image_data": b64, "tags": ["Cat", "pet"]}
    )
    tid = r.json()["id"]
    out += [
        ("tagged-images", r),
        (
            "tagged-images",
            client.post("/tagged-images/v1/images", json={"filename": "n.png", "size": 3, "tags": ["dog"]}),
        ),
        ("tagged-images", client.get("/tagged-images/v1/images?limit=1")),
        ("tagged-images", client.get(f"/tagged-images/v1/images/{tid}")),
        ("tagged-images", client.get("/tagged-images/v1/tags")),
        ("tagged-images", client.post("/tagged-images/v1/tags", json={"name": "new"})),
        ("tagged-images", client.get("/tagged-images/v1/tags/1/images")),
        ("tagged-images", client.get("/tagged-images/v1/search/images?match_tags=c%25")),
        ("tagged-images", client.delete("/tagged-images/v1/tags/1")),
        ("tagged-images", client.delete(f"/tagged-images/v1/images/{tid}")),
        ("tagged-images", client.get(f"/tagged-images/v1/images/{tid}")),
    ]
    return out


def test_all02_every_response_honours_its_spec_by_openapi_core(make_client):
    """A second opinion beside Connexion's own response validation: openapi-core, outside the server."""
    client = make_client(validate_responses=False)
    exchanges = _scenario(client)
    assert len(exchanges) >= 25
    for api, response in exchanges:  # all five under /<api>/: the check infers where each is mounted
        assert response.status_code < 500, (api, response.request.url, response.text[:200])
        assert_honours_contract(api, response)


def test_all02_the_openapi_core_check_catches_a_wrong_body(make_client):
    client = make_client()
    r = client.get("/tagged-images/v1/images")
    broken = httpx.Response(200, json={"results": "not a list", "meta": {}}, request=r.request)
    with pytest.raises(SpecViolation):
        assert_honours_contract("tagged-images", broken)


def test_all03_wrong_types_and_missing_fields_get_4xx(make_client):
    client = make_client()
    assert client.post("/tagged-images/v1/images", json={"filename": 5}).status_code == 400
    assert client.post("/tagged-images/v1/tags", json={"name": 5}).status_code == 400  # {} is seed-valid
    assert client.get("/tagged-images/v1/images?limit=101").status_code == 400
    assert (
        client.post("/everydaypic/v1/image", data={"name": "x"}, files={"x": ("a", b"b")}).status_code == 400
    )
    assert client.post("/image-upload/UploadImage", headers=auth_headers("image-upload")).status_code == 400


def test_all04_fifty_parallel_uploads_on_a_live_server_lose_nothing():
    server = LiveServer()
    try:
        payloads = [image_bytes(16 + i, 16, color=(i, 255 - i, 7)) for i in range(50)]

        async def run():
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:

                async def one(i):
                    r = await client.post(
                        "/everydaypic/v1/image",
                        files={"file": (f"f{i}.png", payloads[i], "image/png")},
                        data={"fileName": f"f{i}.png", "name": f"n{i}"},
                    )
                    assert r.status_code == 200, r.text
                    return r.json()[0]

                created = await asyncio.gather(*(one(i) for i in range(50)))
                downloads = await asyncio.gather(
                    *(client.get(f"/everydaypic/v1/image/{c['id']}") for c in created)
                )
                listed = await client.get(
                    "/everydaypic/v1/image/info", params={"id": [c["id"] for c in created]}
                )
                return created, downloads, listed

        created, downloads, listed = asyncio.run(run())
        assert len({c["id"] for c in created}) == 50
        assert len(listed.json()) == 50
        for i, (c, d) in enumerate(zip(created, downloads, strict=True)):
            assert c["fileName"] == f"f{i}.png" and d.content == payloads[i]
    finally:
        server.stop()


def test_reset_and_state_controls(make_client, png):
    client = make_client()
    client.post(
        "/everydaypic/v1/image",
        files={"file": ("a.png", png(), "image/png")},
        data={"fileName": "a", "name": "b"},
    )
    state = client.get("/__mock__/state").json()
    assert len(state["apis"]["everydaypic"]["images"]) == 1 and state["stored_bytes"] == len(png())
    assert client.post("/__mock__/reset").status_code == 204
    state = client.get("/__mock__/state").json()
    assert state["apis"]["everydaypic"]["images"] == [] and state["stored_bytes"] == 0


def test_fixtures_load_every_api(make_client):
    client = make_client()
    r = client.post("/__mock__/fixtures")
    assert r.status_code == 201
    loaded = r.json()["loaded"]
    assert set(loaded) == {"everydaypic", "evotor", "image-upload", "sharinpix", "tagged-images"}
    assert all(n >= 2 for n in loaded.values()), loaded
    assert client.get("/tagged-images/v1/images").json()["meta"]["total_results"] == loaded["tagged-images"]


def test_prefer_code_forces_a_documented_status_with_a_valid_body(make_client):
    client = make_client()
    r = client.get("/tagged-images/v1/images", headers={"Prefer": "code=200"})
    assert r.status_code == 200 and "results" in r.json()
    r = client.get("/tagged-images/v1/images/1", headers={"Prefer": "code=404"})
    assert r.status_code == 404 and set(r.json()) == {"code", "message"}
    r = client.get("/everydaypic/v1/image/x", headers={"Prefer": "code=500"})
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/plain")
    r = client.get("/tagged-images/v1/images", headers={"Prefer": "code=418"})
    assert r.status_code == 400 and "not documented" in r.json()["message"]
    for api, response in [
        ("tagged-images", client.get("/tagged-images/v1/images/1", headers={"Prefer": "code=200"}))
    ]:
        assert_honours_contract(api, response, base_url="http://testserver/tagged-images/v1")


def test_prefer_delay_adds_latency(make_client):
    import time

    client = make_client()
    started = time.perf_counter()
    client.get("/tagged-images/v1/tags", headers={"Prefer": "delay=300"})
    assert time.perf_counter() - started >= 0.3


def test_cors_preflight_and_headers(make_client):
    client = make_client()
    r = client.options(
        "/tagged-images/v1/images",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"},
    )
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] in ("*", "http://localhost:3000")
    r = client.get("/tagged-images/v1/tags", headers={"Origin": "http://localhost:3000"})
    assert r.headers["access-control-allow-origin"] == "http://localhost:3000"  # more in test_cors.py


def test_max_store_bytes_gives_507_in_the_apis_format_and_keeps_nothing(make_client):
    first = image_bytes(40, 40)
    client = make_client(max_store_bytes=len(first) + 10)
    ok = client.post(
        "/everydaypic/v1/image",
        files={"file": ("a.png", first, "image/png")},
        data={"fileName": "a", "name": "a"},
    )
    assert ok.status_code == 200
    full = client.post(
        "/everydaypic/v1/image",
        files={"file": ("b.png", image_bytes(50, 50), "image/png")},
        data={"fileName": "b", "name": "b"},
    )
    assert full.status_code == 507 and "max-store-bytes" in full.text
    b64 = base64.b64encode(image_bytes(60, 60)).decode()
    r = client.post("/tagged-images/v1/upload", json={"filename": "t.png", "image_data": b64})
    assert r.status_code == 507 and set(r.json()) == {"code", "message"}
    state = client.get("/__mock__/state").json()
    assert len(state["apis"]["everydaypic"]["images"]) == 1 and state["stored_bytes"] == len(first)
    assert (
        state["apis"]["tagged-images"]["images"] == [] if "images" in state["apis"]["tagged-images"] else True
    )


def test_index_page_links_every_swagger_ui(make_client):
    client = make_client()
    page = client.get("/").text
    for api in ("everydaypic", "evotor", "image-upload", "sharinpix", "tagged-images"):
        assert f"/{api}" in page
    assert client.get("/tagged-images/v1/ui/").status_code == 200
    assert client.get("/evotor/openapi.json").json()["info"]["x-seed"].startswith("001_")
