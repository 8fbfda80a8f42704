"""everydaypic behaviour (EDP-01..06, ALL-04, ALL-05). No delete exists, so checks create uniquely named
images and leave them; nothing assumes an empty server, an id format or a clock.

MUST rests on the seed (000_…) alone. Where it is silent the check asks only for a SHOULD: how `id` and
`fileName` combine in `info`, what `info` answers with neither, the error media type, `created` in RFC 3339,
empty names and unlisted parts."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from conformance.checks.kit import in_parallel
from conformance.findings import NotExercised, accepted, check, needs, should
from conformance.media import not_an_image, realistic_image, tiny_png
from conformance.recording import RecordingClient

pytestmark = pytest.mark.api("everydaypic")

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def upload(
    http,
    data: bytes,
    mime: str,
    file_name: str,
    name: str,
    part_name: str | None = None,
    extra: dict | None = None,
):
    """The seed's fullest request: the three parts it lists (``extra``: parts it does not list)."""
    part = (part_name or file_name or "image", data, mime)
    return http.post(
        "/v1/image", files={"file": part}, data={"fileName": file_name, "name": name, **(extra or {})}
    )


def multipart_without_file(http, fields: dict):
    """A multipart/form-data body of text parts only (httpx sends a body without files urlencoded)."""
    return http.post("/v1/image", files={k: (None, v) for k, v in fields.items()})


def images_in(response) -> list | None:
    """The images of an upload or info answer: the seed's array, or (a divergence ALL-02 reports, still
    usable by the checks of other rules) one image object; None when neither."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        return [body]
    return body if isinstance(body, list) else None


def the_image(response, file_name: str, name: str) -> dict | None:
    """The created model.Image in a 2xx body, found by the names it echoes; None if absent."""
    matches = [
        i
        for i in images_in(response) or []
        if isinstance(i, dict) and (i.get("fileName"), i.get("name")) == (file_name, name)
    ]
    return matches[0] if matches else None


def created_ok(response) -> bool:
    """What other rules need of an upload: a 2xx holding an image with a non-empty string id (one object
    instead of the array is ALL-02's break, not a refused upload)."""
    return 200 <= response.status_code < 300 and any(
        isinstance(i, dict) and isinstance(i.get("id"), str) and i["id"] for i in images_in(response) or []
    )


def ids_of(response) -> list[str] | None:
    images = images_in(response)
    return None if images is None else [i.get("id") for i in images if isinstance(i, dict)]


# -- the shared set: five realistic uploads, made once per run --------------------------------------------
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


class Uploaded:
    def __init__(self, response, data: bytes, mime: str, file_name: str, name: str):
        self.response, self.data, self.mime, self.file_name, self.name = response, data, mime, file_name, name
        image = the_image(response, file_name, name) or {}
        self.id = image.get("id") if isinstance(image.get("id"), str) else None
        self.image = image


@pytest.fixture(scope="module")
def shared(target, module_http):
    """Five images (PNG, JPEG, GIF, WebP, PNG), the first of about 1.6 MB (a defect at a buffer boundary
    shows only on a large file), the others of a few KB, uploaded one after the other (concurrency is
    ALL-04's); the last two share one fileName."""
    shared_name = target.unique("shared") + ".png"
    plans = [
        (realistic_image("PNG", seed=1, size=(900, 600)), "image/png", target.unique("edp-a") + ".png"),
        (realistic_image("JPEG", seed=2), "image/jpeg", target.unique("edp-b") + ".jpg"),
        (realistic_image("GIF", seed=3), "image/gif", target.unique("edp-c") + ".gif"),
        (realistic_image("WEBP", seed=4), "image/webp", shared_name),
        (realistic_image("PNG", seed=5), "image/png", shared_name),
    ]
    # each name unique to its field (never the fileName), in mixed case, with a space and non-ASCII
    names = [f"Name {target.unique('N')} Ünï {i}" for i, _ in enumerate(plans)]
    responses = [upload(module_http, p[0], p[1], p[2], n) for p, n in zip(plans, names, strict=True)]
    return [Uploaded(r, p[0], p[1], p[2], n) for r, p, n in zip(responses, plans, names, strict=True)]


def needs_all(shared) -> list[Uploaded]:
    """The shared uploads as other rules' setup: each a 200 holding the image it created (its names
    echoed, an id), no two ids alike: EDP-03's."""
    for item in shared:
        needs(
            item.response,
            f"the upload of {item.file_name}",
            "EDP-03",
            ok=lambda r, item=item: created_ok(r) and item.id is not None,
        )
    ids = [item.id for item in shared]
    if len(set(ids)) != len(ids):
        raise NotExercised("EDP-03", f"two of {len(ids)} sequential uploads got one id")
    return shared


# -- EDP-01: the three parts are required ----------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("EDP-01")
@pytest.mark.parametrize("missing", ["file", "fileName", "name"])
def check_edp01_each_field_is_required(target, http, missing):
    file_name = target.unique("missing") + ".png"
    data = {k: v for k, v in {"fileName": file_name, "name": target.unique("n")}.items() if k != missing}
    if missing == "file":
        r = multipart_without_file(http, data)
    else:
        r = http.post(
            "/v1/image", files={"file": (file_name, realistic_image("PNG", seed=6), "image/png")}, data=data
        )
    check(r.status_code == 400, f"an upload without {missing}: expected 400, got {r.status_code}", response=r)
    if missing != "fileName":
        found = http.get("/v1/image/info", params={"fileName": file_name})
        should(
            target,
            found.status_code == 404,
            f"the upload without {missing} was stored: info by its fileName answered {found.status_code}",
            response=found,
            decision="x-decision: a refused upload stores nothing",
        )


# -- EDP-02 (SHOULD): a non-image gets 400 and is not stored -----------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("EDP-02")
def check_edp02_non_image_is_refused_and_not_stored(target, http):
    file_name = target.unique("text") + ".png"
    r = upload(http, not_an_image(), "image/png", file_name, "n")
    should(
        target,
        r.status_code == 400,
        f"a text file as image: expected 400, got {r.status_code}",
        response=r,
        decision="x-decision: the file must be a decodable image",
    )
    found = http.get("/v1/image/info", params={"fileName": file_name})
    should(
        target,
        found.status_code == 404,
        f"the text file was stored: info answered {found.status_code}",
        response=found,
        decision="x-decision: a non-image is not stored",
    )


# -- EDP-03: the 200 body -----------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("EDP-03")
def check_edp03_upload_answers_an_array_holding_the_created_image(target, shared):
    ids = []
    for item in shared:
        r = item.response
        what = f"upload of {item.file_name}"
        if not check(r.status_code == 200, f"{what}: expected 200, got {r.status_code}", response=r):
            continue
        try:
            body = r.json()
        except ValueError:
            body = None
        if isinstance(body, dict):  # the shape is ALL-02's (the schema's); the image is still judged here
            check(
                False,
                "POST /v1/image: the 200 body is one image object, not the seed's array of model.Image",
                rule="ALL-02",
                response=r,
            )
            body = [body]
        if not check(
            isinstance(body, list),
            f"{what}: the 200 body must be a JSON array, got {str(body)[:200]}",
            response=r,
        ):
            continue
        image = item.image
        if not check(
            bool(image),
            f"{what}: the array holds no image echoing fileName {item.file_name!r} and "
            f"name {item.name!r}: {str(body)[:300]}",
            response=r,
        ):
            continue
        should(
            target,
            len(body) == 1,
            f"{what}: the array holds {len(body)} images, not just the created one",
            response=r,
            decision="x-decision: the array holds exactly the created image",
        )
        check(
            isinstance(item.id, str) and bool(item.id),
            f"{what}: id {image.get('id')!r}, expected non-empty",
            response=r,
        )
        ids.append(item.id)
        created = image.get("created")
        check(
            isinstance(created, str) and is_a_date_time(created),
            f"{what}: created {created!r} is not a date and time",
            response=r,
        )
        should(
            target,
            isinstance(created, str) and bool(RFC3339.match(created)),
            f"{what}: created {created!r} is not an RFC 3339 date-time",
            response=r,
            decision="x-decision: created has format date-time (RFC 3339)",
        )
        check(
            isinstance(image.get("userID"), str),
            f"{what}: userID {image.get('userID')!r}, expected a string",
            response=r,
        )
    check(len(set(ids)) == len(ids), f"two uploads got one id: {ids}")


def is_a_date_time(value: str) -> bool:
    """A calendar date with a time, as ISO 8601 writes it (with or without T, offset or fraction)."""
    try:
        datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return False
    return bool(re.match(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}", value))


# -- EDP-04: info by id and/or fileName ----------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("EDP-04")
def check_edp04_info_returns_the_matching_images(target, http, shared):
    a, b, c, d, e = needs_all(shared)
    queries = {
        "id of one": ({"id": [a.id]}, {a.id}),
        "ids of three": ({"id": [a.id, b.id, c.id]}, {a.id, b.id, c.id}),
        "a fileName two images share": ({"fileName": [d.file_name]}, {d.id, e.id}),
        "two fileNames": ({"fileName": [b.file_name, d.file_name]}, {b.id, d.id, e.id}),
        "id and fileName of one image": ({"id": [a.id], "fileName": [a.file_name]}, {a.id}),
    }
    responses = in_parallel(lambda q=q: http.get("/v1/image/info", params=q[0]) for q in queries.values())
    for (what, (_, expected)), r in zip(queries.items(), responses, strict=True):
        if not check(r.status_code == 200, f"info by {what}: expected 200, got {r.status_code}", response=r):
            continue
        got = ids_of(r)
        if not check(
            got is not None, f"info by {what}: expected an array of images, got {r.text[:200]}", response=r
        ):
            continue
        check(expected <= set(got), f"info by {what}: lacks {sorted(expected - set(got))}", response=r)
        check(
            set(got) <= expected,
            f"info by {what}: answered images that do not match: {sorted(set(got) - expected)[:3]}",
            response=r,
        )


@pytest.mark.writes
@pytest.mark.rule("EDP-04")
def check_edp04_id_and_file_name_of_different_images(target, http, shared):
    """The seed does not say how the two combine: any answer holding only matching images passes; the
    union (OR) is the SHOULD."""
    a, b, *_ = needs_all(shared)
    r = http.get("/v1/image/info", params={"id": [a.id], "fileName": [b.file_name]})
    check(
        r.status_code in (200, 404),
        f"info by a's id and b's fileName: expected 200 or 404, got {r.status_code}",
        response=r,
    )
    got = set(ids_of(r) or []) if r.status_code == 200 else set()
    check(
        got <= {a.id, b.id},
        f"info by a's id and b's fileName answered other images: {sorted(got - {a.id, b.id})[:3]}",
        response=r,
    )
    should(
        target,
        got == {a.id, b.id},
        f"info by a's id and b's fileName answered {r.status_code} {sorted(got)}, not both images",
        response=r,
        decision="x-decision: id and fileName combine as a union (OR)",
    )


@pytest.mark.writes
@pytest.mark.rule("EDP-04")
def check_edp04_file_names_that_share_a_prefix_match_exactly(target, http):
    """fileName matches a stored name, not a prefix of one: names that share a prefix (X, X.png,
    X.png.png) are three different filters. (Whether case matters the seed does not say.)"""
    stem = target.unique("Prefix")
    plans = [(f"{stem}.png", f"Shared {stem} 0"), (f"{stem}.png.png", f"Shared {stem} 1")]
    plans.append((stem, f"Shared {stem} 2"))
    made = in_parallel(
        lambda i=i, p=p: upload(http, realistic_image("PNG", seed=40 + i), "image/png", *p)
        for i, p in enumerate(plans)
    )
    ids = {}
    for (file_name, name), r in zip(plans, made, strict=True):
        needs(r, f"the upload of {file_name}", "EDP-03", ok=created_ok)
        ids[file_name] = (the_image(r, file_name, name) or {}).get("id")
    if not all(ids.values()):
        raise NotExercised("EDP-03", f"an upload did not answer the image it created: {ids}")
    infos = in_parallel(lambda f=f: http.get("/v1/image/info", params={"fileName": f}) for f in ids)
    for file_name, r in zip(ids, infos, strict=True):
        got = set(ids_of(r) or []) if r.status_code == 200 else set()
        check(
            got == {ids[file_name]},
            f"info by fileName {file_name!r}: expected only {ids[file_name]}, "
            f"got {r.status_code} {sorted(got)}",
            response=r,
        )


@pytest.mark.writes
@pytest.mark.rule("EDP-04")
@pytest.mark.alone
def check_edp04_info_without_filters_lists_every_image(target, http, shared):
    mine = {item.id for item in needs_all(shared)}
    r = http.get("/v1/image/info")
    got = set(ids_of(r) or []) if r.status_code == 200 else set()
    should(
        target,
        r.status_code == 200 and mine <= got,
        f"info without id or fileName answered {r.status_code}, lacking {len(mine - got)} of 5 images",
        response=r,
        decision="x-decision: with neither parameter every image matches",
    )


@pytest.mark.rule("EDP-04", "EDP-05")
def check_edp04_05_unknown_ids_are_404(target, http):
    """Ids the seed allows (any string): one shaped like a UUID, one like a word, one like a number."""
    unknown = [
        "3f2b8c1e-4d5a-4e6f-9a7b-" + target.run_id.ljust(12, "0")[:12],
        target.unique("nope"),
        str(900_000_000 + int(target.run_id, 16) % 99_999_999),
    ]
    calls = [lambda u=u: http.get("/v1/image/info", params={"id": u}) for u in unknown]
    calls += [lambda u=u: http.get(f"/v1/image/{u}") for u in unknown]
    responses = in_parallel(calls)
    for u, r in zip(unknown, responses[:3], strict=True):
        check(
            r.status_code == 404,
            f"info by the unknown id {u!r}: expected 404, got {r.status_code}",
            rule="EDP-04",
            response=r,
        )
    for u, r in zip(unknown, responses[3:], strict=True):
        check(
            r.status_code == 404,
            f"download of the unknown id {u!r}: expected 404, got {r.status_code}",
            rule="EDP-05",
            response=r,
        )


# -- EDP-05: download ---------------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("EDP-05")
def check_edp05_download_returns_the_uploaded_bytes(target, http, shared):
    items = needs_all(shared)
    responses = in_parallel(lambda i=i: http.get(f"/v1/image/{i.id}") for i in items)
    for item, r in zip(items, responses, strict=True):
        what = f"download of {item.file_name} ({item.mime})"
        if not check(r.status_code == 200, f"{what}: expected 200, got {r.status_code}", response=r):
            continue
        check(
            r.content == item.data,
            f"{what}: {len(r.content)} bytes, not the {len(item.data)} uploaded",
            response=r,
        )
        served = r.headers.get("content-type", "").split(";")[0].strip()
        check(
            served == item.mime, f"{what}: served as {served!r}, not as the image's {item.mime}", response=r
        )


# -- EDP-06 (SHOULD): errors in plain text ------------------------------------------------------------------
@pytest.mark.rule("EDP-06")
def check_edp06_errors_are_plain_text(target, http):
    requests = [
        lambda: http.get(f"/v1/image/{target.unique('nope')}"),
        lambda: http.get("/v1/image/info", params={"id": target.unique("nope")}),
    ]
    if not target.read_only:  # a refused upload is still a POST: read-only judges the reads' errors
        requests.append(lambda: multipart_without_file(http, {"fileName": target.unique("f"), "name": "n"}))
    responses = in_parallel(requests)
    for r in responses:
        served = r.headers.get("content-type", "")
        should(
            target,
            served.startswith("text/plain"),
            f"{r.request.method} {r.request.url.path}: its {r.status_code} is {served!r}, not text/plain",
            response=r,
            decision="x-decision: error bodies are text/plain",
        )


# -- ALL-04: parallel uploads --------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("ALL-04")
def check_all04_parallel_uploads_lose_nothing(target, http, shared):
    """Sequential uploads that read back intact are the baseline (EDP-03, EDP-05): only what breaks
    beyond them is a concurrency defect."""
    baseline = needs_all(shared)
    for item, r in zip(
        baseline, in_parallel(lambda i=i: http.get(f"/v1/image/{i.id}") for i in baseline), strict=True
    ):
        needs(
            r,
            f"the download of {item.file_name}",
            "EDP-05",
            ok=lambda r, data=item.data: r.status_code == 200 and r.content == data,
        )
    # The oracle below is info with several ids (EDP-04's feature): confirmed first on the baseline.
    known = [item.id for item in baseline]
    needs(
        http.get("/v1/image/info", params={"id": known}),
        f"info with the {len(known)} sequential uploads' ids",
        "EDP-04",
        ok=lambda r: set(known) <= set(ids_of(r) or []),
    )
    count = 12
    payloads = [realistic_image(("PNG", "JPEG")[i % 2], seed=100 + i) for i in range(count)]
    mimes = [("image/png", "image/jpeg")[i % 2] for i in range(count)]
    names = [target.unique(f"par{i}") + ".img" for i in range(count)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(
            pool.map(lambda i: upload(http, payloads[i], mimes[i], names[i], names[i]), range(count))
        )
    for r in responses:
        needs(r, "a parallel upload", "EDP-03", ok=created_ok)
    images = [the_image(r, n, n) for r, n in zip(responses, names, strict=True)]
    check(all(images), "a parallel upload answered another upload's image (its fileName and name differ)")
    ids = [(i or {}).get("id") for i in images]
    check(len(set(ids)) == count, f"{count} parallel uploads got {len(set(ids))} distinct ids")
    listed = http.get("/v1/image/info", params={"id": [i for i in ids if i]})
    got = set(ids_of(listed) or [])
    check(
        set(ids) <= got,
        f"{len(set(ids) - got)} of {count} parallel uploads are missing from info",
        response=listed,
    )
    kept = [(i, n, data) for i, n, data in zip(ids, names, payloads, strict=True) if i]
    downloads = in_parallel(lambda i=i: http.get(f"/v1/image/{i}") for i, _, _ in kept)
    changed = [n for (_, n, data), d in zip(kept, downloads, strict=True) if d.content != data]
    check(not changed, f"{len(changed)} parallel uploads' bytes changed, e.g. {changed[:2]}")


# -- ALL-05: what the seed allows is accepted ----------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("ALL-05")
def check_all05_uploads_the_seed_allows_are_accepted(target, http):
    """Any string for fileName and name (one or two characters, non-Latin, unlike the part's own
    filename), any declared part type, and images from a 1x1 pixel up to a few hundred KB."""
    photo = realistic_image("PNG", seed=7)
    cases = {
        "a one-character fileName and name": (photo, "image/png", "a", "b", None),
        "a two-character fileName and name": (photo, "image/png", "ab", "cd", None),
        "non-Latin names with spaces": (photo, "image/png", "фото отпуск 1.png", "名前 ✓", None),
        "a fileName unlike the part's filename": (
            photo,
            "image/png",
            target.unique("x") + ".png",
            "n",
            "upload.bin",
        ),
        "a part declared application/octet-stream": (
            photo,
            "application/octet-stream",
            target.unique("o") + ".png",
            "n",
            None,
        ),
        "a 1x1 pixel PNG": (tiny_png(), "image/png", target.unique("tiny") + ".png", "n", None),
        "a 256x256 photo-like PNG": (
            realistic_image("PNG", seed=8, size=(256, 256)),
            "image/png",
            target.unique("big") + ".png",
            "n",
            None,
        ),
    }
    responses = in_parallel(
        lambda c=c: upload(http, c[0], c[1], c[2], c[3], part_name=c[4]) for c in cases.values()
    )
    for what, r in zip(cases, responses, strict=True):
        accepted(r, f"an upload with {what}")


@pytest.mark.writes
@pytest.mark.rule("ALL-05")
def check_all05_empty_names_and_unlisted_parts(target, http):
    """The seed is silent on empty strings and on parts it does not list: accepting them is the SHOULD."""
    photo = realistic_image("JPEG", seed=9)
    empty, extra = in_parallel(
        [
            lambda: upload(http, photo, "image/jpeg", "", ""),
            lambda: upload(
                http, photo, "image/jpeg", target.unique("x") + ".jpg", "n", extra={"comment": "hi"}
            ),
        ]
    )
    should(
        target,
        200 <= empty.status_code < 300,
        f"empty fileName and name: answered {empty.status_code}",
        response=empty,
        decision="x-decision: any string is a valid fileName and name, an empty one too",
    )
    should(
        target,
        200 <= extra.status_code < 300,
        f"an unlisted part `comment`: answered {extra.status_code}",
        response=extra,
        decision="x-decision: parts the seed does not list are ignored",
    )
