"""image-upload behaviour (IUP-01..05, ALL-04). GetAllImages lists the whole server, so every check looks
only at the fileNames it created itself, and deletes every image it uploaded."""

from __future__ import annotations

import contextlib
import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    rule,
    run_state_machine_as_test,
)

from conformance.media import image_bytes, images

pytestmark = pytest.mark.api("image-upload")

EXTENSION = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
# RFC 3339 date-time (OpenAPI format date-time): a time zone is required, fractions of any length.
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
# What people name files: "photo (1).png", "IMG 2024-01-01.jpg"; the space makes a sanitised name differ.
name_suffixes = st.text(alphabet="abXY19()-_ ", min_size=1, max_size=8)


def original_name(target, label: str, mime: str, suffix: str = "1") -> str:
    return f"{target.unique(label)} {suffix}.{EXTENSION.get(mime, 'bin')}"


def upload(http, data: bytes, mime: str, name: str):
    return http.post("/UploadImage", files={"file": (name, data, mime)})


def delete(http, file_name: str):
    return http.delete("/DeleteImage", params={"FileName": file_name})


def created(response, name: str) -> dict:
    """What the other rules need of an upload: 200 and a DTO with a fileName and a mediaLink."""
    assert response.status_code == 200, (
        f"upload of {name!r}: expected 200, got {response.status_code}: {response.text[:200]}"
    )
    body = response.json()
    dto = body.get("data") if isinstance(body, dict) else None
    assert isinstance(dto, dict), (
        f"upload: expected {{message, data: ImageInformationDto}}, got {body!r:.300}"
    )
    for key in ("fileName", "mediaLink"):
        assert isinstance(dto.get(key), str) and dto[key], (
            f"upload: {key} {dto.get(key)!r}, expected non-empty"
        )
    return dto


def uploaded_dto(response, name: str, data: bytes) -> dict:
    """IUP-02: the {message, data} answer of an upload, its DTO checked field by field."""
    dto = created(response, name)
    body = response.json()
    assert "message" in body and (body["message"] is None or isinstance(body["message"], str)), (
        f"upload: expected {{message: string, data}}, got the keys {sorted(body)}"
    )
    assert dto.get("originalFileName") == name, (
        f"originalFileName: expected the uploaded name {name!r}, got {dto.get('originalFileName')!r}"
    )
    assert type(dto.get("size")) is int and dto["size"] == len(data), (
        f"size: expected the byte count {len(data)}, got {dto.get('size')!r}"
    )
    for key in ("createTime", "updateTime"):
        assert isinstance(dto.get(key), str) and DATE_TIME.match(dto[key]), (
            f"{key}: expected an RFC 3339 date-time, got {dto.get(key)!r}"
        )
    link = dto.get("fileLinkPath")
    assert isinstance(link, str) and link, f"fileLinkPath: expected non-empty, got {link!r}"
    return dto


def listing(http) -> dict[str, dict]:
    """IUP-03: GetAllImages as {fileName: dto} (the whole server's images, not only ours)."""
    r = http.get("/GetAllImages")
    assert r.status_code == 200, f"GetAllImages: expected 200, got {r.status_code}: {r.text[:200]}"
    body = r.json()
    assert isinstance(body, dict) and "message" in body and isinstance(body.get("data"), list), (
        f"GetAllImages: expected {{message, data: [...]}}, got {str(body)[:300]}"
    )
    return {dto.get("fileName"): dto for dto in body["data"] if isinstance(dto, dict)}


def deleted_ok(response, file_name: str) -> None:
    """IUP-04: 200 {message, data: null}."""
    assert response.status_code == 200, (
        f"delete {file_name}: expected 200, got {response.status_code}: {response.text[:200]}"
    )
    body = response.json()
    assert isinstance(body, dict) and "message" in body and "data" in body and body["data"] is None, (
        f"delete {file_name}: expected {{message, data: null}}, got {str(body)[:300]}"
    )


def fetch_media(http, link: str):
    """GET a mediaLink; the credential goes only to the API's own origin (a bucket may refuse it)."""
    request = http.build_request("GET", link)
    if urlsplit(str(request.url)).netloc != urlsplit(str(http.base_url)).netloc:
        for header in ("authorization", "x-authorization"):
            request.headers.pop(header, None)
    return http.send(request)


def created_name(response) -> str:
    """The fileName an unexpectedly successful upload answered with (to delete it), else ''."""
    try:
        return str(response.json()["data"]["fileName"])
    except (ValueError, KeyError, TypeError):
        return ""


def cleanup(http, file_names, headers=None) -> None:
    for file_name in file_names:
        if not file_name:
            continue
        with contextlib.suppress(httpx.HTTPError):  # best effort: the check's own verdict matters more
            http.delete("/DeleteImage", params={"FileName": file_name}, headers=headers)


class ImageUploadMachine(RuleBasedStateMachine):
    """Uploads real images (sometimes under an original name already used), lists, deletes; GetAllImages
    must always hold every live upload of this machine as its upload answered it, and none it deleted.
    The upload answer's own shape is IUP-02's check (test_iup02_*), so a DTO defect does not fail here."""

    live = Bundle("live")

    def __init__(self, target, http):
        super().__init__()
        self.target, self.http = target, http
        self.mine: dict[str, dict] = {}  # fileName -> the upload's DTO, live uploads
        self.names: dict[str, str] = {}  # fileName -> the original name sent
        self.deleted: set[str] = set()

    def _upload(self, data: bytes, mime: str, name: str) -> str:
        dto = created(upload(self.http, data, mime, name), name)
        overwritten = self.mine.get(dto["fileName"])
        self.mine[dto["fileName"]], self.names[dto["fileName"]] = dto, name  # teardown deletes it
        assert overwritten is None, (
            f"two uploads ({overwritten and overwritten.get('originalFileName')!r}, {name!r}) share fileName "
            f"{dto['fileName']!r}: the first is no longer listed"
        )
        return dto["fileName"]

    @rule(target=live, image=images(), suffix=name_suffixes)
    def upload_new(self, image, suffix):
        data, mime = image
        return self._upload(data, mime, original_name(self.target, "Img", mime, suffix))

    @rule(target=live, file_name=live, image=images())
    def upload_same_name(self, file_name, image):
        """A second upload of one original name must not replace the first (IUP-02 makes them two)."""
        data, mime = image
        return self._upload(data, mime, self.names[file_name])

    @rule(file_name=consumes(live))
    def delete(self, file_name):
        if file_name not in self.mine:
            return
        deleted_ok(delete(self.http, file_name), file_name)
        del self.mine[file_name]
        self.deleted.add(file_name)
        assert file_name not in listing(self.http), f"{file_name} is still in GetAllImages after its delete"

    @rule()
    def list_all(self):
        listed = listing(self.http)
        missing = sorted(set(self.mine) - set(listed))
        assert not missing, f"GetAllImages lacks {len(missing)} of my {len(self.mine)} uploads: {missing[:3]}"
        back = sorted(self.deleted & set(listed))
        assert not back, f"GetAllImages still lists deleted images: {back[:3]}"
        for file_name, dto in self.mine.items():
            got = listed[file_name]
            for key in ("originalFileName", "size", "fileLinkPath"):
                assert got.get(key) == dto.get(key), (
                    f"GetAllImages {file_name}: {key} {got.get(key)!r}, the upload answered {dto.get(key)!r}"
                )

    def teardown(self):
        cleanup(self.http, list(self.mine))


@pytest.mark.writes
@pytest.mark.rule("IUP-03", "IUP-04")
def test_iup_state_machine(target, http, hypothesis_settings):
    run_state_machine_as_test(lambda: ImageUploadMachine(target, http), settings=hypothesis_settings)


# -- IUP-01: Bearer JWT on every operation -----------------------------------------------------------
WITHOUT_JWT = ("no Authorization header", "Bearer not-a-jwt")


def drop_credential(http, how: str) -> dict[str, str]:
    """Headers for a request without a valid JWT: the client's credential removed, or a malformed one."""
    if how == "no Authorization header":
        http.headers.pop("Authorization", None)
        return {}
    return {"Authorization": how}


@pytest.mark.rule("IUP-01")
@pytest.mark.parametrize("how", WITHOUT_JWT)
def test_iup01_list_and_delete_need_a_jwt(target, http, how):
    headers = drop_credential(http, how)
    r = http.get("/GetAllImages", headers=headers)
    assert r.status_code == 401, f"GetAllImages with {how}: expected 401, got {r.status_code}"
    r = http.delete("/DeleteImage", params={"FileName": target.unique("nope")}, headers=headers)
    assert r.status_code == 401, f"DeleteImage with {how}: expected 401, got {r.status_code}"


@pytest.mark.writes  # stores an image only on a server that ignores the credential (then deleted)
@pytest.mark.rule("IUP-01")
@pytest.mark.parametrize("how", WITHOUT_JWT)
def test_iup01_upload_needs_a_jwt(target, http, how):
    headers = drop_credential(http, how)
    name = original_name(target, "noauth", "image/png")
    r = http.post("/UploadImage", files={"file": (name, image_bytes(), "image/png")}, headers=headers)
    if r.status_code < 300:
        cleanup(http, [created_name(r)], headers=target.auth_headers())
    assert r.status_code == 401, f"UploadImage with {how}: expected 401, got {r.status_code}"


# -- IUP-02..04: targeted ------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("IUP-02")
def test_iup02_upload_answers_the_image_dto(target, http, hypothesis_settings):
    seen: set[str] = set()

    @hypothesis_settings
    @given(image=images(), suffix=name_suffixes)
    def check(image, suffix):
        data, mime = image
        name = original_name(target, "Dto", mime, suffix)
        response = upload(http, data, mime, name)
        try:
            dto = uploaded_dto(response, name, data)
            assert dto["fileName"] not in seen, (
                f"fileName {dto['fileName']!r} was already given to an earlier upload (must be unique)"
            )
            seen.add(dto["fileName"])
        finally:
            cleanup(http, [created_name(response)])

    check()


@pytest.mark.writes
@pytest.mark.rule("IUP-02")
def test_iup02_one_original_name_twice_gets_two_file_names(target, http):
    name = original_name(target, "twice", "image/png")
    first, second = image_bytes(9, 9, color=(1, 2, 3)), image_bytes(11, 7, color=(200, 9, 9))
    dtos = []
    try:
        for data in (first, second):
            dtos.append(uploaded_dto(upload(http, data, "image/png", name), name, data))
        assert dtos[0]["fileName"] != dtos[1]["fileName"], (
            f"two uploads of {name!r} both got fileName {dtos[0]['fileName']!r}: expected two cloud names"
        )
    finally:
        cleanup(http, {d["fileName"] for d in dtos})


@pytest.mark.rule("IUP-03")
def test_iup03_list_is_an_envelope_of_dtos(http):
    r = http.get("/GetAllImages")
    assert r.status_code == 200, f"GetAllImages: expected 200, got {r.status_code}: {r.text[:200]}"
    body = r.json()
    assert isinstance(body, dict) and "message" in body and isinstance(body.get("data"), list), (
        f"GetAllImages: expected {{message, data: [...]}}, got {str(body)[:300]}"
    )
    odd = [item for item in body["data"] if not isinstance(item, dict)]
    assert not odd, f"GetAllImages: data must hold ImageInformationDto objects, found {odd[:3]}"


@pytest.mark.writes
@pytest.mark.rule("IUP-03", "IUP-04")
def test_iup03_04_list_follows_uploads_and_deletes(target, http):
    listing(http)  # a listing before the upload: a cached answer must not hide the new image
    data = image_bytes(13, 5, "GIF", (5, 90, 200))
    name = original_name(target, "listed", "image/gif")
    dto = created(upload(http, data, "image/gif", name), name)
    try:
        listed = listing(http)
        assert dto["fileName"] in listed, f"GetAllImages lacks {dto['fileName']} right after its upload"
        got = listed[dto["fileName"]]
        assert (got.get("originalFileName"), got.get("size")) == (
            dto.get("originalFileName"),
            dto.get("size"),
        ), f"GetAllImages lists {got}, the upload answered {dto}"
        deleted_ok(delete(http, dto["fileName"]), dto["fileName"])
        assert dto["fileName"] not in listing(http), f"{dto['fileName']} is still listed after its delete"
    finally:
        cleanup(http, [dto["fileName"]])


# -- IUP-05 (SHOULD): mediaLink bytes, 404 after delete, unknown name, missing file ----------------------
@pytest.mark.writes
@pytest.mark.rule("IUP-05")
def test_iup05_media_link_serves_the_bytes_until_deleted(target, http, hypothesis_settings):
    @hypothesis_settings
    @given(image=images())
    def check(image):
        data, mime = image
        name = original_name(target, "media", mime)
        dto = created(upload(http, data, mime, name), name)
        try:
            r = fetch_media(http, dto["mediaLink"])
            assert r.status_code == 200, f"mediaLink: expected 200, got {r.status_code}"
            assert r.content == data, (
                f"mediaLink returned {len(r.content)} bytes, not the {len(data)} uploaded ones"
            )
            r = delete(http, dto["fileName"])
            assert r.status_code == 200, f"delete {dto['fileName']}: expected 200, got {r.status_code}"
            r = fetch_media(http, dto["mediaLink"])
            assert 400 <= r.status_code < 500, (
                f"mediaLink after the delete: expected 404 (any 4xx), got {r.status_code}"
            )
        finally:
            cleanup(http, [dto["fileName"]])

    check()


@pytest.mark.rule("IUP-05")
def test_iup05_deleting_an_unknown_name_is_4xx(target, http):
    file_name = target.unique("never-uploaded") + ".png"
    r = delete(http, file_name)
    assert 400 <= r.status_code < 500, (
        f"delete of an unknown name: expected 404 (any 4xx), got {r.status_code}"
    )


@pytest.mark.writes  # stores an image only on a server that accepts the request (then deleted)
@pytest.mark.rule("IUP-05")
@pytest.mark.parametrize("body", ["another field", "no body"])
def test_iup05_upload_without_file_is_4xx(target, http, body):
    if body == "another field":
        r = http.post("/UploadImage", files={"image": ("a.png", image_bytes(), "image/png")})
    else:
        r = http.post("/UploadImage")
    if r.status_code < 300:
        cleanup(http, [created_name(r)])
    assert 400 <= r.status_code < 500, (
        f"upload with {body} and no file: expected 400 (any 4xx), got {r.status_code}"
    )


# -- ALL-04: parallel uploads --------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("ALL-04")
def test_all04_parallel_uploads_lose_nothing(target, http):
    payloads = [image_bytes(8 + i, 8, "PNG", (i * 9 % 256, 40, 90)) for i in range(20)]
    names = [original_name(target, f"par{i}", "image/png") for i in range(20)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda i: upload(http, payloads[i], "image/png", names[i]), range(20)))
    names_to_delete = [created_name(r) for r in responses]
    try:
        dtos = [created(r, n) for r, n in zip(responses, names, strict=True)]
        assert len({d["fileName"] for d in dtos}) == 20, "parallel uploads got duplicate fileNames"
        listed = listing(http)
        missing = [d["fileName"] for d in dtos if d["fileName"] not in listed]
        assert not missing, f"{len(missing)} of 20 parallel uploads are missing from GetAllImages"
        for dto, data in zip(dtos, payloads, strict=True):
            assert fetch_media(http, dto["mediaLink"]).content == data, (
                f"a parallel upload's bytes changed ({dto['fileName']})"
            )
    finally:
        cleanup(http, names_to_delete)
