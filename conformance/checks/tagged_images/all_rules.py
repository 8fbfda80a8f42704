"""The rules every API has, on tagged-images: parallel creates lose nothing (ALL-04), a size beyond
int64 is refused (ALL-03), and what the seed allows is accepted (ALL-05)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin

import pytest

from conformance.findings import NotExercised, accepted, check, needs, should
from conformance.media import MIME, photo

from .common import (
    b64,
    body_of,
    create_body,
    fetched,
    got,
    is_int,
    made_for_put,
    parallel,
    put_file,
    sent,
    upload_body,
    uploaded,
    walk,
)

pytestmark = pytest.mark.api("tagged-images")


@pytest.mark.writes
@pytest.mark.rule("ALL-04")
def check_all04_parallel_creates_lose_nothing(target, http, raw, cleanup):
    shared = target.unique("par")
    search = {"exact_tags": shared, "match_tags": shared}
    # One of each, in turn first: what breaks without concurrency is the single upload's rule, not ALL-04.
    control = photo(8)
    one = uploaded(http, control, f"{shared}-u.png", [shared])
    two = made_for_put(http, f"{shared}-p.png", [shared], len(control))
    cleanup.images += [one["id"], two["id"]]
    needs(put_file(raw, two["upload_url"], control, MIME["PNG"]), "PUT to upload_url", "TIM-02")
    controls = parallel([lambda i=i: fetched(http, i) for i in (one["id"], two["id"])])
    cleanup.tags_of(controls[0])
    for record, rule_id in zip(controls, ("TIM-03", "TIM-02"), strict=True):
        r = raw.get(record["url"]) if isinstance(record.get("url"), str) else None
        if r is None or r.content != control:
            raise NotExercised(
                rule_id, f"record {record['id']}'s url does not return its {len(control)} bytes"
            )
    if len({t["id"] for r in controls for t in r["tags"]}) != 1:
        raise NotExercised("TIM-08", f"two records naming the tag {shared!r} got different tags")

    payloads = [photo(200 + i, "PNG", 32) for i in range(20)]
    tags = [[shared, f"{shared}-{i}"] for i in range(20)]

    def create(i):
        if i % 2:
            return http.post("/upload", json=upload_body(payloads[i], f"{shared}-{i}.png", tags[i])), None
        r = http.post("/images", json=create_body(f"{shared}-{i}.png", tags[i], len(payloads[i])))
        body = body_of(r)
        if not (
            200 <= r.status_code < 300 and isinstance(body, dict) and isinstance(body.get("upload_url"), str)
        ):
            return r, None
        return r, put_file(raw, urljoin(str(r.request.url), body["upload_url"]), payloads[i], MIME["PNG"])

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(create, range(20)))
    ids = []
    for i, (r, put) in enumerate(answers):
        body = body_of(r)
        ok = 200 <= r.status_code < 300 and isinstance(body, dict) and is_int(body.get("id"))
        if check(ok, f"parallel {sent(r)} #{i}: answered {got(r)}", response=r):
            ids.append(body["id"])
        if put is not None:
            check(
                200 <= put.status_code < 300,
                f"parallel PUT #{i} to upload_url: answered {got(put)}",
                response=put,
            )
    cleanup.images += ids
    check(len(set(ids)) == len(ids), f"{len(ids)} parallel creates got {len(set(ids))} distinct ids: {ids}")
    records = parallel([lambda i=i: http.get(f"/images/{i}") for i in ids])
    records = [body_of(r) if r.status_code == 200 else None for r in records]
    for record in records:
        if isinstance(record, dict):
            cleanup.tags_of(record)
    lost = [i for i, rec in zip(ids, records, strict=True) if not isinstance(rec, dict)]
    check(not lost, f"records of parallel creates cannot be read back: {lost}")
    shared_ids = {
        t.get("id")
        for rec in records
        if isinstance(rec, dict)
        for t in rec.get("tags", [])
        if isinstance(t, dict) and t.get("name") == shared
    }
    check(len(shared_ids) == 1, f"the tag {shared!r} named by 20 parallel creates got the ids {shared_ids}")
    listed = {r["id"] for r in walk(http, "/search/images", search, 100, owner="TIM-12")}
    missing = set(ids) - listed
    check(
        not missing,
        f"GET /search/images {search} misses {len(missing)} of the parallel creates: {sorted(missing)}",
    )
    readable = [rec for rec in records if isinstance(rec, dict)]
    files = parallel(
        [lambda rec=rec: raw.get(rec["url"]) if isinstance(rec.get("url"), str) else None for rec in readable]
    )
    index = {f"{shared}-{i}.png": i for i in range(20)}
    for record, file in zip(readable, files, strict=True):
        n = index.get(record.get("filename"))
        if not check(
            n is not None, f"records mixed up: record {record.get('id')} is {record.get('filename')!r}"
        ):
            continue
        check(
            file is not None and file.status_code == 200 and file.content == payloads[n],
            f"record {record.get('id')} ({record.get('filename')}): its url does not return the "
            f"{len(payloads[n])} bytes uploaded in parallel",
            response=file,
        )


# -- ALL-03 (SHOULD part): a range the seed does not state ---------------------------------------------------
INT64_DECISION = "x-decision: integers are int64 (the seed's are bare `integer`): a wider one gets 400"


@pytest.mark.writes
@pytest.mark.rule("ALL-03")
def check_all03_a_size_beyond_int64_is_refused(target, http, cleanup):
    """SHOULD only: the seed types `size` a bare integer, with no range; int64 is our decision, so a server
    that stores a wider one honours the seed (and must then read it back, ALL-06)."""
    r = http.post("/images", json=create_body(target.unique("wide") + ".png", [], 2**63))
    if 200 <= r.status_code < 300 and isinstance(body_of(r), dict):
        cleanup.images.append(body_of(r).get("id"))
    should(
        target,
        400 <= r.status_code < 500,
        f"{sent(r)} with size 2**63 (beyond int64): expected a 4xx, got {got(r)}",
        response=r,
        decision=INT64_DECISION,
    )


# -- ALL-05: what the seed allows is accepted -------------------------------------------------------------
DEGENERATE = (
    "the seed's type admits this body but its meaning does not address it (a record or tag with none of "
    "its fields): refusing or accepting it are both legal"
)


def accepted_all(http, cleanup, path: str, cases: dict, degenerate: dict | None = None) -> None:
    """Each body of ``cases`` ({what: body}) sent at once; each must be accepted (MUST); each body of
    ``degenerate`` should be (SHOULD: the type admits it, the meaning does not address it); what was
    created goes."""
    degenerate = degenerate or {}
    bodies = {**cases, **degenerate}
    answers = parallel([lambda b=b: http.post(path, json=b) for b in bodies.values()])
    made_ids = []
    for what, r in zip(bodies, answers, strict=True):
        if what in degenerate:
            ok = should(
                None,
                200 <= r.status_code < 300,
                f"{sent(r)} with {what}: expected a 2xx, got {r.status_code}: {r.text[:200]}",
                response=r,
                decision=DEGENERATE,
            )
        else:
            ok = accepted(r, f"{sent(r)} with {what} (the seed allows it)")
        if ok and isinstance(body_of(r), dict):
            made_ids.append(body_of(r).get("id"))
    if path == "/tags":
        cleanup.tags += made_ids
        return
    cleanup.images += made_ids
    for r in parallel([lambda i=i: http.get(f"/images/{i}") for i in made_ids if is_int(i)]):
        if r.status_code == 200 and isinstance(body_of(r), dict):
            cleanup.tags_of(body_of(r))


@pytest.mark.writes
@pytest.mark.rule("ALL-05")
def check_all05_create_accepts_what_the_seed_allows(target, http, cleanup):
    """ImageCreateInput: no field is required, no length, no minimum."""
    tag = target.unique("a5")
    name = tag + ".png"
    accepted_all(
        http,
        cleanup,
        "/images",
        {
            "a 1-character filename": {"filename": "a", "size": 10, "tags": [tag]},
            "a 2-character filename": {"filename": "ab", "size": 10, "tags": [tag]},
            "no size": {"filename": name, "tags": [tag]},
            "size 0": {"filename": name, "size": 0, "tags": [tag]},
            "no tags": {"filename": name, "size": 10},
            "an empty tags list": {"filename": name, "size": 10, "tags": []},
            "no filename": {"size": 10, "tags": [tag]},
            "a 300-character filename": {"filename": "f" * 296 + ".png", "size": 10, "tags": [tag]},
            "a 150-character tag name": {"filename": name, "size": 10, "tags": [f"{tag}-{'t' * 150}"]},
        },
        degenerate={"no field at all": {}},
    )


@pytest.mark.writes
@pytest.mark.rule("ALL-05")
def check_all05_upload_accepts_what_the_seed_allows(target, http, cleanup):
    """UploadCreateInput: no field is required; an image of a few hundred bytes is still an image."""
    tag = target.unique("a5u")
    data = b64(photo(9))
    accepted_all(
        http,
        cleanup,
        "/upload",
        {
            "a 1-character filename": {"filename": "a", "image_data": data, "tags": [tag]},
            "a 2-character filename": {"filename": "ab", "image_data": data, "tags": [tag]},
            "no tags": {"filename": tag + ".png", "image_data": data},
            "no filename": {"image_data": data, "tags": [tag]},
            "a 150-character tag name": {
                "filename": "a.png",
                "image_data": data,
                "tags": [f"{tag}-{'u' * 150}"],
            },
            "a tiny image (1x1 PNG)": {
                "filename": "dot.png",
                "image_data": b64(photo(10, "PNG", 1)),
                "tags": [tag],
            },
        },
    )


@pytest.mark.writes
@pytest.mark.rule("ALL-05")
def check_all05_create_tag_accepts_what_the_seed_allows(target, http, cleanup):
    """TagCreateInput: `name` is optional, of any length (a tag with no name at all: SHOULD)."""
    accepted_all(
        http,
        cleanup,
        "/tags",
        {"a 150-character name": {"name": f"{target.unique('a5t')}-{'n' * 150}"}},
        degenerate={"no name": {}},
    )


@pytest.mark.rule("ALL-05")
def check_all05_reads_accept_the_seed_parameters(http):
    """The listings' parameters with ordinary values of their meaning (limit 1 and 100, page 0, a date
    range from the Epoch to 2033), and a search carrying both of its required parameters. The int32
    extremes the type admits are degenerate values, judged at SHOULD by the schema layer."""
    requests = [
        ("/images", {"page": 0, "limit": 100}),
        ("/images", {"limit": 1, "uploaded_only": "false"}),
        ("/images", {"start_timestamp": 0, "end_timestamp": 2_000_000_000, "uploaded_only": "true"}),
        ("/tags", {"page": 0, "limit": 100}),
        ("/search/images", {"exact_tags": "a|b", "match_tags": "%", "limit": 100, "page": 0}),
        (
            "/search/images",
            {
                "exact_tags": "x",
                "match_tags": "x%",
                "start_timestamp": 0,
                "end_timestamp": 2_000_000_000,
                "uploaded_only": "true",
            },
        ),
    ]
    for r in parallel([lambda p=p, q=q: http.get(p, params=q) for p, q in requests]):
        accepted(r, f"{sent(r)} (the seed allows it)")
