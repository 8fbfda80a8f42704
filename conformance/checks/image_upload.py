"""image-upload behaviour (IUP-01..05, ALL-04, ALL-05). GetAllImages lists the whole server, so every check
looks only at the fileNames it created itself, and every image uploaded is deleted again.

MUST rests on the seed (002_…) alone, which documents nothing but 200 answers: every error status and
error body is judged at SHOULD (401 for a missing JWT, 404 for an unknown name, 400 for a missing file,
the {message, data: null} envelope)."""

from __future__ import annotations

import contextlib
import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from conformance.checks.kit import body_of, in_parallel
from conformance.findings import NotExercised, accepted, check, needs, refused, should
from conformance.media import noise_png, not_an_image, realistic_image, tiny_png
from conformance.recording import RecordingClient

pytestmark = pytest.mark.api("image-upload")

# RFC 3339 date-time (OpenAPI format date-time): a time zone is required, fractions of any length.
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
ENVELOPE = "x-decision: errors are {message, data: null}"


def upload(http, data: bytes, mime: str, name: str, headers=None):
    """The seed's fullest request: its one field, `file`, as a file part with a filename and a type."""
    return http.post("/UploadImage", files={"file": (name, data, mime)}, headers=headers)


def delete(http, file_name: str):
    return http.delete("/DeleteImage", params={"FileName": file_name})


def dto_of(response) -> dict:
    body = body_of(response)
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, dict) else {}


def created_ok(response) -> bool:
    """What other rules need of an upload: 200 and a DTO with a non-empty fileName and mediaLink."""
    dto = dto_of(response)
    return response.status_code == 200 and all(
        isinstance(dto.get(k), str) and dto[k] for k in ("fileName", "mediaLink")
    )


def without_credential(http, how: str, method: str, url: str, **kwargs):
    """A request whose Authorization header is gone (``how`` "none") or replaced by ``how``."""
    request = http.build_request(method, url, **kwargs)
    request.headers.pop("authorization", None)
    if how != "none":
        request.headers["authorization"] = how
    return http.send(request)


def fetch_media(http, link: str):
    """GET a mediaLink; the credential goes only to the API's own origin (a bucket may refuse it)."""
    request = http.build_request("GET", link)
    if urlsplit(str(request.url)).netloc != urlsplit(str(http.base_url)).netloc:
        for header in ("authorization", "x-authorization"):
            request.headers.pop(header, None)
    return http.send(request)


def listing(http):
    """GetAllImages as (response, {fileName: dto}) (the whole server's images, not only ours)."""
    r = http.get("/GetAllImages")
    body = body_of(r)
    data = body.get("data") if isinstance(body, dict) else None
    found = {d.get("fileName"): d for d in data if isinstance(d, dict)} if isinstance(data, list) else {}
    return r, found


def cleanup(http, file_names) -> None:
    for file_name in file_names:
        if file_name:
            with contextlib.suppress(httpx.HTTPError):  # best effort: the check's own verdict matters more
                delete(http, file_name)


# -- the shared set: four realistic uploads, one after the other, deleted at the end -------------------------
class Uploaded:
    def __init__(self, response, data: bytes, mime: str, name: str):
        self.response, self.data, self.mime, self.name = response, data, mime, name
        self.dto = dto_of(response)
        self.file_name = self.dto.get("fileName") if isinstance(self.dto.get("fileName"), str) else None


@pytest.fixture(scope="module")
def module_http(target, tls, response_schema):
    with RecordingClient(
        base_url=target.base_url,
        headers=target.auth_headers(),
        timeout=30,
        verify=tls,
        on_response=response_schema,
    ) as c:
        yield c


@pytest.fixture(scope="module")
def shared(target, module_http):
    """PNG, JPEG, GIF, WebP of a few KB under names people give files; the last two share one name."""
    twice = f"{target.unique('IMG')} (1).png"
    plans = [
        (realistic_image("PNG", seed=11), "image/png", f"{target.unique('holiday')} photo.png"),
        (realistic_image("JPEG", seed=12), "image/jpeg", f"{target.unique('IMG')}_2024-01-01.jpg"),
        (realistic_image("GIF", seed=13), "image/gif", twice),
        (realistic_image("WEBP", seed=14), "image/webp", twice),
    ]
    items = [Uploaded(upload(module_http, *plan), *plan) for plan in plans]
    yield items
    cleanup(module_http, [item.file_name for item in items])


def needs_all(shared) -> list[Uploaded]:
    """The shared uploads as other rules' setup: each a 200 DTO, no two with one fileName (IUP-02's)."""
    for item in shared:
        needs(item.response, f"the upload of {item.name!r}", "IUP-02", ok=created_ok)
    names = [item.file_name for item in shared]
    if len(set(names)) != len(names):
        raise NotExercised("IUP-02", f"two of {len(names)} uploads got one fileName")
    return shared


# -- IUP-01: a Bearer JWT on every operation -----------------------------------------------------------------
WITHOUT_JWT = {"no Authorization header": "none", "a Bearer value that is not a JWT": "Bearer not-a-jwt"}


@pytest.mark.writes
@pytest.mark.rule("IUP-01")
@pytest.mark.parametrize("how", list(WITHOUT_JWT))
def check_iup01_every_operation_needs_a_jwt_and_changes_nothing(target, http, how):
    """The image a refused delete must leave alone is the check's own, so a server that deletes it
    anyway spoils no other check."""
    keep_name = f"{target.unique('keep')}.png"
    kept = Uploaded(upload(http, realistic_image("PNG", seed=20), "image/png", keep_name), b"", "", keep_name)
    needs(kept.response, f"the upload of {keep_name!r}", "IUP-02", ok=created_ok)
    name = f"{target.unique('noauth')}.png"
    header = WITHOUT_JWT[how]
    files = {"file": (name, realistic_image("PNG", seed=15), "image/png")}
    listed, upload_r, delete_r = in_parallel(
        [
            lambda: without_credential(http, header, "GET", "/GetAllImages"),
            lambda: without_credential(http, header, "POST", "/UploadImage", files=files),
            lambda: without_credential(
                http, header, "DELETE", "/DeleteImage", params={"FileName": kept.file_name}
            ),
        ]
    )
    decision = "x-decision: a missing or malformed token gets 401"
    for what, r in (("GetAllImages", listed), ("UploadImage", upload_r), ("DeleteImage", delete_r)):
        refused(r, f"{what} with {how}", should_status=401, decision=decision)
    after, images = listing(http)
    needs(after, "GetAllImages with the credential", "IUP-03")
    stored = [f for f, dto in images.items() if dto.get("originalFileName") == name]
    cleanup(http, [*stored, dto_of(upload_r).get("fileName"), kept.file_name])
    check(
        not stored, f"UploadImage with {how} stored the file ({stored[0] if stored else ''})", response=after
    )
    check(kept.file_name in images, f"DeleteImage with {how} deleted {kept.file_name}", response=after)


# -- IUP-02: the upload's answer -----------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("IUP-02")
def check_iup02_upload_answers_the_image_dto(shared):
    names = []
    for item in shared:
        r, what = item.response, f"upload of {item.name!r}"
        if not check(r.status_code == 200, f"{what}: expected 200, got {r.status_code}", response=r):
            continue
        body = body_of(r)
        if not check(
            isinstance(body, dict) and isinstance(body.get("data"), dict),
            f"{what}: expected {{message, data: ImageInformationDto}}, got {str(body)[:300]}",
            response=r,
        ):
            continue
        check(
            "message" in body and (body["message"] is None or isinstance(body["message"], str)),
            f"{what}: message {body.get('message')!r}, expected a string or null",
            response=r,
        )
        dto = item.dto
        check(
            dto.get("originalFileName") == item.name,
            f"{what}: originalFileName {dto.get('originalFileName')!r}, not the uploaded name",
            response=r,
        )
        check(
            isinstance(item.file_name, str) and bool(item.file_name),
            f"{what}: fileName {dto.get('fileName')!r}, expected a non-empty cloud name",
            response=r,
        )
        check(
            type(dto.get("size")) is int and dto["size"] == len(item.data),
            f"{what}: size {dto.get('size')!r}, not the byte count {len(item.data)}",
            response=r,
        )
        for key in ("createTime", "updateTime"):
            check(
                isinstance(dto.get(key), str) and bool(DATE_TIME.match(dto[key])),
                f"{what}: {key} {dto.get(key)!r}, expected an RFC 3339 date-time",
                response=r,
            )
        for key in ("fileLinkPath", "mediaLink"):
            check(
                isinstance(dto.get(key), str) and bool(dto[key]),
                f"{what}: {key} {dto.get(key)!r}, expected non-empty",
                response=r,
            )
        names.append(item.file_name)
    check(
        len(set(names)) == len(names),
        f"uploads share a fileName (two of one original name must get two): {names}",
    )


# -- IUP-03: the listing -------------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("IUP-03")
@pytest.mark.alone
def check_iup03_list_holds_every_image_as_uploaded(target, http, shared):
    items = needs_all(shared)
    _before, _ = listing(http)  # a listing before the next upload: a cached answer must not hide it
    name = f"{target.unique('listed')}.gif"
    fresh = needs(
        upload(http, realistic_image("GIF", seed=16), "image/gif", name),
        f"the upload of {name!r}",
        "IUP-02",
        ok=created_ok,
    )
    fresh_name = dto_of(fresh)["fileName"]
    try:
        r, images = listing(http)
        body = body_of(r)
        check(r.status_code == 200, f"GetAllImages: expected 200, got {r.status_code}", response=r)
        check(
            isinstance(body, dict) and "message" in body and isinstance(body.get("data"), list),
            f"GetAllImages: expected {{message, data: [...]}}, got {str(body)[:300]}",
            response=r,
        )
        check(fresh_name in images, f"GetAllImages lacks {fresh_name}, uploaded just before", response=r)
        for item in items:
            got = images.get(item.file_name)
            if not check(got is not None, f"GetAllImages lacks {item.file_name}", response=r):
                continue
            for key in ("originalFileName", "size", "fileLinkPath"):
                check(
                    got.get(key) == item.dto.get(key),
                    f"GetAllImages {item.file_name}: {key} {got.get(key)!r}, "
                    f"the upload answered {item.dto.get(key)!r}",
                    response=r,
                )
    finally:
        cleanup(http, [fresh_name])


# -- IUP-04 and IUP-05: a delete, and what follows it --------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("IUP-04", "IUP-05")
def check_iup04_05_delete_removes_the_image(target, http):
    name = f"{target.unique('gone')}.jpg"
    data = realistic_image("JPEG", seed=17)
    fresh = needs(upload(http, data, "image/jpeg", name), f"the upload of {name!r}", "IUP-02", ok=created_ok)
    dto = dto_of(fresh)
    try:
        media = fetch_media(http, dto["mediaLink"])
        should(
            target,
            media.status_code == 200 and media.content == data,
            f"mediaLink answered {media.status_code} with {len(media.content)} bytes, not the {len(data)} "
            "uploaded",
            rule="IUP-05",
            response=media,
            decision="x-decision: mediaLink serves the bytes",
        )
        r = delete(http, dto["fileName"])
        check(
            r.status_code == 200,
            f"delete {dto['fileName']}: expected 200, got {r.status_code}",
            rule="IUP-04",
            response=r,
        )
        body = body_of(r)
        check(
            isinstance(body, dict) and "message" in body and "data" in body and body["data"] is None,
            f"delete {dto['fileName']}: expected {{message, data: null}}, got {str(body)[:300]}",
            rule="IUP-04",
            response=r,
        )
        after, images = listing(http)
        check(
            dto["fileName"] not in images,
            f"{dto['fileName']} is still listed after its delete",
            rule="IUP-04",
            response=after,
        )
        media_after, again = in_parallel(
            [lambda: fetch_media(http, dto["mediaLink"]), lambda: delete(http, dto["fileName"])]
        )
        refused(
            media_after,
            "mediaLink after the delete",
            rule="IUP-05",
            should_status=404,
            decision="x-decision: a deleted image's mediaLink is 404",
        )
        refused(
            again,
            "a second delete of the same name",
            rule="IUP-05",
            should_status=404,
            decision="x-decision: an unknown FileName gets 404",
        )
    finally:
        cleanup(http, [dto.get("fileName")])


# -- IUP-05 (SHOULD): bytes, unknown names, missing files, the error envelope --------------------------------
@pytest.mark.writes
@pytest.mark.rule("IUP-05")
def check_iup05_media_links_unknown_names_and_missing_files(target, http, shared):
    items = needs_all(shared)
    calls = [lambda i=i: fetch_media(http, i.dto["mediaLink"]) for i in items]
    calls += [
        lambda: delete(http, f"{target.unique('never-uploaded')}.png"),
        lambda: http.post(
            "/UploadImage", files={"image": ("a.png", realistic_image("PNG", seed=18), "image/png")}
        ),
        lambda: http.post("/UploadImage"),
    ]
    *media, unknown, other_field, no_body = in_parallel(calls)
    for item, r in zip(items, media, strict=True):
        should(
            target,
            r.status_code == 200 and r.content == item.data,
            f"mediaLink of {item.file_name}: {r.status_code}, {len(r.content)} bytes, not the "
            f"{len(item.data)} "
            "uploaded",
            response=r,
            decision="x-decision: mediaLink serves exactly the uploaded bytes",
        )
    refused(
        unknown,
        "delete of a name never uploaded",
        should_status=404,
        decision="x-decision: an unknown FileName gets 404",
    )
    for what, r in (("only another field", other_field), ("no body", no_body)):
        cleanup(http, [dto_of(r).get("fileName")])
        should(
            target,
            r.status_code == 400,
            f"an upload with {what} and no file: expected 400, got {r.status_code}",
            response=r,
            decision="IUP-05: a missing file gets 400",
        )
    for r in (unknown, other_field, no_body):
        body = body_of(r)
        if 400 <= r.status_code < 500:
            should(
                target,
                isinstance(body, dict) and set(body) >= {"message", "data"} and body["data"] is None,
                f"the {r.status_code} error body is {r.text[:120]!r}, not {{message, data: null}}",
                response=r,
                decision=ENVELOPE,
            )


LARGE_FILE = 4_000_000  # bytes: several MB (the seed states no limit; the mock's decided one is 20 MiB)


@pytest.mark.writes
@pytest.mark.rule("IUP-05")
def check_iup05_media_link_serves_a_large_file_byte_for_byte(target, http):
    """A file of several MB comes back from its mediaLink byte for byte: a defect at a buffer or chunk
    boundary shows only on a large file."""
    name, data = f"{target.unique('large')}.png", noise_png(LARGE_FILE)
    fresh = needs(upload(http, data, "image/png", name), f"the upload of {name!r}", "IUP-02", ok=created_ok)
    try:
        media = fetch_media(http, dto_of(fresh)["mediaLink"])
        should(
            target,
            media.status_code == 200 and media.content == data,
            f"mediaLink of a {len(data)}-byte upload: {media.status_code}, {len(media.content)} bytes (not "
            "the same)",
            response=media,
            decision="x-decision: mediaLink serves exactly the uploaded bytes",
        )
    finally:
        cleanup(http, [dto_of(fresh).get("fileName")])


# -- ALL-04: parallel uploads --------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("ALL-04")
def check_all04_parallel_uploads_lose_nothing(target, http, shared):
    """Sequential uploads that read back intact, and a listing that shows a new upload, are the baseline
    (IUP-02, IUP-05, IUP-03): only what breaks beyond them is a concurrency defect."""
    baseline = needs_all(shared)
    for item, r in zip(
        baseline,
        in_parallel(lambda i=i: fetch_media(http, i.dto["mediaLink"]) for i in baseline),
        strict=True,
    ):
        needs(
            r,
            f"the mediaLink of {item.file_name}",
            "IUP-05",
            ok=lambda r, data=item.data: r.status_code == 200 and r.content == data,
        )
    listing(http)
    one = needs(
        upload(http, realistic_image("PNG", seed=199), "image/png", f"{target.unique('one')}.png"),
        "a sequential upload",
        "IUP-02",
        ok=created_ok,
    )
    cleanup_later = [dto_of(one)["fileName"]]
    after, images = listing(http)
    if cleanup_later[0] not in images:
        cleanup(http, cleanup_later)
        raise NotExercised(
            "IUP-03", f"GetAllImages (answered {after.status_code}) lacks an upload made before it"
        )
    count = 12
    payloads = [realistic_image(("PNG", "JPEG")[i % 2], seed=200 + i) for i in range(count)]
    mimes = [("image/png", "image/jpeg")[i % 2] for i in range(count)]
    names = [f"{target.unique(f'par{i}')}.img" for i in range(count)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda i: upload(http, payloads[i], mimes[i], names[i]), range(count)))
    file_names = [dto_of(r).get("fileName") for r in responses] + cleanup_later
    try:
        for r in responses:
            needs(r, "a parallel upload", "IUP-02", ok=created_ok)
        dtos = [dto_of(r) for r in responses]
        check(
            [d.get("originalFileName") for d in dtos] == names, "parallel uploads answered each other's names"
        )
        burst = file_names[:count]
        check(len(set(burst)) == count, f"{count} parallel uploads got {len(set(burst))} fileNames")
        r, images = listing(http)
        missing = [f for f in burst if f not in images]
        check(
            not missing,
            f"{len(missing)} of {count} parallel uploads are missing from GetAllImages",
            response=r,
        )
        downloads = in_parallel(lambda d=d: fetch_media(http, d["mediaLink"]) for d in dtos)
        changed = [n for n, d, data in zip(names, downloads, payloads, strict=True) if d.content != data]
        check(not changed, f"{len(changed)} parallel uploads' bytes changed, e.g. {changed[:2]}")
    finally:
        cleanup(http, file_names)


# -- ALL-05: what the seed allows is accepted ----------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("ALL-05")
def check_all05_uploads_the_seed_allows_are_accepted(target, http):
    """The seed names no filename, no part type and no size: one or two characters, no extension,
    non-Latin names, application/octet-stream and a 1x1 pixel image are all seed-valid uploads."""
    photo = realistic_image("PNG", seed=19)
    cases = {
        "a one-character filename": (photo, "image/png", "a"),
        "a two-character filename": (photo, "image/png", "ab"),
        "a filename without extension": (photo, "image/png", "photo"),
        "a non-Latin filename with spaces": (photo, "image/png", "фото отпуск 1.png"),
        "a part declared application/octet-stream": (photo, "application/octet-stream", "upload.png"),
        "a 1x1 pixel PNG": (tiny_png(), "image/png", "tiny.png"),
    }
    responses = in_parallel(lambda c=c: upload(http, *c) for c in cases.values())
    cleanup(http, [dto_of(r).get("fileName") for r in responses])
    for what, r in zip(cases, responses, strict=True):
        accepted(r, f"an upload of {what}")


@pytest.mark.writes
@pytest.mark.rule("ALL-05")
def check_all05_any_bytes_and_an_optional_file_name(target, http):
    """The seed types the file only as binary and makes FileName optional; what the mock does with
    them (store any bytes, answer a missing FileName like an unknown one) is the SHOULD."""
    text, empty, no_name = in_parallel(
        [
            lambda: upload(http, not_an_image(), "text/plain", "notes.txt"),
            lambda: upload(http, b"", "application/octet-stream", "empty.bin"),
            lambda: http.delete("/DeleteImage"),
        ]
    )
    cleanup(http, [dto_of(text).get("fileName"), dto_of(empty).get("fileName")])
    should(
        target,
        200 <= text.status_code < 300,
        f"an upload of a text file: answered {text.status_code}",
        response=text,
        decision="x-decision: any bytes are stored (the seed never says image)",
    )
    should(
        target,
        200 <= empty.status_code < 300,
        f"an upload of an empty file: answered {empty.status_code}",
        response=empty,
        decision="x-decision: any bytes are stored, none too",
    )
    should(
        target,
        no_name.status_code == 404,
        f"DeleteImage without FileName: answered {no_name.status_code}",
        response=no_name,
        decision="x-decision: a missing FileName names no image: 404, like an unknown one",
    )
