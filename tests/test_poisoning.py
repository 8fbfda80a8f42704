"""No request can poison the mock's state or stall it (issue 12).

The reproducers D1-D8 of the issue, each as it was found; the in-memory atomicity of writes; and the
conformance suite's ALL-06 check (what a server accepted, it can read back) passing against the mock.
The stateful poisoning machine lives in tests/test_poisoning_machine.py.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import time

import pytest
from conftest import LiveServer, image_bytes

from conformance.runner import run
from conformance.target import API_NAMES, Target
from mockserver.registry import APIS

TIM = "/tagged-images/v1"


def state(client) -> dict:
    response = client.get("/__mock__/state")
    assert response.status_code == 200, response.text[:300]
    return response.json()["apis"]


def send_json(client, path: str, body) -> object:
    """JSON with every non-ASCII character escaped, so a lone surrogate travels as ``\\ud800``."""
    return client.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})


def multipart(parts, charset: str | None = None) -> tuple[bytes, str]:
    """(body, content type) of ``(name, value bytes, filename bytes or None)`` parts, byte for byte."""
    boundary = "poisoning-boundary"
    body = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"'.encode()
        disposition += b'; filename="' + filename + b'"' if filename else b""
        head = b"Content-Disposition: " + disposition + b"\r\n"
        if filename:
            head += b"Content-Type: image/png\r\n"
        body += b"--" + boundary.encode() + b"\r\n" + head + b"\r\n" + value + b"\r\n"
    body += b"--" + boundary.encode() + b"--\r\n"
    kind = "multipart/form-data" + (f"; charset={charset}" if charset else "")
    return body, f"{kind}; boundary={boundary}"


def tim_reads_answer_200(client) -> None:
    for path in ("/images", "/images/1", "/tags", "/tags/1/images", "/search/images?exact_tags=t"):
        response = client.get(TIM + path)
        assert response.status_code in (200, 404), (path, response.status_code, response.text[:300])
        assert response.status_code == 200 or path in ("/images/1", "/tags/1/images"), path
    assert client.get("/__mock__/state").status_code == 200


# -- D1-D3: tagged-images -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path, body",
    [
        ("/images", {"filename": "\ud800"}),
        ("/images", {"filename": "a", "tags": ["\udfff"]}),
        ("/upload", {"filename": "\ud800", "image_data": base64.b64encode(image_bytes()).decode()}),
        ("/tags", {"name": "\ud800"}),
        ("/images", {"filename": "a", "size": 2**64}),
        ("/images", {"filename": "a", "size": -(2**63) - 1}),
        ("/images", {"filename": "a", "size": 1.5}),
        ("/images", {"filename": "a", "size": 1.0}),
        ("/images", {"filename": "a", "x": float("nan")}),
    ],
    ids=["D1-filename", "D1-tag", "D1-upload", "D2-tag-name", "D3-size-2**64", "D3-below-int64",
         "float-size", "float-1.0-size", "NaN"],
)
def test_d1_d3_tagged_images_refuses_what_it_could_not_read_back(make_client, path, body):
    client = make_client()
    before = state(client)
    response = send_json(client, TIM + path, body)
    assert response.status_code == 400, response.text[:300]
    assert set(response.json()) == {"code", "message"}, response.text
    assert state(client) == before
    tim_reads_answer_200(client)


def test_d1_a_valid_surrogate_pair_is_text_and_reads_back(make_client):
    client = make_client()
    response = send_json(client, TIM + "/images", {"filename": "\U0001f600", "tags": ["\ud83d\ude00"]})
    assert response.status_code == 201, response.text
    record = client.get(f"{TIM}/images/{response.json()['id']}").json()
    assert record["filename"] == "\U0001f600" and record["tags"][0]["name"] == "\U0001f600"
    tim_reads_answer_200(client)


# -- D4-D5: multipart text is UTF-8 whatever the charset names ---------------------------------------------
def test_d4_everydaypic_reads_multipart_text_as_utf8_whatever_the_charset(make_client):
    client = make_client()
    body, content_type = multipart(
        [("file", image_bytes(), b"icon.png"), ("fileName", b"+2AA-", None), ("name", b"n", None)], "utf-7"
    )
    response = client.post("/everydaypic/v1/image", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    assert response.json()[0]["fileName"] == "+2AA-"  # not U+D800, as UTF-7 would have it
    for path in ("/everydaypic/v1/image/info", "/everydaypic/v1/image/info?fileName=%2B2AA-"):
        assert client.get(path).status_code == 200, path
    assert client.get("/__mock__/state").status_code == 200


def test_d5_image_upload_reads_the_file_name_as_utf8_whatever_the_charset(make_client):
    client = make_client()
    headers = {"Authorization": f"Bearer {_iup_token()}"}
    body, content_type = multipart([("file", image_bytes(), b"+2AA-.png")], "utf-7")
    response = client.post(
        "/image-upload/UploadImage", content=body, headers={**headers, "Content-Type": content_type}
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["originalFileName"] == "+2AA-.png"
    assert client.get("/image-upload/GetAllImages", headers=headers).status_code == 200
    assert client.get("/__mock__/state").status_code == 200


@pytest.mark.parametrize(
    "parts",
    [
        [("file", image_bytes(), b"a.png"), ("fileName", b"\xed\xa0\x80", None), ("name", b"n", None)],
        [("file", image_bytes(), b"a.png"), ("fileName", b"caf\xe9", None), ("name", b"n", None)],
        [("file", image_bytes(), b"\xed\xa0\x80.png"), ("fileName", b"f", None), ("name", b"n", None)],
    ],
    ids=["surrogate-bytes-in-a-value", "latin-1-value", "surrogate-bytes-in-a-file-name"],
)
def test_multipart_text_that_is_not_utf8_gets_400_and_nothing_stored(make_client, parts):
    client = make_client()
    before = state(client)
    body, content_type = multipart(parts)
    response = client.post("/everydaypic/v1/image", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    assert "UTF-8" in response.text, response.text
    assert state(client) == before


def test_duplicate_text_parts_get_400_not_joined_with_a_comma(make_client):
    client = make_client()
    before = state(client)
    body, content_type = multipart(
        [("file", image_bytes(), b"a.png"), ("fileName", b"f", None), ("name", b"N", None),
         ("name", b"second", None)]
    )
    response = client.post("/everydaypic/v1/image", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400, response.text
    assert "'name' comes 2 times" in response.text, response.text
    assert state(client) == before


@pytest.mark.parametrize(
    "path",
    [
        f"{TIM}/images?page=%ED%A0%80",
        f"{TIM}/search/images?exact_tags=caf%E9",
        "/evotor/stores/%ED%A0%80/products/p/images",
    ],
    ids=["query-surrogate-bytes", "query-latin-1", "path-surrogate-bytes"],
)
def test_urls_that_are_not_utf8_get_400_in_the_apis_format(make_client, path):
    client = make_client()
    response = client.get(path, headers={"X-Authorization": "t"})
    assert response.status_code == 400, response.text
    assert "UTF-8" in response.text, response.text


def _iup_token() -> str:
    from mockserver.devtokens import image_upload_token

    return image_upload_token()


# -- D6: four-digit years -----------------------------------------------------------------------------------
@pytest.mark.parametrize("exif, expected", [("0999:01:01 00:00:00", "0999-01-01T00:00:00.000+00:00"),
                                            ("0001:02:03 04:05:06", "0001-02-03T04:05:06.000+00:00")])
def test_d6_sharinpix_taken_at_has_four_digit_years(make_client, exif, expected):
    from mockserver.devtokens import DEV_ALBUM, auth_headers

    client = make_client()
    body = (
        "cloudinary[public_id]=6f1c9b1e-7a43-4a57-9d7e-3f0e0c7d2a10"
        f"&cloudinary[image_metadata][DateTimeOriginal]={exif.replace(' ', '+').replace(':', '%3A')}"
    )
    response = client.post(
        f"/sharinpix/api/v1/albums/{DEV_ALBUM}/images/",
        content=body,
        headers={**auth_headers("sharinpix"), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["taken_at"] == expected
    assert client.get("/__mock__/state").status_code == 200


# -- ALL-06: the conformance check passes against the mock -------------------------------------------------
@pytest.mark.parametrize("api", API_NAMES)
def test_all06_the_mock_reads_back_every_write_it_accepted(api):
    server = LiveServer()
    try:
        base_url = server.url + f"/{api}" + APIS[api].server_path
        report = run(Target(api=api, base_url=base_url, seed=1, only_rules=("ALL-06",)))
    finally:
        server.stop()
    verdict = next(v for v in report.verdicts if v.id == "ALL-06")
    assert verdict.status == "pass", [(o.status, o.message, o.curl) for o in verdict.checks]


# -- D8: match_tags in linear time ------------------------------------------------------------------------
def test_d8_a_backtracking_pattern_answers_at_once(make_client):
    client = make_client()
    assert send_json(client, TIM + "/images", {"filename": "a", "tags": ["a" * 100]}).status_code == 201
    started = time.perf_counter()
    response = client.get(TIM + "/search/images?match_tags=%25a%25a%25a%25a%25a%25b")  # was 25 s
    elapsed = time.perf_counter() - started
    assert response.status_code == 200 and response.json()["results"] == [], response.text[:300]
    assert elapsed < 0.5, f"{elapsed:.2f} s"


def test_d8_a_20_wildcard_pattern_over_100_000_tags_answers_within_a_second(make_client):
    """The worst case: every tag matches, so each is walked to its end (0.5 s on an idle machine: ~5 us a
    tag, linear in the name and the pattern; the old regex never finished)."""
    client = make_client()
    api = client.app.ctx.apis["tagged-images"]
    for i in range(100_000):
        api._new_tag(f"tag-{i:06d}-" + "ab" * 20)
    pattern = "%25" + "%25".join("a" * 20) + "%25b"
    started = time.perf_counter()
    response = client.get(f"{TIM}/search/images?match_tags={pattern}")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text[:300]
    assert elapsed < 1.0, f"{elapsed:.2f} s"


@pytest.mark.parametrize(
    "pattern, name, matches",
    [("%a%a%b", "a" * 50, False), ("%a%a%b", "xaxab", True), ("A%", "abc", True), ("%c", "abC", True),
     ("a%b%c", "abcbc", True), ("a%b%c", "acb", False), ("", "", True), ("%", "", True), ("a", "ab", False),
     ("%ß%", "xSSx", False), ("a.c", "abc", False), ("a%", "a\nb", True)],
)
def test_wildcard_semantics_are_those_of_the_regex_it_replaces(pattern, name, matches):
    from mockserver.wildcard import like_pattern

    regex = ".*".join(re.escape(part) for part in pattern.split("%"))
    assert (re.fullmatch(regex, name, re.IGNORECASE | re.DOTALL) is not None) == matches
    assert (like_pattern(pattern).fullmatch(name) is not None) == matches


# -- writes are atomic in memory ---------------------------------------------------------------------------
def _full_state(client) -> dict:
    body = client.get("/__mock__/state").json()
    return {key: body[key] for key in ("apis", "stored_bytes", "stored_files")}


def test_a_write_that_fails_after_its_change_leaves_no_trace_in_memory(make_client):
    client = make_client()
    api = client.app.ctx.apis["tagged-images"]
    original = api.upload_image

    async def upload_then_fail(**kwargs):
        await original(**kwargs)
        raise RuntimeError("a bug after the change")

    api.upload_image = upload_then_fail
    before = _full_state(client)
    body = {"filename": "a.png", "image_data": base64.b64encode(image_bytes()).decode(), "tags": ["new"]}
    response = send_json(client, TIM + "/upload", body)
    assert response.status_code == 500, response.text
    assert _full_state(client) == before  # no record, no tag, no bytes, no id used up
    api.upload_image = original
    assert send_json(client, TIM + "/upload", body).status_code == 201
    assert _full_state(client)["stored_files"] == 1


def test_a_write_whose_answer_fails_validation_leaves_no_trace_in_memory(make_client):
    from mockserver.apis.base import json_reply

    client = make_client()
    api = client.app.ctx.apis["tagged-images"]
    api._created = lambda image: json_reply({"id": "not an integer"}, 201)  # the spec wants an integer
    before = _full_state(client)
    response = send_json(client, TIM + "/tags", {"name": "kept?"})
    assert response.status_code == 201  # tags answer through another path
    response = send_json(client, TIM + "/images", {"filename": "a", "tags": ["x"]})
    assert response.status_code == 500, response.text
    after = _full_state(client)["apis"]["tagged-images"]
    assert [t["name"] for t in after["tags"]] == ["kept?"] and after["images"] == []
    assert before["apis"]["tagged-images"]["next_image_id"] == after["next_image_id"]


def _create_request(api: str) -> dict:
    from mockserver.devtokens import DEV_ALBUM, auth_headers

    png = image_bytes()
    return {
        "everydaypic": dict(url="/everydaypic/v1/image", files={"file": ("a.png", png, "image/png")},
                            data={"fileName": "a.png", "name": "a"}),
        "evotor": dict(url="/evotor/stores/s/products/p/images",
                       files={"datafile": ("a.png", image_bytes(300, 300), "image/png")}),
        "image-upload": dict(url="/image-upload/UploadImage", files={"file": ("a.png", png, "image/png")}),
        "sharinpix": dict(url=f"/sharinpix/api/v1/albums/{DEV_ALBUM}/images/",
                          content="cloudinary[public_id]=6f1c9b1e-7a43-4a57-9d7e-3f0e0c7d2a10",
                          headers={"Content-Type": "application/x-www-form-urlencoded"}),
    }[api] | {"headers": {**auth_headers(api), **_create_request_headers(api)}}


def _create_request_headers(api: str) -> dict:
    return {"Content-Type": "application/x-www-form-urlencoded"} if api == "sharinpix" else {}


@pytest.mark.parametrize(
    "api, operation",
    [("everydaypic", "create_image"), ("evotor", "upload_product_image"), ("image-upload", "upload_image"),
     ("sharinpix", "create_album_image")],
)
def test_every_api_forgets_a_write_that_ends_in_500(make_client, api, operation):
    client = make_client()
    handler = client.app.ctx.apis[api]
    original = getattr(handler, operation)

    @functools.wraps(original)  # Connexion reads the parameters it passes from the signature
    async def then_fail(*args, **kwargs):
        await original(*args, **kwargs)
        raise RuntimeError("a bug after the change")

    setattr(handler, operation, then_fail)
    before = _full_state(client)
    assert client.post(**_create_request(api)).status_code == 500
    assert _full_state(client) == before
    setattr(handler, operation, original)
    assert client.post(**_create_request(api)).status_code == 200
    assert _full_state(client) != before


# -- the smaller items -------------------------------------------------------------------------------------
def test_prefer_code_is_answered_where_the_spec_documents_a_default_response(make_client):
    client = make_client()
    before = state(client)
    response = client.post(TIM + "/images", json={"filename": "a"}, headers={"Prefer": "code=415"})
    assert response.status_code == 415, response.text  # the operation documents 201, 400 and default
    assert set(response.json()) == {"code", "message"}
    assert state(client) == before
    undocumented = client.get(TIM + "/images", headers={"Prefer": "code=415"})  # 200 and 400 only
    assert undocumented.status_code == 400, undocumented.text


def test_a_204_carries_no_media_type(make_client):
    client = make_client()
    headers = {"X-Authorization": "t"}
    path = "/evotor/stores/s/products/p/images"
    upload = {"datafile": ("a.png", image_bytes(300, 300), "image/png")}
    created = client.post(path, files=upload, headers=headers)
    response = client.delete(f"{path}/{created.json()['id']}", headers=headers)
    assert response.status_code == 204 and response.content == b""
    assert "content-type" not in response.headers, response.headers


def test_error_texts_hold_no_python_reprs(make_client):
    client = make_client()
    response = client.post(
        "/everydaypic/v1/image", files={"file": ("a.png", b"not an image", "image/png")},
        data={"fileName": "a", "name": "b"},
    )
    assert response.status_code == 400
    assert not re.search(r"<[^>]* at 0x[0-9a-f]+>|BytesIO", response.text), response.text
    assert response.text.endswith("cannot identify image file"), response.text


def test_an_unknown_path_in_all_five_mode_names_the_mounted_apis(make_client):
    client = make_client()
    response = client.get("/nothing/here")
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == 404 and body["error"].startswith("No API is mounted at /nothing/here."), body
    for base in ("/everydaypic/", "/evotor/", "/image-upload/", "/sharinpix/", "/tagged-images/v1/"):
        assert base in body["error"], body
