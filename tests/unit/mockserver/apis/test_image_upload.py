"""image-upload through the mock (IUP-01..05, ALL-04)."""

import asyncio
import re
import time
from datetime import datetime

import httpx
import jwt
from support.image_upload import SECRET, auth, token, upload
from support.images import image_bytes
from support.json_bodies import json_of

from image_api_contracts import FIXTURES_DIR
from mockserver.app import create_app

DTO_KEYS = {"fileName", "originalFileName", "fileLinkPath", "mediaLink", "size", "createTime", "updateTime"}
CLOUD_NAME = re.compile(r"^[0-9a-f]{32}_[A-Za-z0-9][A-Za-z0-9._-]*$")


def raw_multipart(client, part_headers: bytes, content: bytes, headers=None):
    body = b"--BOUNDARY\r\n" + part_headers + b"\r\n\r\n" + content + b"\r\n--BOUNDARY--\r\n"
    ctype = {"Content-Type": "multipart/form-data; boundary=BOUNDARY"}
    return client.post("/UploadImage", content=body, headers={**(headers or auth()), **ctype})


def listed(client) -> list[dict]:
    r = client.get("/GetAllImages", headers=auth())
    assert r.status_code == 200
    return json_of(r)["data"]


def assert_envelope_error(r, status: int, why: str = ""):
    assert r.status_code == status, (why, r.text)
    body = json_of(r)
    assert set(body) == {"message", "data"} and body["data"] is None
    assert isinstance(body["message"], str) and body["message"]


def rfc3339_utc(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def stored(client) -> list[dict]:
    return client.get("/__mock__/state").json()["apis"]["image-upload"]["images"]


# -- IUP-01: Bearer JWT ------------------------------------------------------------------------------
def test_iup01_every_operation_without_token_is_401_in_envelope(make_client, png):
    client = make_client("image-upload")
    calls = [
        lambda h: client.post("/UploadImage", files={"file": ("a.png", png(), "image/png")}, headers=h),
        lambda h: client.get("/GetAllImages", headers=h),
        lambda h: client.delete("/DeleteImage", params={"FileName": "x"}, headers=h),
    ]
    for call in calls:
        assert_envelope_error(call({}), 401)
        assert_envelope_error(call({"Authorization": "Bearer"}), 401)
        assert_envelope_error(call({"Authorization": token()}), 401)  # no "Bearer " scheme
    assert stored(client) == []


def test_iup01_seed_example_token_is_not_a_jwt_and_gets_401(make_client, png):
    client = make_client("image-upload")
    seed_header = {"Authorization": "Bearer 12345abcdef"}
    assert_envelope_error(client.get("/GetAllImages", headers=seed_header), 401)
    assert_envelope_error(upload(client, png(), headers=seed_header), 401)
    assert_envelope_error(client.get("/GetAllImages", headers={"Authorization": "Bearer a.b.c"}), 401)
    assert stored(client) == []


def test_iup01_default_accepts_any_well_formed_jwt_unverified(make_client, png):
    client = make_client("image-upload")
    wrong_key = token("another-key-that-is-at-least-32-bytes-long")
    expired = token(exp=int(time.time()) - 3600)
    for tok in (token(), wrong_key, expired):
        assert client.get("/GetAllImages", headers=auth(tok)).status_code == 200
    assert upload(client, png(), headers=auth(expired)).status_code == 200


def test_iup01_with_jwt_secret_signature_and_exp_are_verified(make_client, png):
    client = make_client("image-upload", jwt_secret=SECRET)
    bad = {
        "wrong key": token("another-key-that-is-at-least-32-bytes-long"),
        "expired": token(exp=int(time.time()) - 60),
        "no exp": jwt.encode({"sub": "tester"}, SECRET, algorithm="HS256"),
        "not a JWT": "12345abcdef",
    }
    for why, tok in bad.items():
        assert_envelope_error(client.get("/GetAllImages", headers=auth(tok)), 401, why)
        assert_envelope_error(upload(client, png(), headers=auth(tok)), 401, why)
    assert stored(client) == []
    assert client.get("/GetAllImages", headers=auth()).status_code == 200
    assert upload(client, png()).status_code == 200
    assert len(stored(client)) == 1


# -- IUP-02: upload ----------------------------------------------------------------------------------
def test_iup02_upload_returns_image_information_dto(make_client, png):
    client = make_client("image-upload")
    data = png(40, 30)
    before = datetime.now().astimezone()
    r = upload(client, data, "holiday.png")
    assert r.status_code == 200
    body = json_of(r)
    assert set(body) == {"message", "data"} and body["message"] == "Upload succeeded"
    dto = body["data"]
    assert set(dto) == DTO_KEYS
    assert dto["originalFileName"] == "holiday.png"
    assert CLOUD_NAME.match(dto["fileName"]) and dto["fileName"].endswith("_holiday.png")
    assert dto["size"] == len(data)
    assert dto["fileLinkPath"] == f"images/{dto['fileName']}"
    assert dto["mediaLink"] == f"http://testserver/__mock__/files/image-upload/{dto['fileName']}"
    created = rfc3339_utc(dto["createTime"])
    assert created == rfc3339_utc(dto["updateTime"])
    assert abs((created - before).total_seconds()) < 60


def test_iup02_two_uploads_of_one_name_get_two_cloud_names(make_client, png):
    client = make_client("image-upload")
    a = json_of(upload(client, png(), "same.png"))["data"]
    b = json_of(upload(client, png(color=(1, 2, 3)), "same.png"))["data"]
    assert a["originalFileName"] == b["originalFileName"] == "same.png"
    assert a["fileName"] != b["fileName"] and a["mediaLink"] != b["mediaLink"]
    assert [i["fileName"] for i in listed(client)] == [a["fileName"], b["fileName"]]
    assert client.get(a["mediaLink"]).content == png()
    assert client.get(b["mediaLink"]).content == png(color=(1, 2, 3))


def test_iup02_cloud_name_strips_paths_and_control_characters(make_client):
    client = make_client("image-upload")
    cases = {
        b'filename="../../etc/passwd"': "../../etc/passwd",
        b'filename="..\\\\..\\\\boot.ini"': "..\\..\\boot.ini",
        b'filename="a\x01b\x1fc.png"': "a\x01b\x1fc.png",
        b'filename="...."': "....",
        b'filename="caf\xc3\xa9 photo?.jpg"': "café photo?.jpg",
    }
    for disposition, original in cases.items():
        r = raw_multipart(client, b'Content-Disposition: form-data; name="file"; ' + disposition, b"abc")
        assert r.status_code == 200, (original, r.text)
        dto = json_of(r)["data"]
        assert dto["originalFileName"] == original
        assert CLOUD_NAME.match(dto["fileName"]), dto["fileName"]
        assert ".." not in dto["fileName"] and "/" not in dto["fileName"]
        assert client.get(dto["mediaLink"]).content == b"abc"
    names = [i["fileName"].split("_", 1)[1] for i in listed(client)]
    assert names == ["passwd", "boot.ini", "a_b_c.png", "file", "cafe_photo_.jpg"]


def test_iup02_any_bytes_are_accepted_and_served_with_a_sensible_type(make_client, png):
    """The seed never requires an image: any file is stored; images are typed by Pillow, not the header."""
    client = make_client("image-upload")
    cases = [
        (b"%PDF-1.4 not an image", "report.pdf", "application/pdf", "application/pdf"),
        (b"\x00\x01\x02\xff", "blob.bin", "", "application/octet-stream"),
        (b"\x00\x01", "weird.bin", "not a mime type", "application/octet-stream"),
        (png(), "mislabelled.txt", "text/plain", "image/png"),
        (b"", "empty.txt", "text/plain", "text/plain"),
    ]
    for data, name, declared, served in cases:
        dto = json_of(upload(client, data, name, declared))["data"]
        assert dto["size"] == len(data) and dto["originalFileName"] == name
        r = client.get(dto["mediaLink"])
        assert r.status_code == 200 and r.content == data
        assert r.headers["content-type"].split(";")[0] == served, name


# -- IUP-03: list ------------------------------------------------------------------------------------
def test_iup03_get_all_images_lists_every_image_in_upload_order(make_client, png):
    client = make_client("image-upload")
    r = client.get("/GetAllImages", headers=auth())
    assert r.status_code == 200 and json_of(r)["data"] == []
    dtos = [json_of(upload(client, png(color=(i, i, i)), f"img{i}.png"))["data"] for i in range(5)]
    body = json_of(client.get("/GetAllImages", headers=auth()))
    assert set(body) == {"message", "data"} and isinstance(body["message"], str)
    assert body["data"] == dtos


# -- IUP-04: delete ----------------------------------------------------------------------------------
def test_iup04_delete_returns_envelope_and_image_leaves_the_list(make_client, png):
    client = make_client("image-upload")
    keep = json_of(upload(client, png(), "keep.png"))["data"]
    gone = json_of(upload(client, png(), "gone.png"))["data"]
    r = client.delete("/DeleteImage", params={"FileName": gone["fileName"]}, headers=auth())
    assert r.status_code == 200
    assert json_of(r) == {"message": "Image deleted", "data": None}
    assert listed(client) == [keep]
    assert [i["fileName"] for i in stored(client)] == [keep["fileName"]]
    state = client.get("/__mock__/state").json()
    assert state["stored_files"] == 1 and state["stored_bytes"] == len(png())


# -- IUP-05: bytes, 404s, 400s -----------------------------------------------------------------------
def test_iup05_media_link_serves_exact_bytes_then_404_after_delete(make_client, fixture_image):
    client = make_client("image-upload")
    for name, ctype in (
        ("photo-exif.jpg", "image/jpeg"),
        ("sticker.webp", "image/webp"),
        ("download-100k.png", "image/png"),
    ):
        data = fixture_image(name)
        dto = json_of(upload(client, data, name, "application/octet-stream"))["data"]
        r = client.get(dto["mediaLink"])
        assert r.status_code == 200 and r.content == data
        assert r.headers["content-type"] == ctype
        query = {"FileName": dto["fileName"]}
        assert client.delete("/DeleteImage", params=query, headers=auth()).status_code == 200
        assert_envelope_error(client.get(dto["mediaLink"]), 404)
        # a second delete of the same name is an unknown name
        assert_envelope_error(client.delete("/DeleteImage", params=query, headers=auth()), 404)
    assert client.get("/__mock__/state").json()["stored_bytes"] == 0


def test_iup05_unknown_missing_or_empty_file_name_is_404(make_client, png):
    """ALL-05: the seed makes FileName optional, so leaving it out is no malformed request (no 400)."""
    client = make_client("image-upload")
    upload(client, png())
    r = client.delete("/DeleteImage", params={"FileName": "nope.png"}, headers=auth())
    assert_envelope_error(r, 404)
    assert json_of(r)["message"] == "Image not found: nope.png"
    assert_envelope_error(client.delete("/DeleteImage", headers=auth()), 404)
    assert_envelope_error(client.delete("/DeleteImage", params={"FileName": ""}, headers=auth()), 404)
    assert len(listed(client)) == 1


def test_iup05_missing_file_is_400_and_nothing_stored(make_client, png):
    client = make_client("image-upload")
    responses = [
        client.post("/UploadImage", headers=auth()),  # no body
        client.post("/UploadImage", files={"other": ("a.png", png(), "image/png")}, headers=auth()),
        client.post("/UploadImage", files={"file": (None, "string")}, headers=auth()),  # text, not a file
        client.post("/UploadImage", data={"file": "string"}, headers=auth()),  # urlencoded
        # a browser's "no file chosen": empty filename, no content
        raw_multipart(client, b'Content-Disposition: form-data; name="file"; filename=""', b""),
    ]
    for r in responses:
        assert_envelope_error(r, 400)
    assert stored(client) == []


def test_malformed_multipart_is_400_in_envelope(make_client):
    client = make_client("image-upload")
    bodies = [
        (b"junk", "multipart/form-data"),  # no boundary
        (b"--B\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--B--\r\n", "multipart/form-data; boundary=B"),
        (b"no parts at all", "multipart/form-data; boundary=B"),
    ]
    for content, ctype in bodies:
        r = client.post("/UploadImage", content=content, headers={**auth(), "Content-Type": ctype})
        assert 400 <= r.status_code < 500, r.text
        assert_envelope_error(r, r.status_code)
    assert stored(client) == []


def test_file_over_20_mib_is_413_and_quota_is_507(make_client, png):
    client = make_client("image-upload")
    assert_envelope_error(upload(client, b"\0" * (20 * 1024 * 1024 + 1), "big.bin"), 413)
    assert upload(client, b"\0" * (20 * 1024 * 1024), "limit.bin").status_code == 200
    small = make_client("image-upload", max_store_bytes=len(png()) + 10)
    assert upload(small, png()).status_code == 200
    assert_envelope_error(upload(small, png()), 507)
    assert len(stored(small)) == 1


# -- ALL-04: concurrency -----------------------------------------------------------------------------
def test_all04_fifty_parallel_uploads_lose_nothing():
    app = create_app(apis=("image-upload",), prefixed=False)
    payloads = {f"same-{i}.png": image_bytes(8 + i, 8, color=(i, 255 - i, 7)) for i in range(50)}

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://[::1]", headers=auth()) as client:
            responses = await asyncio.gather(
                *(
                    client.post("/UploadImage", files={"file": (name, data, "image/png")})
                    for name, data in payloads.items()
                )
            )
            dtos = [r.json()["data"] for r in responses if r.status_code == 200]
            listing = (await client.get("/GetAllImages")).json()["data"]
            downloads = await asyncio.gather(*(client.get(d["mediaLink"]) for d in dtos))
            return dtos, listing, downloads

    dtos, listing, downloads = asyncio.run(run())
    assert len(dtos) == 50
    assert len({d["fileName"] for d in dtos}) == 50
    assert {d["fileName"] for d in listing} == {d["fileName"] for d in dtos}
    for dto, download in zip(dtos, downloads, strict=True):
        assert download.status_code == 200
        assert download.content == payloads[dto["originalFileName"]]
        assert dto["size"] == len(payloads[dto["originalFileName"]])


# -- the seed's example, Prefer, fixtures, state -----------------------------------------------------
def test_seed_example_requests_get_200_with_the_examples_shape(make_client):
    """The seed's body parameter is `file: string`; its responses are {message, data} of these keys."""
    client = make_client("image-upload")
    r = client.post("/UploadImage", files={"file": ("string", b"string")}, headers=auth())
    assert r.status_code == 200
    body = json_of(r)
    assert set(body) == {"message", "data"} and set(body["data"]) == DTO_KEYS
    assert isinstance(body["data"]["size"], int) and body["data"]["originalFileName"] == "string"
    r = client.get("/GetAllImages", headers=auth())
    assert r.status_code == 200 and set(json_of(r)) == {"message", "data"}
    assert set(json_of(r)["data"][0]) == DTO_KEYS
    r = client.delete("/DeleteImage", params={"FileName": body["data"]["fileName"]}, headers=auth())
    assert r.status_code == 200 and set(json_of(r)) == {"message", "data"} and json_of(r)["data"] is None


def test_prefer_code_200_returns_the_documented_example(make_client):
    client = make_client("image-upload")
    r = client.get("/GetAllImages", headers={**auth(), "Prefer": "code=200"})
    assert r.status_code == 200
    assert set(json_of(r)) == {"message", "data"} and set(json_of(r)["data"][0]) == DTO_KEYS


def test_prefer_code_404_is_an_error_in_the_envelope(make_client):
    client = make_client("image-upload")
    r = client.delete("/DeleteImage", params={"FileName": "x"}, headers={**auth(), "Prefer": "code=404"})
    assert_envelope_error(r, 404)


def test_seed_fixtures_load_through_the_upload_path(make_client, fixture_image):
    client = make_client("image-upload")
    r = client.post("/__mock__/fixtures")
    assert r.status_code == 201 and r.json()["loaded"] == {"image-upload": 3}
    images = listed(client)
    originals = ["vacation-2018.jpg", "street corner.jpg", "sticker.webp"]
    assert [i["originalFileName"] for i in images] == originals
    for image, source in zip(images, ("photo-exif.jpg", "street-exif.jpg", "sticker.webp"), strict=True):
        assert CLOUD_NAME.match(image["fileName"])
        assert client.get(image["mediaLink"]).content == fixture_image(source)
    assert (FIXTURES_DIR / "seed" / "image-upload.json").is_file()


def test_dump_and_restore_round_trip(make_client, png):
    client = make_client("image-upload")
    upload(client, png(), "a.png")
    upload(client, b"text", "b.txt", "text/plain")
    api = client.app.ctx.apis["image-upload"]
    before = listed(client)
    state = api.dump()
    api.reset()
    assert listed(client) == []
    api.restore(state)
    assert listed(client) == before and api.dump() == state


def test_prefixed_mount_serves_image_upload_under_its_name(make_client, png):
    client = make_client()
    files = {"file": ("a.png", png(), "image/png")}
    r = client.post("/image-upload/UploadImage", files=files, headers=auth())
    assert r.status_code == 200
    dto = r.json()["data"]
    assert client.get(dto["mediaLink"]).content == png()
    r = client.get("/image-upload/GetAllImages", headers=auth())
    assert [i["fileName"] for i in r.json()["data"]] == [dto["fileName"]]


def test_all05_any_part_filename_and_part_type_is_accepted(make_client, png):
    """The seed names neither the part's filename nor its content type: one character, no extension,
    non-ASCII, no declared type at all are all seed-valid uploads (an empty filename: see the next test)."""
    client = make_client("image-upload")
    cases = (
        ("a", "image/png"),
        ("ab", "application/octet-stream"),
        ("фото 1.png", "image/png"),
        ("noext", None),
    )
    for name, declared in cases:
        part = (name, png(), declared) if declared else (name, png())
        r = client.post("/UploadImage", files={"file": part}, headers=auth())
        assert r.status_code == 200, (name, r.text)
        dto = json_of(r)["data"]
        assert dto["originalFileName"] == name and dto["size"] == len(png())
        assert client.get(dto["mediaLink"]).content == png()


def test_all05_an_empty_part_filename_with_content_is_stored(make_client, png):
    client = make_client("image-upload")
    r = raw_multipart(client, b'Content-Disposition: form-data; name="file"; filename=""', png())
    assert r.status_code == 200, r.text
    assert json_of(r)["data"]["originalFileName"] == "" and json_of(r)["data"]["size"] == len(png())
