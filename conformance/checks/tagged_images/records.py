"""tagged-images records (TIM-01..03, TIM-06, TIM-07): create, upload (signed URL or in one shot), read
and delete a record."""

from __future__ import annotations

from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest

from conformance.findings import NotExercised, check, refused, should
from conformance.media import MIME, noise_png, photo

from .common import (
    BAD_BASE64_400,
    ERROR_BODY,
    MB_AS_SI,
    MISSING_ID,
    OVERSIZE_413,
    PAYLOAD_LIMIT,
    PAYLOAD_LIMIT_MIB,
    RECORD_FIELDS,
    SIGNED_URL,
    UNKNOWN_ID_404,
    body_of,
    create_body,
    error_body_problem,
    fetched,
    forged,
    got,
    is_int,
    judge_pages,
    judge_uploaded_file,
    made_for_put,
    owner_of,
    pages,
    parallel,
    put_file,
    record_problems,
    sent,
    tag_names,
    upload_body,
    uploaded,
)

pytestmark = pytest.mark.api("tagged-images")


# -- targeted checks --------------------------------------------------------------------------------------
def created_shape(response, rule_id: str) -> dict | None:
    """The seed's 201 of POST /images and POST /upload: ImageCreatedResponse, "ID of new record along with
    URL to upload (PUT) the image to": an integer id and an upload_url string."""
    body = body_of(response)
    if not check(
        isinstance(body, dict),
        f"{sent(response)}: the 201 body is not an object: {response.text[:200]}",
        rule=rule_id,
        response=response,
    ):
        return None
    check(
        is_int(body.get("id")),
        f"{sent(response)}: id is {body.get('id')!r}, not an integer",
        rule=rule_id,
        response=response,
    )
    check(
        isinstance(body.get("upload_url"), str),
        f"{sent(response)}: upload_url is {body.get('upload_url')!r}, not a string (the 201 is "
        f"{{id, upload_url}}, got the fields {sorted(body)})",
        rule=rule_id,
        response=response,
    )
    return body if is_int(body.get("id")) else None


@pytest.mark.writes
@pytest.mark.rule("TIM-01", "TIM-02")
def check_tim01_02_create_then_put(target, http, raw, cleanup):
    name, tag = target.unique("put") + ".jpg", target.unique("put")
    data = photo(3, "JPEG")
    r = http.post("/images", json=create_body(name, [tag], len(data)))
    check(r.status_code == 201, f"{sent(r)}: expected 201, got {got(r)}", rule="TIM-01", response=r)
    if not 200 <= r.status_code < 300:
        return
    body = created_shape(r, "TIM-01")
    if body is None:
        return
    cleanup.images.append(body["id"])
    record = fetched(http, body["id"])
    cleanup.tags_of(record)
    check(
        record.get("filename") == name,
        f"GET /images/{body['id']}: filename {record.get('filename')!r}, sent {name!r}",
        rule="TIM-01",
    )
    check(
        record.get("uploaded_timestamp") is None and record.get("url") is None,
        f"GET /images/{body['id']} before the upload: uploaded_timestamp {record.get('uploaded_timestamp')!r}"
        f" and url {record.get('url')!r}, not null",
        rule="TIM-01",
    )
    if not isinstance(body.get("upload_url"), str):
        return
    put = put_file(raw, urljoin(str(r.request.url), body["upload_url"]), data, MIME["JPEG"])
    if check(
        200 <= put.status_code < 300, f"PUT to upload_url: answered {got(put)}", rule="TIM-02", response=put
    ):
        judge_uploaded_file(raw, fetched(http, body["id"]), data, "TIM-02")


@pytest.mark.writes
@pytest.mark.rule("TIM-02")
def check_tim02_upload_url_is_signed(target, http, raw, cleanup):
    """SHOULD: upload_url is signed (a forged signature is refused) and expires."""
    created = made_for_put(http, target.unique("sig") + ".png", [])
    cleanup.images.append(created["id"])
    url = created["upload_url"]
    bad = forged(url)
    should(
        target,
        bad is not None,
        f"upload_url carries no signature query parameter: {url}",
        decision=SIGNED_URL,
    )
    names = {k.lower() for k, _ in parse_qsl(urlsplit(url).query)}
    should(
        target, any("expire" in k for k in names), f"upload_url names no expiry: {url}", decision=SIGNED_URL
    )
    if bad is None:
        return
    r = put_file(raw, bad, photo(4), MIME["PNG"])
    should(
        target,
        400 <= r.status_code < 500,
        f"PUT with a forged signature: expected a 4xx, got {got(r)}",
        response=r,
        decision=SIGNED_URL,
    )
    record = fetched(http, created["id"])
    should(
        target,
        record.get("uploaded_timestamp") is None,
        "a PUT with a forged signature uploaded the file",
        response=r,
        decision=SIGNED_URL,
    )


@pytest.mark.writes
@pytest.mark.rule("TIM-03")
def check_tim03_upload_in_one_shot(target, http, raw, cleanup):
    data, tag = photo(5, "GIF"), target.unique("up")
    r = http.post("/upload", json=upload_body(data, target.unique("up") + ".gif", [tag]))
    check(r.status_code == 201, f"{sent(r)}: expected 201, got {got(r)}", response=r)
    if not 200 <= r.status_code < 300:
        return
    body = created_shape(r, "TIM-03")
    if body is None:
        return
    cleanup.images.append(body["id"])
    record = fetched(http, body["id"])
    cleanup.tags_of(record)
    check(
        record.get("size") == len(data),
        f"GET /images/{body['id']}: size {record.get('size')!r}, not the decoded length {len(data)}",
    )
    judge_uploaded_file(raw, record, data, "TIM-03")


LARGE_FILE = 2_700_000  # bytes: several MB, its base64 in one JSON body still under 3,960,000 bytes


@pytest.mark.writes
@pytest.mark.rule("TIM-03", "TIM-02")
def check_tim02_03_large_files_are_stored_byte_for_byte(target, http, raw, cleanup):
    """A file of several MB, in one shot (TIM-03) and by a PUT to upload_url (TIM-02), is served back byte
    for byte: a defect at a buffer or chunk boundary shows only on a large file. Both go out at once."""
    shot, put = noise_png(LARGE_FILE), noise_png(LARGE_FILE + 1)
    tag = target.unique("large")

    def one_shot():
        body = upload_body(shot, tag + "-shot.png", [tag])
        r = http.post("/upload", json=body)
        assert len(r.request.content) < PAYLOAD_LIMIT, len(r.request.content)
        return r

    def by_put():
        created = made_for_put(http, tag + "-put.png", [tag], len(put))
        cleanup.images.append(created["id"])
        return created, put_file(raw, created["upload_url"], put, MIME["PNG"])

    r, (created, stored) = parallel([one_shot, by_put])
    if check(
        200 <= r.status_code < 300, f"{sent(r)} of a {len(shot)}-byte file: answered {got(r)}", response=r
    ):
        body = created_shape(r, "TIM-03")
        if body is not None:
            cleanup.images.append(body["id"])
            record = fetched(http, body["id"])
            check(
                record.get("size") == len(shot),
                f"GET /images/{body['id']}: size {record.get('size')!r}, not the decoded length {len(shot)}",
            )
            judge_uploaded_file(raw, record, shot, "TIM-03")
    what = f"PUT of a {len(put)}-byte file to upload_url"
    if check(
        200 <= stored.status_code < 300, f"{what}: answered {got(stored)}", rule="TIM-02", response=stored
    ):
        judge_uploaded_file(raw, fetched(http, created["id"]), put, "TIM-02")


@pytest.mark.writes
@pytest.mark.rule("TIM-03", "TIM-13")
def check_tim03_bad_base64_is_refused(target, http, cleanup):
    name = target.unique("b64") + ".png"
    r = http.post("/upload", json={"filename": name, "image_data": "not*base64!", "tags": []})
    if 200 <= r.status_code < 300 and isinstance(body_of(r), dict):
        cleanup.images.append(body_of(r).get("id"))
    if refused(
        r,
        f"{sent(r)} with image_data that is not base64",
        rule="TIM-03",
        should_status=400,
        decision=BAD_BASE64_400,
    ):
        problem = error_body_problem(r)  # POST /upload's seed: default -> Error
        check(problem is None, str(problem), rule="TIM-13", response=r)


@pytest.mark.writes
@pytest.mark.rule("TIM-03", "TIM-13")
def check_tim03_payload_over_3_96_mb_is_refused(target, http, cleanup):
    # Beyond every reading of the unit (over 3.96 MiB): MUST.
    data = noise_png(PAYLOAD_LIMIT_MIB * 3 // 4 + 10_000)  # a valid image whose base64 exceeds the limit
    r = http.post("/upload", json=upload_body(data, target.unique("big") + ".png", []))
    if 200 <= r.status_code < 300 and isinstance(body_of(r), dict):
        cleanup.images.append(body_of(r).get("id"))
    what = f"{sent(r)} of a {len(r.request.content)}-byte payload (over 3.96 MB in either unit)"
    if refused(r, what, rule="TIM-03", should_status=413, decision=OVERSIZE_413):
        problem = error_body_problem(r)
        check(problem is None, str(problem), rule="TIM-13", response=r)
    # Between the readings (over 3,960,000 bytes, under 3.96 MiB): our decision, SHOULD.
    data = noise_png(PAYLOAD_LIMIT * 3 // 4 + 50_000)
    r = http.post("/upload", json=upload_body(data, target.unique("big") + ".png", []))
    if 200 <= r.status_code < 300 and isinstance(body_of(r), dict):
        cleanup.images.append(body_of(r).get("id"))
    size = len(r.request.content)
    assert PAYLOAD_LIMIT < size < PAYLOAD_LIMIT_MIB, size
    should(
        target,
        400 <= r.status_code < 500,
        f"{sent(r)} of a {size}-byte payload (over 3.96 MB, under 3.96 MiB) got {r.status_code}",
        rule="TIM-03",
        response=r,
        decision=MB_AS_SI,
    )


@pytest.mark.rule("TIM-06", "TIM-13")
def check_tim06_unknown_id_is_refused(target, http):
    r = http.get(f"/images/{MISSING_ID}")
    if refused(r, f"{sent(r)} (an unknown id)", rule="TIM-06", should_status=404, decision=UNKNOWN_ID_404):
        problem = error_body_problem(r)  # the seed lists no error for GET /images/{id}: our format
        should(target, problem is None, str(problem), rule="TIM-13", response=r, decision=ERROR_BODY)


@pytest.mark.writes
@pytest.mark.rule("TIM-06")
@pytest.mark.alone
def check_tim06_record_shape(target, http, timeline):
    ids = sorted(timeline.records)
    answers = parallel([lambda i=i: http.get(f"/images/{i}") for i in ids])
    for image_id, r in zip(ids, answers, strict=True):
        if not check(r.status_code == 200, f"{sent(r)}: expected 200, got {got(r)}", response=r):
            continue
        record, before = body_of(r), timeline.records[image_id]
        problems = record_problems(record)
        for problem in problems:  # a field of the wrong type is ALL-02's; tags' shape is TIM-06's
            check(False, f"{sent(r)}: {problem}", rule=owner_of(problem), response=r)
        if problems:
            continue
        check(record.get("id") == image_id, f"{sent(r)} returned the record {record.get('id')!r}", response=r)
        check(
            record.get("created_timestamp") == before["created_timestamp"],
            f"{sent(r)}: created_timestamp {record.get('created_timestamp')!r}, first "
            f"{before['created_timestamp']}",
            response=r,
        )
        check(
            sorted(tag_names(record)) == sorted(tag_names(before)),
            f"{sent(r)}: tags {record.get('tags')}, first {before.get('tags')}",
            response=r,
        )
        absent = [k for k in RECORD_FIELDS if k not in record]
        should(
            target,
            not absent,
            f"{sent(r)}: the record has no {absent}",
            response=r,
            decision="x-decision: a record always has every field (uploaded_timestamp and url null)",
        )


@pytest.mark.writes
@pytest.mark.rule("TIM-07")
def check_tim07_deleted_record_is_gone_everywhere(target, http, raw, cleanup):
    home = target.unique("del")
    tags = [home, f"{home}-Gone"]
    keep = uploaded(http, photo(6), home + "-keep.png", tags)["id"]
    gone = uploaded(http, photo(7), home + "-gone.png", tags)["id"]
    cleanup.images += [keep, gone]
    kept, record = parallel([lambda: fetched(http, keep), lambda: fetched(http, gone)])
    cleanup.tags_of(record)
    if {t["id"] for t in kept["tags"]} != {t["id"] for t in record["tags"]}:
        raise NotExercised(
            "TIM-08", f"records naming the tags {tags} got different tags: {kept['tags']}, {record['tags']}"
        )
    r = http.delete(f"/images/{gone}")
    check(r.status_code == 204, f"{sent(r)}: expected 204, got {got(r)}", response=r)
    # Whatever the status said, the record must be gone: a delete that keeps it is reported too.
    listings = [  # (path, params, the rule that owns the listing, does it list `keep`?)
        *((f"/tags/{t['id']}/images", {}, "TIM-10") for t in record["tags"]),
        ("/search/images", {"exact_tags": "|".join(tags), "match_tags": home.upper()}, "TIM-12"),
        ("/search/images", {"exact_tags": home, "match_tags": f"{home.upper()}-%"}, "TIM-12"),
        (
            "/images",
            {"start_timestamp": kept["created_timestamp"], "end_timestamp": kept["created_timestamp"]},
            "TIM-05",
        ),
    ]
    if record["created_timestamp"] != kept["created_timestamp"]:
        stamp = record["created_timestamp"]
        listings.append(("/images", {"start_timestamp": stamp, "end_timestamp": stamp}, None))
    calls = [lambda: http.get(f"/images/{gone}")]
    calls += [
        lambda p=p, q=q: http.get(p) if p.startswith("/tags/") else pages(http, p, q, 100, 30)
        for p, q, _ in listings
    ]
    after, *answers = parallel(calls)
    refused(after, f"{sent(after)} after its delete", should_status=404, decision=UNKNOWN_ID_404)
    for (path, params, owner), answer in zip(listings, answers, strict=True):
        if path.startswith("/tags/"):  # the seed gives this listing no parameters: its first page
            body = body_of(answer) if answer.status_code == 200 else None
            results = body.get("results") if isinstance(body, dict) else None
            if not isinstance(results, list):
                raise NotExercised(owner, f"{sent(answer)} answered {got(answer)}", answer.request)
            listed = [x.get("id") for x in results if isinstance(x, dict)]
        else:
            listed = [x["id"] for x in judge_pages(*answer, owner=owner or "TIM-05")]
        if owner is not None and keep not in listed:
            raise NotExercised(
                owner,
                f"GET {path} {params} does not list the record {keep}, which carries "
                f"the tags {tags} and was not deleted",
            )
        check(gone not in listed, f"GET {path} {params} still lists the deleted record {gone}")
    again = http.delete(f"/images/{gone}")
    refused(again, f"a second {sent(again)}", should_status=404, decision=UNKNOWN_ID_404)
