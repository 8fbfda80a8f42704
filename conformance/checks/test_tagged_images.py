"""tagged-images behaviour (TIM-01..13, ALL-04). The server may hold other records and tags: every record a
check creates carries a tag unique to it (``target.unique``), so exact comparisons page only those records
(GET /tags/{id}/images, GET /search/images?exact_tags=...); on GET /images, which lists everything, the
checks hold invariants true whatever else is stored. Checks delete every record and tag they create.

The "(SHOULD - ...)" parts of the MUST rules are checked by ``should``: a break fails under --strict and is
otherwise reported as a skipped check with a WARN message."""

from __future__ import annotations

import base64
import io
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from PIL import Image

from conformance.media import MIME, image_bytes, images
from conformance.plugin import should

pytestmark = pytest.mark.api("tagged-images")

MISSING_ID = 2147483647  # an integer id no check creates (the spec's ids are integers from 1)
PAYLOAD_LIMIT = 3_960_000  # "Entire payload must not exceed 3.96 MB"
WORDS = ("Red", "red", "RED", "Blue", "blue", "sky", "Sky-Blue", "SEA-red")  # tag suffixes, mixed case


# -- helpers ---------------------------------------------------------------------------------------------
def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def expect(response, status: int, what: str):
    assert response.status_code == status, (
        f"{what}: expected {status}, got {response.status_code}: {response.text[:200]}"
    )
    return response


def expect_4xx(response, what: str):
    assert 400 <= response.status_code < 500, (
        f"{what}: expected a 4xx, got {response.status_code}: {response.text[:200]}"
    )
    return response


def error_body_problem(response) -> str | None:
    """TIM-13: an error body is a JSON object {code: integer, message: string}; None when it is."""
    try:
        body = response.json()
    except ValueError:
        return f"a {response.status_code} body is not JSON: {response.text[:200]!r}"
    if not (isinstance(body, dict) and is_int(body.get("code")) and isinstance(body.get("message"), str)):
        return f"a {response.status_code} body is not {{code: integer, message: string}}: {body!r}"[:300]
    return None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def create_record(http, filename: str, tags: list[str], size: int | None = None) -> dict:
    """TIM-01: POST /images gets 201 {id, upload_url}."""
    body: dict = {"filename": filename, "tags": tags}
    if size is not None:
        body["size"] = size
    created = expect(http.post("/images", json=body), 201, "POST /images").json()
    assert is_int(created.get("id")), f"POST /images: expected an integer id, got {created!r}"
    url = created.get("upload_url")
    assert isinstance(url, str) and url.startswith(("http://", "https://")), (
        f"POST /images: expected upload_url to be an absolute URL, got {url!r}"
    )
    return created


def upload_record(http, data: bytes, filename: str, tags: list[str]) -> dict:
    """TIM-03: POST /upload with the bytes base64-encoded gets 201 with the record's id."""
    body = {"filename": filename, "image_data": b64(data), "tags": tags}
    created = expect(http.post("/upload", json=body), 201, "POST /upload").json()
    assert is_int(created.get("id")), f"POST /upload: expected an integer id, got {created!r}"
    return created


def get_record(http, image_id: int) -> dict:
    """TIM-06: GET /images/{id} returns the record, its tags as {id, name}."""
    record = expect(http.get(f"/images/{image_id}"), 200, f"GET /images/{image_id}").json()
    check_record(record, f"GET /images/{image_id}")
    assert record["id"] == image_id, f"GET /images/{image_id} returned the record {record['id']}"
    return record


def check_record(record, what: str) -> None:
    assert isinstance(record, dict), f"{what}: expected a record object, got {record!r}"
    for key, ok in (("id", is_int), ("created_timestamp", is_int), ("size", is_int)):
        assert ok(record.get(key)), f"{what}: expected an integer {key}, got {record.get(key)!r}"
    assert isinstance(record.get("filename"), str), f"{what}: filename {record.get('filename')!r}"
    tags = record.get("tags")
    assert isinstance(tags, list) and all(
        isinstance(t, dict) and is_int(t.get("id")) and isinstance(t.get("name"), str) for t in tags
    ), f"{what}: expected tags as a list of {{id: integer, name: string}}, got {tags!r}"
    assert "uploaded_timestamp" in record and "url" in record, f"{what}: uploaded_timestamp/url missing"


def fetch(raw, url: str) -> bytes:
    r = raw.get(url)
    assert r.status_code == 200, f"GET of the record's url: expected 200, got {r.status_code}: {r.text[:200]}"
    return r.content


def put_file(raw, upload_url: str, data: bytes, mime: str):
    return raw.put(upload_url, content=data, headers={"Content-Type": mime})


def check_uploaded(raw, record: dict, data: bytes, rule: str) -> None:
    what = f"record {record['id']} after its upload"
    assert is_int(record["uploaded_timestamp"]), (
        f"{what}: expected an integer uploaded_timestamp, got {record['uploaded_timestamp']!r} ({rule})"
    )
    assert isinstance(record["url"], str), f"{what}: expected a url, got {record['url']!r} ({rule})"
    got = fetch(raw, record["url"])
    assert got == data, f"{what}: url returned {len(got)} bytes, not the {len(data)} uploaded ({rule})"


def walk(http, path: str, params: dict, limit: int, max_pages: int = 200, until=None) -> list[dict]:
    """Every page of a paged listing (TIM-04's meta checked on each) in order; stops early once
    ``until(records so far)`` holds."""
    records: list[dict] = []
    seen: set = set()
    for page in range(max_pages):
        r = expect(http.get(path, params={**params, "page": page, "limit": limit}), 200, f"GET {path}")
        body = r.json()
        results, meta = body.get("results"), body.get("meta")
        what = f"GET {path} {params} page={page} limit={limit}"
        assert isinstance(results, list) and isinstance(meta, dict), f"{what}: expected results and meta"
        check_meta(meta, page, limit, len(results), what)
        for record in results:
            key = record.get("id")
            assert key not in seen, f"{what}: id {key} was already on an earlier page"
            seen.add(key)
        records += results
        if not meta["has_more_pages"] or (until is not None and until(records)):
            return records
    return records


def check_meta(meta: dict, page: int, limit: int, count: int, what: str) -> None:
    """TIM-04: current_page == page, total_results counts every match, has_more_pages exactly when later
    pages hold records; so a page holds min(limit, total - page * limit) records."""
    assert meta.get("current_page") == page, f"{what}: meta.current_page is {meta.get('current_page')!r}"
    total = meta.get("total_results")
    assert is_int(total) and total >= 0, f"{what}: meta.total_results is {total!r}"
    more = (page + 1) * limit < total
    assert meta.get("has_more_pages") is more, (
        f"{what}: total_results {total}: expected has_more_pages {more}, got {meta.get('has_more_pages')!r}"
    )
    expected = max(0, min(limit, total - page * limit))
    assert count == expected, f"{what}: total_results {total}: expected {expected} records, got {count}"


def check_newest_first(records: list[dict], what: str) -> None:
    stamps = [r["created_timestamp"] for r in records]
    for i in range(1, len(stamps)):
        assert stamps[i - 1] >= stamps[i], (
            f"{what}: expected newest created first, got created_timestamp {stamps[i - 1]} "
            f"before {stamps[i]} (ids {records[i - 1]['id']}, {records[i]['id']})"
        )


def like(pattern: str, name: str) -> bool:
    """match_tags semantics: ``%`` any run of characters (none included), the rest literal, any case."""
    regex = ".*".join(re.escape(part) for part in pattern.split("%"))
    return re.fullmatch(regex, name, re.IGNORECASE | re.DOTALL) is not None


def noise_png(payload_bytes: int) -> bytes:
    """A decodable PNG of at least ``payload_bytes`` bytes (random pixels, stored uncompressed)."""
    side = int((payload_bytes / 3) ** 0.5) + 8
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, "PNG", compress_level=0)
    return buf.getvalue()


def forged(url: str) -> str | None:
    """``url`` with one character of its signature query parameter changed (None: no signature)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    for i, (name, value) in enumerate(query):
        if "signature" in name.lower() and value:
            changed = value[:-1] + ("0" if value[-1] != "0" else "1")
            query[i] = (name, changed)
            return urlunsplit(parts._replace(query=urlencode(query)))
    return None


@pytest.fixture(scope="module")
def raw():
    """A plain client for absolute URLs (upload_url, url): no base URL, no credential."""
    with httpx.Client(timeout=30) as client:
        yield client


class Cleanup:
    def __init__(self, http):
        self.http, self.images, self.tags = http, [], []

    def run(self) -> None:
        for image_id in self.images:
            self.http.delete(f"/images/{image_id}")
        for tag_id in self.tags:
            self.http.delete(f"/tags/{tag_id}")


@pytest.fixture
def cleanup(http):
    """Ids appended to .images / .tags are deleted after the check, whatever its outcome."""
    c = Cleanup(http)
    yield c
    c.run()


# -- a timeline: records created in two different seconds, shared by the listing checks ---------------------
@dataclass
class Timeline:
    home: str  # every record carries this tag; the other tags are home + "-" + a suffix
    home_id: int
    records: dict[int, dict]  # id -> record as GET returned it
    data: dict[int, bytes]  # id -> bytes, for the uploaded ones

    def tag(self, suffix: str) -> str:
        return f"{self.home}-{suffix}"

    def ids(self, keep=lambda r: True) -> set[int]:
        return {i for i, r in self.records.items() if keep(r)}

    @property
    def stamps(self) -> list[int]:
        return sorted({r["created_timestamp"] for r in self.records.values()})


@pytest.fixture(scope="module")
def timeline(target):
    """A: created, B: uploaded; a second later C: uploaded, D: created. Deleted at the end of the module."""
    with httpx.Client(base_url=target.base_url, headers=target.auth_headers(), timeout=30) as client:
        home = target.unique("tl")
        data: dict[int, bytes] = {}
        ids: list[int] = []
        try:
            plan = [
                ("A", None, ["Red"]),
                ("B", image_bytes(5, 7, "PNG", (1, 2, 3)), ["red", "Blue"]),
                ("C", image_bytes(9, 4, "GIF", (200, 2, 3)), ["Sky"]),
                ("D", None, ["RED", "blue-sky"]),
            ]
            for letter, image, suffixes in plan:
                if letter == "C":
                    time.sleep(1.05)  # the server's clock moves on by at least one second
                tags = [home, *(f"{home}-{s}" for s in suffixes)]
                name = f"{home}-{letter}.png"
                if image is None:
                    image_id = create_record(client, name, tags)["id"]
                else:
                    image_id = upload_record(client, image, name, tags)["id"]
                    data[image_id] = image
                ids.append(image_id)
            records = {i: get_record(client, i) for i in ids}
            home_id = next(t["id"] for t in records[ids[0]]["tags"] if t["name"] == home)
            yield Timeline(home, home_id, records, data)
        finally:
            tag_ids = set()
            for image_id in ids:
                r = client.get(f"/images/{image_id}")
                if r.status_code == 200:  # cleanup only: whatever shape the record has
                    tag_ids |= {t.get("id") for t in r.json().get("tags", []) if isinstance(t, dict)}
                client.delete(f"/images/{image_id}")
            for tag_id in tag_ids:
                client.delete(f"/tags/{tag_id}")


# -- state machines ---------------------------------------------------------------------------------------
@dataclass
class Mine:
    id: int
    filename: str
    tags: list[str]  # names
    created: int
    upload_url: str
    data: bytes | None = None


class TaggedMachine(RuleBasedStateMachine):
    """Creates records (some uploaded, with mixed-case tags under a tag unique to the run) and keeps a
    model of them; subclasses add the rules they check. ``full`` makes the creation rules check TIM-01..03
    in detail (the other machines only need the records)."""

    full = False

    def __init__(self, target, http, raw):
        super().__init__()
        self.target, self.http, self.raw = target, http, raw
        self.home = target.unique("sm")
        self.images: dict[int, Mine] = {}
        self.tags: dict[str, int] = {}  # name -> id: every live tag of this run

    def name_of(self, word: str) -> str:
        return f"{self.home}-{word}"

    def pick(self, n: int) -> Mine:
        return self.images[sorted(self.images)[n % len(self.images)]]

    def learn_tags(self, record: dict, names: list[str]) -> None:
        """TIM-08: tags named at creation are created if new, reused (same id) if they exist."""
        got = {t["name"]: t["id"] for t in record["tags"]}
        assert sorted(got) == sorted(names) and len(record["tags"]) == len(names), (
            f"record {record['id']}: expected tags {sorted(names)}, got {record['tags']} (TIM-08)"
        )
        for name, tag_id in got.items():
            if name in self.tags:
                assert tag_id == self.tags[name], (
                    f"tag {name!r} exists with id {self.tags[name]}; a new record got it as id {tag_id} "
                    f"(TIM-08: existing tags are reused)"
                )
            else:
                others = {v: k for k, v in self.tags.items()}
                assert tag_id not in others, (
                    f"new tag {name!r} got id {tag_id}, the id of tag {others.get(tag_id)!r} (TIM-08)"
                )
                self.tags[name] = tag_id

    def add(self, words, size=None, image=None) -> Mine:
        names = [self.home, *(self.name_of(w) for w in words)]
        filename = self.target.unique("f") + ".img"
        if image is None:
            created = create_record(self.http, filename, names, size)
        else:
            created = upload_record(self.http, image[0], filename, names)
        assert created["id"] not in self.images, f"id {created['id']} was given to an earlier record"
        record = get_record(self.http, created["id"])
        self.learn_tags(record, names)
        mine = Mine(record["id"], filename, names, record["created_timestamp"], created.get("upload_url"))
        self.images[mine.id] = mine
        if self.full:
            assert record["filename"] == filename, f"filename {record['filename']!r}, sent {filename!r}"
            if image is None:  # TIM-01
                assert record["uploaded_timestamp"] is None and record["url"] is None, (
                    f"record {mine.id} before any upload: expected uploaded_timestamp and url null, got "
                    f"{record['uploaded_timestamp']!r} and {record['url']!r} (TIM-01)"
                )
        if image is not None:
            mine.data = image[0]
            if self.full:  # TIM-03
                assert record["size"] == len(image[0]), (
                    f"POST /upload of {len(image[0])} bytes: record size {record['size']} (TIM-03)"
                )
                check_uploaded(self.raw, record, image[0], "TIM-03")
        return mine

    @precondition(lambda self: any(m.data is None for m in self.images.values()))
    @rule(n=st.integers(0, 100), image=images(max_side=24))
    def put(self, n, image):
        """TIM-02: a PUT of the bytes to upload_url uploads the file."""
        waiting = [m for m in self.images.values() if m.data is None]
        mine = waiting[n % len(waiting)]
        data, mime = image
        r = put_file(self.raw, mine.upload_url, data, mime)
        assert 200 <= r.status_code < 300, (
            f"PUT of {len(data)} bytes to upload_url: expected 2xx, got {r.status_code}: {r.text[:200]}"
        )
        mine.data = data
        if self.full:
            check_uploaded(self.raw, get_record(self.http, mine.id), data, "TIM-02")

    def teardown(self):
        for image_id in list(self.images):
            self.http.delete(f"/images/{image_id}")
        for tag_id in self.tags.values():
            self.http.delete(f"/tags/{tag_id}")

    # -- what the model expects of a listing -----------------------------------------------------------
    def expected(self, keep, start=None, end=None, uploaded_only=False) -> set[int]:
        return {
            m.id
            for m in self.images.values()
            if keep(m)
            and (start is None or m.created >= start)
            and (end is None or m.created <= end)
            and (not uploaded_only or m.data is not None)
        }

    def stamp(self, n):
        stamps = sorted({m.created for m in self.images.values()})
        return None if n is None or not stamps else stamps[n % len(stamps)]

    def compare(self, path, params, limit, expected: set[int], rule_id: str) -> None:
        records = walk(self.http, path, params, limit, max_pages=len(expected) // limit + 3)
        what = f"GET {path} {params}"
        got = [r["id"] for r in records]
        assert set(got) == expected and len(got) == len(expected), (
            f"{what}: expected the records {sorted(expected)}, got {got} ({rule_id})"
        )
        for r in records:
            assert r["created_timestamp"] == self.images[r["id"]].created, f"{what}: {r['id']} changed"
        check_newest_first(records, f"{what} ({rule_id})")


FILTERS = {
    "limit": st.sampled_from([1, 2, 3, 100]),
    "start": st.none() | st.integers(0, 50),
    "end": st.none() | st.integers(0, 50),
    "uploaded_only": st.booleans(),
}


ENTRY = st.tuples(st.lists(st.sampled_from(WORDS), max_size=3, unique=True), st.booleans())


class QueryMachine(TaggedMachine):
    """For the listing machines: records come in batches (a few at the start, one or two per step, some
    uploaded), so most steps go to the queries and their deletes."""

    def add_batch(self, batch):
        for words, uploaded in batch:
            image = (image_bytes(3 + len(self.images), 3), MIME["PNG"]) if uploaded else None
            self.add(words, image=image)

    @initialize(batch=st.lists(ENTRY, min_size=2, max_size=5))
    def start(self, batch):
        self.add_batch(batch)

    @rule(batch=st.lists(ENTRY, min_size=1, max_size=2))
    def grow(self, batch):
        self.add_batch(batch)

    @precondition(lambda self: self.images)
    @rule(n=st.integers(0, 100))
    def delete_record(self, n):
        mine = self.pick(n)
        expect(self.http.delete(f"/images/{mine.id}"), 204, f"DELETE /images/{mine.id}")
        del self.images[mine.id]


def filter_params(start, end, uploaded_only) -> dict:
    params: dict = {}
    if start is not None:
        params["start_timestamp"] = start
    if end is not None:
        params["end_timestamp"] = end
    if uploaded_only:
        params["uploaded_only"] = "true"
    return params


class RecordsMachine(TaggedMachine):
    """TIM-01/02/03/06/07: create, upload, PUT, get and delete records."""

    full = True

    @rule(
        words=st.lists(st.sampled_from(WORDS), max_size=3, unique=True),
        size=st.none() | st.integers(0, 10**6),
    )
    def create(self, words, size):
        self.add(words, size=size)

    @rule(words=st.lists(st.sampled_from(WORDS), max_size=2, unique=True), image=images(max_side=24))
    def upload(self, words, image):
        self.add(words, image=image)

    @precondition(lambda self: self.images)
    @rule(n=st.integers(0, 100))
    def get(self, n):
        mine = self.pick(n)
        record = get_record(self.http, mine.id)
        assert record["filename"] == mine.filename, f"filename {record['filename']!r}, sent {mine.filename!r}"
        assert sorted(t["name"] for t in record["tags"]) == sorted(mine.tags), (
            f"record {mine.id}: tags {record['tags']}, expected {sorted(mine.tags)} (TIM-06)"
        )
        if mine.data is None:
            assert record["uploaded_timestamp"] is None and record["url"] is None, (
                f"record {mine.id} without its file: uploaded_timestamp {record['uploaded_timestamp']!r}, "
                f"url {record['url']!r}, expected both null (TIM-01)"
            )
        else:
            check_uploaded(self.raw, record, mine.data, "TIM-02")

    @precondition(lambda self: self.images)
    @rule(n=st.integers(0, 100))
    def delete(self, n):
        """TIM-07: 204, then gone from get, the listing, its tags' listings and search."""
        mine = self.pick(n)
        expect(self.http.delete(f"/images/{mine.id}"), 204, f"DELETE /images/{mine.id}")
        del self.images[mine.id]
        expect(self.http.get(f"/images/{mine.id}"), 404, f"GET /images/{mine.id} after its delete (TIM-07)")
        for path, params in (
            (f"/tags/{self.tags[self.home]}/images", {}),
            ("/search/images", {"exact_tags": "|".join(mine.tags)}),
            ("/search/images", {"match_tags": self.home.upper()}),
            ("/images", {"start_timestamp": mine.created, "end_timestamp": mine.created}),
        ):
            listed = [r["id"] for r in walk(self.http, path, params, 100, max_pages=20)]
            assert mine.id not in listed, (
                f"GET {path} {params} still lists the deleted record {mine.id} (TIM-07)"
            )

    @invariant()
    def unknown_id_is_404(self):
        if len(self.images) % 5 == 2:
            expect(self.http.get(f"/images/{MISSING_ID}"), 404, f"GET /images/{MISSING_ID} (TIM-06)")


class TagsMachine(QueryMachine):
    """TIM-08..11: tags named at creation, POST /tags, DELETE /tags/{id}, GET /tags/{id}/images."""

    @rule(word=st.sampled_from(WORDS))
    def create_tag(self, word):
        """TIM-09: 201 with the tag's id; a name that exists gets a 4xx."""
        name = self.name_of(word)
        r = self.http.post("/tags", json={"name": name})
        if name in self.tags:
            expect_4xx(r, f"POST /tags with the existing name {name!r} (TIM-09)")
            return
        body = expect(r, 201, f"POST /tags {name!r} (TIM-09)").json()
        assert is_int(body.get("id")), f"POST /tags: expected an integer id, got {body!r} (TIM-09)"
        assert body["id"] not in self.tags.values(), f"POST /tags: id {body['id']} is another tag's (TIM-09)"
        self.tags[name] = body["id"]

    @precondition(lambda self: len(self.tags) > 1)
    @rule(n=st.integers(0, 100))
    def delete_tag(self, n):
        """TIM-11: 204; the images stay and no longer carry the tag."""
        names = sorted(name for name in self.tags if name != self.home)
        name = names[n % len(names)]
        tag_id = self.tags.pop(name)
        expect(self.http.delete(f"/tags/{tag_id}"), 204, f"DELETE /tags/{tag_id} (TIM-11)")
        for mine in self.images.values():
            if name in mine.tags:
                mine.tags.remove(name)
                record = expect(
                    self.http.get(f"/images/{mine.id}"),
                    200,
                    f"GET /images/{mine.id} after deleting its tag (TIM-11)",
                ).json()
                carried = [t["name"] for t in record["tags"]]
                assert sorted(carried) == sorted(mine.tags), (
                    f"record {mine.id} after DELETE /tags/{tag_id} ({name!r}): tags {carried}, "
                    f"expected {sorted(mine.tags)} (TIM-11)"
                )

    @precondition(lambda self: self.tags)
    @rule(n=st.integers(0, 100), **FILTERS)
    def browse_tag(self, n, limit, start, end, uploaded_only):
        """TIM-10: GET /tags/{id}/images pages exactly the images carrying the tag, newest first."""
        name = sorted(self.tags)[n % len(self.tags)]
        start, end = self.stamp(start), self.stamp(end)
        expected = self.expected(lambda m: name in m.tags, start, end, uploaded_only)
        params = filter_params(start, end, uploaded_only)
        self.compare(f"/tags/{self.tags[name]}/images", params, limit, expected, "TIM-10")


@st.composite
def patterns(draw):
    """A match_tags pattern for one of WORDS: the case changed, parts replaced by %; it keeps the run's
    unique part literally (the caller prefixes it), so only this run's tags can match."""
    word = draw(st.sampled_from(WORDS))
    word = draw(st.sampled_from([str, str.upper, str.lower, str.swapcase]))(word)
    if draw(st.booleans()):
        i = draw(st.integers(0, len(word)))
        j = draw(st.integers(i, len(word)))
        word = word[:i] + "%" + word[j:]
    return word


class SearchMachine(QueryMachine):
    """TIM-12: exact_tags (case-sensitive, all present) and match_tags (any case, % wildcard, each
    pattern matching some tag), with the date range, uploaded_only and paging."""

    @rule(
        words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=2, unique=True),
        case=st.sampled_from([str, str.swapcase]),
        home=st.booleans(),
        **FILTERS,
    )
    def search_exact(self, words, case, home, limit, start, end, uploaded_only):
        names = [self.name_of(case(w)) for w in words] + ([self.home] if home else [])
        start, end = self.stamp(start), self.stamp(end)
        expected = self.expected(lambda m: all(n in m.tags for n in names), start, end, uploaded_only)
        params = {"exact_tags": "|".join(names), **filter_params(start, end, uploaded_only)}
        self.compare("/search/images", params, limit, expected, "TIM-12")

    @rule(
        found=st.lists(patterns(), min_size=1, max_size=2),
        prefix=st.sampled_from(["home", "upper", "wild"]),
        **FILTERS,
    )
    def search_match(self, found, prefix, limit, start, end, uploaded_only):
        unique = self.home.rsplit("-", 1)[1]
        lead = {"home": self.home, "upper": self.home.upper(), "wild": "%" + unique}[prefix]
        wanted = [f"{lead}-{p}" for p in found]
        start, end = self.stamp(start), self.stamp(end)
        expected = self.expected(
            lambda m: all(any(like(p, t) for t in m.tags) for p in wanted), start, end, uploaded_only
        )
        params = {"match_tags": "|".join(wanted), **filter_params(start, end, uploaded_only)}
        self.compare("/search/images", params, limit, expected, "TIM-12")


def run_machine(machine, target, http, raw, settings):
    run_state_machine_as_test(lambda: machine(target, http, raw), settings=settings)


@pytest.mark.writes
@pytest.mark.rule("TIM-01", "TIM-02", "TIM-03", "TIM-06", "TIM-07")
def test_tim_records_state_machine(target, http, raw, hypothesis_settings):
    run_machine(RecordsMachine, target, http, raw, hypothesis_settings)


@pytest.mark.writes
@pytest.mark.rule("TIM-08", "TIM-09", "TIM-10", "TIM-11")
def test_tim_tags_state_machine(target, http, raw, hypothesis_settings):
    run_machine(TagsMachine, target, http, raw, hypothesis_settings)


@pytest.mark.writes
@pytest.mark.rule("TIM-12")
def test_tim_search_state_machine(target, http, raw, hypothesis_settings):
    run_machine(SearchMachine, target, http, raw, hypothesis_settings)


# -- targeted checks --------------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("TIM-01", "TIM-02")
def test_tim01_02_create_then_put(target, http, raw, cleanup):
    name = target.unique("put") + ".png"
    created = create_record(http, name, [])
    cleanup.images.append(created["id"])
    record = get_record(http, created["id"])
    assert record["filename"] == name, f"filename {record['filename']!r}, sent {name!r}"
    assert record["uploaded_timestamp"] is None and record["url"] is None, (
        f"before the upload: expected uploaded_timestamp and url null, got {record['uploaded_timestamp']!r} "
        f"and {record['url']!r} (TIM-01)"
    )
    data = image_bytes(21, 13, "JPEG", (10, 200, 30))
    r = put_file(raw, created["upload_url"], data, MIME["JPEG"])
    assert 200 <= r.status_code < 300, f"PUT to upload_url: expected 2xx, got {r.status_code}: {r.text[:200]}"
    check_uploaded(raw, get_record(http, created["id"]), data, "TIM-02")


@pytest.mark.writes
@pytest.mark.rule("TIM-02")
def test_tim02_upload_url_is_signed(target, http, raw, cleanup):
    """SHOULD: upload_url is signed (a forged signature is refused) and expires."""
    created = create_record(http, target.unique("sig") + ".png", [])
    cleanup.images.append(created["id"])
    url = created["upload_url"]
    bad = forged(url)
    should(target, bad is not None, f"upload_url carries no signature query parameter: {url}")
    r = put_file(raw, bad, image_bytes(), MIME["PNG"])
    should(
        target,
        400 <= r.status_code < 500,
        f"PUT with a forged signature: expected a 4xx, got {r.status_code}",
    )
    record = get_record(http, created["id"])
    should(target, record["uploaded_timestamp"] is None, "a PUT with a forged signature uploaded the file")
    names = {k.lower() for k, _ in parse_qsl(urlsplit(url).query)}
    should(target, any("expire" in k for k in names), f"upload_url names no expiry: {url}")


@pytest.mark.writes
@pytest.mark.rule("TIM-03")
def test_tim03_upload_in_one_shot(target, http, raw, cleanup):
    data = image_bytes(33, 17, "GIF", (90, 30, 140))
    created = upload_record(http, data, target.unique("up") + ".gif", [])
    cleanup.images.append(created["id"])
    record = get_record(http, created["id"])
    assert record["size"] == len(data), f"size {record['size']}, expected the decoded length {len(data)}"
    check_uploaded(raw, record, data, "TIM-03")


@pytest.mark.writes
@pytest.mark.rule("TIM-03", "TIM-13")
def test_tim03_bad_base64_is_400(target, http):
    name = target.unique("b64") + ".png"
    r = http.post("/upload", json={"filename": name, "image_data": "not*base64!", "tags": []})
    expect(r, 400, "POST /upload with image_data that is not base64")
    problem = error_body_problem(r)
    assert problem is None, problem


@pytest.mark.writes
@pytest.mark.rule("TIM-03")
def test_tim03_payload_over_3_96_mb_is_refused(target, http, cleanup):
    data = noise_png(PAYLOAD_LIMIT * 3 // 4 + 10_000)  # a valid image whose base64 exceeds the limit
    body = {"filename": target.unique("big") + ".png", "image_data": b64(data), "tags": []}
    r = http.post("/upload", json=body)
    if r.status_code == 201:
        cleanup.images.append(r.json().get("id"))
    expect_4xx(r, f"POST /upload of a {len(r.request.content)}-byte payload (over 3.96 MB)")
    should(target, r.status_code == 413, f"an oversized payload: expected 413, got {r.status_code}")


@pytest.mark.writes
@pytest.mark.rule("TIM-04")
def test_tim04_listing_is_newest_first_and_paged(http, timeline):
    mine = timeline.ids()
    records = walk(http, "/images", {}, 2, max_pages=40, until=lambda rs: mine <= {r["id"] for r in rs})
    got = [r["id"] for r in records]
    assert mine <= set(got), f"GET /images did not list the records {sorted(mine - set(got))} (TIM-04)"
    check_newest_first(records, "GET /images (TIM-04)")
    first = expect(http.get("/images", params={"page": 0, "limit": 100}), 200, "GET /images").json()
    total = first["meta"]["total_results"]
    past = total // 3 + 2
    r = expect(
        http.get("/images", params={"page": past, "limit": 3}), 200, f"GET /images page={past} (past the end)"
    )
    assert r.json()["results"] == [], f"page {past} at limit 3 of {total} records: expected no results"
    assert r.json()["meta"]["current_page"] == past, f"meta of page {past}: {r.json()['meta']}"
    for limit in {total, total - 1} & set(range(1, 101)):  # the last page is exactly full, or one over
        r = expect(http.get("/images", params={"limit": limit}), 200, f"GET /images?limit={limit}")
        check_meta(r.json()["meta"], 0, limit, len(r.json()["results"]), f"GET /images?limit={limit}")
    r = http.get("/images", params={"limit": 101})
    if r.status_code == 200:
        assert len(r.json()["results"]) <= 100, "limit=101: more than 100 records on one page (TIM-04)"
    else:
        expect_4xx(r, "GET /images?limit=101 (limit at most 100)")


@pytest.mark.rule("TIM-04")
def test_tim04_listing_invariants_read_only(http):
    """Whatever the server holds: meta, order, no record on two consecutive pages."""
    walk(http, "/images", {}, 7, max_pages=3)
    records = walk(http, "/images", {}, 100, max_pages=2)
    check_newest_first(records, "GET /images (TIM-04)")


@pytest.mark.writes
@pytest.mark.rule("TIM-05")
def test_tim05_date_range_and_uploaded_only(http, timeline):
    def listed(**params):
        return walk(http, "/images", params, 100, max_pages=30)

    for t in timeline.stamps:
        records = listed(start_timestamp=t, end_timestamp=t)
        wrong = [(r["id"], r["created_timestamp"]) for r in records if r["created_timestamp"] != t]
        assert not wrong, f"GET /images [{t}, {t}] listed records created at other times: {wrong} (TIM-05)"
        got, want = {r["id"] for r in records}, timeline.ids(lambda r, t=t: r["created_timestamp"] == t)
        assert want <= got, f"GET /images [{t}, {t}] (inclusive) misses {sorted(want - got)} (TIM-05)"
    old, new = timeline.stamps[0], timeline.stamps[-1]
    records = listed(start_timestamp=new)
    assert all(r["created_timestamp"] >= new for r in records), f"start_timestamp={new}: older records listed"
    got = {r["id"] for r in records}
    assert timeline.ids(lambda r: r["created_timestamp"] >= new) <= got, f"start_timestamp={new}: misses mine"
    assert not got & timeline.ids(lambda r: r["created_timestamp"] < new), (
        f"start_timestamp={new}: older mine"
    )
    page = expect(http.get("/images", params={"end_timestamp": old, "limit": 100}), 200, "GET /images").json()
    assert all(r["created_timestamp"] <= old for r in page["results"]), f"end_timestamp={old}: newer records"
    got = {r["id"] for r in page["results"]}
    assert timeline.ids(lambda r: r["created_timestamp"] == old) <= got, f"end_timestamp={old}: misses mine"
    records = listed(start_timestamp=old, uploaded_only="true")
    pending = [r["id"] for r in records if r["uploaded_timestamp"] is None or r["url"] is None]
    assert not pending, f"uploaded_only=true listed records without their file: {pending} (TIM-05)"
    got = {r["id"] for r in records}
    assert set(timeline.data) <= got, f"uploaded_only=true misses {sorted(set(timeline.data) - got)}"
    assert not got & (timeline.ids() - set(timeline.data)), "uploaded_only=true listed my unuploaded records"


@pytest.mark.rule("TIM-06", "TIM-13")
def test_tim06_unknown_id_is_404(http):
    r = expect(http.get(f"/images/{MISSING_ID}"), 404, f"GET /images/{MISSING_ID} (an unknown id)")
    problem = error_body_problem(r)
    assert problem is None, problem


@pytest.mark.writes
@pytest.mark.rule("TIM-06")
def test_tim06_record_shape(http, timeline):
    for image_id, record in timeline.records.items():
        again = get_record(http, image_id)
        assert again["created_timestamp"] == record["created_timestamp"], f"{image_id}: created changed"
        assert {t["name"] for t in again["tags"]} == {t["name"] for t in record["tags"]}
        assert timeline.home_id in {t["id"] for t in again["tags"]}, f"{image_id}: tags {again['tags']}"


@pytest.mark.writes
@pytest.mark.rule("TIM-07")
def test_tim07_deleted_record_is_gone_everywhere(target, http, raw, cleanup):
    home = target.unique("del")
    tags = [home, f"{home}-Gone"]
    data = image_bytes(11, 12, "PNG", (4, 5, 6))
    keep = upload_record(http, data, home + "-keep.png", tags)["id"]
    gone = upload_record(http, data, home + "-gone.png", tags)["id"]
    cleanup.images += [keep, gone]
    record = get_record(http, gone)
    cleanup.tags += [t["id"] for t in record["tags"]]
    expect(http.delete(f"/images/{gone}"), 204, f"DELETE /images/{gone}")
    expect(http.get(f"/images/{gone}"), 404, f"GET /images/{gone} after its delete")
    stamp = record["created_timestamp"]
    for path, params in [
        *((f"/tags/{t['id']}/images", {}) for t in record["tags"]),
        ("/search/images", {"exact_tags": "|".join(tags)}),
        ("/search/images", {"match_tags": f"{home.upper()}-%"}),
        ("/images", {"start_timestamp": stamp, "end_timestamp": stamp}),
    ]:
        listed = [r["id"] for r in walk(http, path, params, 100, max_pages=30)]
        assert gone not in listed, f"GET {path} {params} still lists the deleted record {gone} (TIM-07)"
        assert keep in listed, f"GET {path} {params} lost the record {keep}, which was not deleted"
    expect_4xx(http.delete(f"/images/{gone}"), f"a second DELETE /images/{gone}")


def all_tags(http) -> list[dict]:
    return walk(http, "/tags", {}, 100, max_pages=200)


def check_alphabetical(tags: list[dict]) -> None:
    names = [t["name"] for t in tags]
    assert names == sorted(names) or names == sorted(names, key=str.casefold), (
        f"GET /tags is not in alphabetical order: {names[:12]}... (TIM-08)"
    )


@pytest.mark.writes
@pytest.mark.rule("TIM-08")
def test_tim08_tags_created_reused_and_listed_alphabetically(target, http, cleanup):
    base = target.unique("t8")
    made = expect(http.post("/tags", json={"name": f"{base}-b"}), 201, "POST /tags").json()
    cleanup.tags.append(made["id"])
    first = create_record(http, base + ".png", [f"{base}-c", f"{base}-b", f"{base}-A"])["id"]
    second = create_record(http, base + ".png", [f"{base}-A", f"{base}-c"])["id"]
    cleanup.images += [first, second]
    tags1 = {t["name"]: t["id"] for t in get_record(http, first)["tags"]}
    tags2 = {t["name"]: t["id"] for t in get_record(http, second)["tags"]}
    cleanup.tags += [i for n, i in tags1.items() if n != f"{base}-b"]
    assert set(tags1) == {f"{base}-c", f"{base}-b", f"{base}-A"}, f"first record's tags: {tags1}"
    assert tags1[f"{base}-b"] == made["id"], (
        f"the existing tag {base}-b (id {made['id']}) was not reused: the record has id {tags1[f'{base}-b']}"
    )
    assert len(set(tags1.values())) == 3, f"distinct new tags share ids: {tags1}"
    for name in (f"{base}-A", f"{base}-c"):
        assert tags2.get(name) == tags1[name], (
            f"tag {name!r} was created as id {tags1[name]}; the second record has {tags2.get(name)!r}"
        )
    tags = all_tags(http)
    check_alphabetical(tags)
    mine = [(t["name"], t["id"]) for t in tags if t["name"].startswith(base)]
    expected = sorted(tags1.items())
    expected_ci = sorted(tags1.items(), key=lambda kv: kv[0].casefold())
    assert mine in (expected, expected_ci), f"GET /tags lists my tags as {mine}, expected {expected} (TIM-08)"
    walk(http, "/tags", {}, 2, max_pages=3)  # paged like the images


@pytest.mark.rule("TIM-08")
def test_tim08_tag_listing_read_only(http):
    tags = walk(http, "/tags", {}, 100, max_pages=5)
    check_alphabetical(tags)


@pytest.mark.writes
@pytest.mark.rule("TIM-09", "TIM-13")
def test_tim09_create_tag_and_duplicate(target, http, cleanup):
    name = target.unique("t9")
    body = expect(http.post("/tags", json={"name": name}), 201, "POST /tags").json()
    assert is_int(body.get("id")), f"POST /tags: expected an integer id, got {body!r}"
    cleanup.tags.append(body["id"])
    page = expect(http.get(f"/tags/{body['id']}/images"), 200, f"GET /tags/{body['id']}/images").json()
    assert page["results"] == [], f"a new tag already carries images: {page['results']}"
    r = http.post("/tags", json={"name": name})
    if r.status_code < 300:
        cleanup.tags.append(r.json().get("id"))
    expect_4xx(r, f"POST /tags with the existing name {name!r}")
    problem = error_body_problem(r)
    assert problem is None, problem
    should(target, r.status_code == 409, f"a duplicate tag name: expected 409, got {r.status_code}")


@pytest.mark.writes
@pytest.mark.rule("TIM-10")
def test_tim10_tag_images_newest_first(http, timeline):
    records = walk(http, f"/tags/{timeline.home_id}/images", {}, 1, max_pages=10)
    got = [r["id"] for r in records]
    assert sorted(got) == sorted(timeline.ids()), (
        f"the tag's images: expected {sorted(timeline.ids())}, got {got}"
    )
    check_newest_first(records, f"GET /tags/{timeline.home_id}/images (TIM-10)")
    red = next(
        t["id"] for r in timeline.records.values() for t in r["tags"] if t["name"] == timeline.tag("red")
    )
    got = [r["id"] for r in walk(http, f"/tags/{red}/images", {"uploaded_only": "true"}, 5, max_pages=3)]
    want = timeline.ids(lambda r: r["id"] in timeline.data and any(t["id"] == red for t in r["tags"]))
    assert sorted(got) == sorted(want), f"GET /tags/{red}/images: expected {sorted(want)}, got {got}"


@pytest.mark.rule("TIM-10")
def test_tim10_unknown_tag_is_404(target, http):
    r = http.get(f"/tags/{MISSING_ID}/images")
    should(target, r.status_code == 404, f"GET /tags/{MISSING_ID}/images: expected 404, got {r.status_code}")


@pytest.mark.writes
@pytest.mark.rule("TIM-11")
def test_tim11_deleting_a_tag_keeps_its_images(target, http, cleanup):
    base = target.unique("t11")
    ids = [create_record(http, f"{base}-{i}.png", [base, f"{base}-x"])["id"] for i in range(2)]
    cleanup.images += ids
    tags = {t["name"]: t["id"] for t in get_record(http, ids[0])["tags"]}
    cleanup.tags.append(tags[base])
    expect(http.delete(f"/tags/{tags[f'{base}-x']}"), 204, f"DELETE /tags/{tags[f'{base}-x']}")
    for image_id in ids:
        r = http.get(f"/images/{image_id}")
        assert r.status_code == 200, f"deleting a tag deleted its image {image_id}: GET got {r.status_code}"
        carried = [t["name"] for t in r.json()["tags"]]
        assert carried == [base], f"record {image_id} after its tag {base}-x was deleted carries {carried}"
    listed = [r["id"] for r in walk(http, f"/tags/{tags[base]}/images", {}, 100)]
    assert sorted(listed) == sorted(ids), f"the images are gone from their other tag's listing: {listed}"
    names = [t["name"] for t in all_tags(http)]
    assert f"{base}-x" not in names, f"GET /tags still lists the deleted tag {base}-x"


@pytest.mark.writes
@pytest.mark.rule("TIM-12")
def test_tim12_search_semantics(http, timeline):
    tl = timeline

    def search(expected, **params):
        records = walk(http, "/search/images", params, 2, max_pages=6)
        got = sorted(r["id"] for r in records)
        want = sorted(tl.ids(expected))
        assert got == want, f"GET /search/images {params}: expected {want}, got {got} (TIM-12)"
        check_newest_first(records, f"GET /search/images {params} (TIM-12)")

    def carries(*names):
        return lambda r: all(n in {t["name"] for t in r["tags"]} for n in names)

    def matches(*patterns):
        return lambda r: all(any(like(p, t["name"]) for t in r["tags"]) for p in patterns)

    search(carries(tl.tag("red")), exact_tags=tl.tag("red"))  # case-sensitive
    search(carries(tl.home, tl.tag("Red")), exact_tags=f"{tl.home}|{tl.tag('Red')}")
    search(lambda r: False, exact_tags=f"{tl.tag('red')}|{tl.tag('Sky')}")  # all must be present
    search(lambda r: False, exact_tags=tl.tag("SKY"))
    search(matches(tl.tag("RED")), match_tags=tl.tag("RED").upper())  # any case
    unique = "%" + tl.home.rsplit("-", 1)[1]
    search(matches(f"{unique}-%SKY"), match_tags=f"{unique}-%SKY")
    search(matches(tl.tag("red"), f"{tl.home}-b%"), match_tags=f"{tl.tag('red')}|{tl.home}-b%")
    new = tl.stamps[-1]
    search(
        lambda r: r["created_timestamp"] == new, exact_tags=tl.home, start_timestamp=new, end_timestamp=new
    )
    search(lambda r: r["id"] in tl.data, exact_tags=tl.home, uploaded_only="true")
    search(lambda r: r["id"] in tl.data, match_tags=tl.home.upper(), uploaded_only="true")


@pytest.mark.rule("TIM-12")
def test_tim12_one_of_exact_and_match_is_required(target, http):
    neither = http.get("/search/images")
    both = http.get("/search/images", params={"exact_tags": "a", "match_tags": "a"})
    should(
        target, neither.status_code == 400, f"search with neither: expected 400, got {neither.status_code}"
    )
    should(target, both.status_code == 400, f"search with both: expected 400, got {both.status_code}")


@pytest.mark.rule("TIM-13")
def test_tim13_error_bodies(http):
    responses = [
        http.get(f"/images/{MISSING_ID}"),
        http.get("/images", params={"limit": 0}),
        http.get("/images", params={"page": -1}),
        http.get("/images", params={"limit": "many"}),
        http.get(f"/tags/{MISSING_ID}/images"),
        http.get("/search/images"),
    ]
    errors = [r for r in responses if 400 <= r.status_code < 500]
    assert errors, "none of the malformed requests got a 4xx"
    problems = [p for p in map(error_body_problem, errors) if p]
    assert not problems, "; ".join(problems)


@pytest.mark.writes
@pytest.mark.rule("ALL-04")
def test_all04_parallel_creates_lose_nothing(target, http, raw, cleanup):
    shared = target.unique("par")
    payloads = [image_bytes(6 + i, 5, "PNG", (i * 11 % 256, 60, 9)) for i in range(20)]
    tags = [[shared, f"{shared}-{i}"] for i in range(20)]

    def create(i):
        if i % 2:
            return upload_record(http, payloads[i], f"{shared}-{i}.png", tags[i])
        created = create_record(http, f"{shared}-{i}.png", tags[i])
        r = put_file(raw, created["upload_url"], payloads[i], MIME["PNG"])
        assert 200 <= r.status_code < 300, f"parallel PUT to upload_url: {r.status_code} {r.text[:200]}"
        return created

    with ThreadPoolExecutor(max_workers=10) as pool:
        created = list(pool.map(create, range(20)))
    ids = [c["id"] for c in created]
    cleanup.images += ids
    records = [get_record(http, i) for i in ids]
    tag_ids = {t["name"]: t["id"] for r in records for t in r["tags"]}
    cleanup.tags += list(tag_ids.values())
    assert len(set(ids)) == 20, f"20 parallel creates got {len(set(ids))} distinct ids"
    shared_ids = {t["id"] for r in records for t in r["tags"] if t["name"] == shared}
    assert len(shared_ids) == 1, f"the tag {shared!r} named by 20 parallel creates got ids {shared_ids}"
    listed = walk(http, f"/tags/{shared_ids.pop()}/images", {}, 100)
    assert sorted(r["id"] for r in listed) == sorted(ids), (
        f"the shared tag lists {len(listed)} of the 20 parallel creates"
    )
    for i, record in enumerate(records):
        assert record["filename"] == f"{shared}-{i}.png", f"records mixed up: {record['filename']}"
        check_uploaded(raw, record, payloads[i], "ALL-04")
