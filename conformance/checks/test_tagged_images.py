"""tagged-images behaviour (TIM-01..13, ALL-04, ALL-05). The server may hold other records and tags: every
record a check creates carries a tag unique to it (``target.unique``), so exact comparisons page only those
records (GET /search/images with both exact_tags and match_tags, as the seed requires); on GET /images,
which lists everything, the checks hold invariants true whatever else is stored. Checks delete every record
and tag they create.

Levels (BEHAVIOURS.md): a MUST finding rests on the seed alone (``check``, a plain ``assert``);
what the project decided where the seed is silent (statuses it never names, error bodies of operations
whose seed lists none, one search filter alone, the paging parameters of a tag's image listing...) is a
``should`` naming the decision. A setup step owned by another rule goes through ``needs`` (or raises
``NotExercised``): a server that refuses it is reported on that rule, not on the one under test.

Setups send the seed's fullest example request (``filename``, ``size`` and ``tags`` for POST /images;
``filename``, ``image_data`` and ``tags`` for POST /upload) with images of a few KB, and accept any 2xx
where the rule under test is not about the status. No check assumes that two requests land in one clock
second: date ranges are built from the ``created_timestamp`` values the server returned."""

from __future__ import annotations

import base64
import io
import random
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pytest
from hypothesis import Phase, settings
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

from conformance.media import MIME, images
from conformance.verdicts import NotExercised, accepted, check, gist, judged, needs, refused, should

pytestmark = pytest.mark.api("tagged-images")

MISSING_ID = 2147483647  # an integer id no check creates (the seed's ids are integers)
# "Entire payload must not exceed 3.96 MB": the unit has two readings, 3.96 * 10^6 bytes (ours) and
# 3.96 MiB. Beyond both, a server must refuse (MUST); between them, only our reading refuses (SHOULD).
PAYLOAD_LIMIT = 3_960_000
PAYLOAD_LIMIT_MIB = int(3.96 * 2**20)  # 4,152,360 bytes
WORDS = ("Red", "red", "RED", "Blue", "blue", "sky", "Sky-Blue", "SEA-red")  # tag suffixes, mixed case
WORKERS = 4  # independent requests of one check are sent this many at a time


# -- decisions the SHOULD parts read (the specs' x-decision notes) -------------------------------------------
UNKNOWN_ID_404 = "x-decision: an unknown image or tag id gets 404 (the seed lists only 200/204)"
ERROR_BODY = "x-decision: every error of the API is {code, message} (the seed shows it only as POST default)"
DUPLICATE_TAG_409 = "x-decision: creating a tag whose name exists gets 409"
ONE_FILTER = "x-decision: exact_tags or match_tags alone is accepted (the seed requires both)"
NEITHER_400 = "x-decision: a search with neither exact_tags nor match_tags gets 400"
OVERSIZE_413 = "x-decision: a body over 3.96 MB gets 413"
MB_AS_SI = "x-decision: 3.96 MB is 3,960,000 bytes (SI); the seed's other reading is 3.96 MiB (4,152,360 B)"
BAD_BASE64_400 = "x-decision: image_data that is not base64 gets 400"
SIGNED_URL = "x-decision: upload_url is signed (HMAC) and expires"
TAG_PAGING = "x-decision: GET /tags/{id}/images takes page, limit and the listing's filters (the seed: none)"
PAST_END_200 = "x-decision: a page past the last one gets 200 with empty results"


# -- helpers ---------------------------------------------------------------------------------------------
def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def sent(response) -> str:
    """The request a response answers, as "METHOD path?query": messages name exactly what was sent."""
    request = response.request
    query = f"?{request.url.query.decode()}" if request.url.query else ""
    return f"{request.method} {request.url.path}{query}"


def got(response) -> str:
    return f"{response.status_code}: {gist(response, 200)}"


def body_of(response):
    try:
        return response.json()
    except ValueError:
        return None


def error_body_problem(response) -> str | None:
    """TIM-13: an error body is a JSON object {code: integer, message: string}; None when it is."""
    body = body_of(response)
    if not (isinstance(body, dict) and is_int(body.get("code")) and isinstance(body.get("message"), str)):
        text = response.text[:200]
        return f"{sent(response)}: the {response.status_code} body is not {{code, message}}: {text!r}"
    return None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def photo(n: int, fmt: str = "PNG", side: int = 40) -> bytes:
    """A decodable image of a few KB, as real clients send (noise compresses badly): distinct per ``n``."""
    rng = random.Random(n * 7919 + len(fmt))
    pixels = bytes(rng.getrandbits(8) for _ in range(side * side * 3))
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def noise_png(payload_bytes: int) -> bytes:
    """A decodable PNG of at least ``payload_bytes`` bytes (random pixels, stored uncompressed)."""
    side = int((payload_bytes / 3) ** 0.5) + 8
    rng = random.Random(payload_bytes)
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3)).save(buf, "PNG", compress_level=0)
    return buf.getvalue()


def parallel(calls):
    """Independent requests at once (the order of the answers is the order of ``calls``)."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(lambda call: call(), calls))


# -- the record, as the seed types it ---------------------------------------------------------------------
def record_problems(record) -> list[str]:
    """Type breaks of the fields the seed's ImageRecord gives (no field is required there; Tag's id and name
    are). ``uploaded_timestamp`` and ``url`` may be null."""
    if not isinstance(record, dict):
        return [f"a record is not an object: {record!r}"[:200]]
    problems = []
    for key, ok, kind in (
        ("id", is_int, "an integer"),
        ("created_timestamp", is_int, "an integer"),
        ("size", is_int, "an integer"),
        ("filename", lambda v: isinstance(v, str), "a string"),
        ("created_by", lambda v: isinstance(v, str), "a string"),
        ("uploaded_timestamp", lambda v: v is None or is_int(v), "an integer or null"),
        ("url", lambda v: v is None or isinstance(v, str), "a string or null"),
    ):
        if key in record and not ok(record[key]):
            problems.append(f"{key} is {record[key]!r}, not {kind}")
    tags = record.get("tags", [])
    if not (
        isinstance(tags, list)
        and all(isinstance(t, dict) and is_int(t.get("id")) and isinstance(t.get("name"), str) for t in tags)
    ):
        problems.append(f"tags are not a list of {{id: integer, name: string}}: {tags!r}"[:200])
    return problems


def owner_of(problem: str) -> str:
    """The rule a record's type break belongs to: tags as {id, name} is TIM-06's own wording; any other
    field of the wrong type is a schema break, ALL-02's (behaviour rules judge behaviour)."""
    return "TIM-06" if problem.startswith("tags ") else "ALL-02"


RECORD_FIELDS = (
    "id",
    "created_by",
    "created_timestamp",
    "filename",
    "size",
    "tags",
    "uploaded_timestamp",
    "url",
)


def tag_names(record: dict) -> list[str]:
    return [t["name"] for t in record.get("tags", [])]


# -- setup steps, each owned by the rule that judges it ------------------------------------------------------
def create_body(filename: str, tags: list[str], size: int = 4096) -> dict:
    """The seed's fullest example request of POST /images: filename, size and tags."""
    return {"filename": filename, "size": size, "tags": tags}


def upload_body(data: bytes, filename: str, tags: list[str]) -> dict:
    """The seed's fullest example request of POST /upload: filename, image_data and tags."""
    return {"filename": filename, "image_data": b64(data), "tags": tags}


def created_id(response, rule: str) -> dict:
    """The {id, upload_url} of a 2xx create, or the check is not exercised (see ``rule``)."""
    body = body_of(response)
    if not (isinstance(body, dict) and is_int(body.get("id"))):
        raise NotExercised(
            rule, f"{sent(response)} answered {got(response)}: no integer id", response.request
        )
    if isinstance(body.get("upload_url"), str):
        body = {**body, "upload_url": urljoin(str(response.request.url), body["upload_url"])}
    return body


def made(http, filename: str, tags: list[str], size: int = 4096) -> dict:
    """A record without its file, for another rule's check (TIM-01 owns this step)."""
    r = needs(http.post("/images", json=create_body(filename, tags, size)), "POST /images", "TIM-01")
    return created_id(r, "TIM-01")


def made_for_put(http, filename: str, tags: list[str], size: int = 4096) -> dict:
    created = made(http, filename, tags, size)
    if not isinstance(created.get("upload_url"), str):
        raise NotExercised("TIM-01", f"POST /images answered {created!r}: no upload_url")
    return created


def uploaded(http, data: bytes, filename: str, tags: list[str]) -> dict:
    """A record with its file, for another rule's check (TIM-03 owns this step)."""
    r = needs(http.post("/upload", json=upload_body(data, filename, tags)), "POST /upload", "TIM-03")
    return created_id(r, "TIM-03")


def fetched(http, image_id: int) -> dict:
    """GET /images/{id} for another rule's check (TIM-06 owns it): the record, typed as the seed types it."""
    r = needs(http.get(f"/images/{image_id}"), f"GET /images/{image_id}", "TIM-06")
    record = body_of(r)
    problems = record_problems(record)
    if problems or "created_timestamp" not in record:
        raise NotExercised("TIM-06", f"{sent(r)}: {'; '.join(problems) or 'no created_timestamp'}", r.request)
    return record


def record_of(response) -> dict:
    """The record a 200 GET /images/{id} answered, typed as the seed types it, or the check is not
    exercised (see TIM-06)."""
    record = body_of(response)
    problems = record_problems(record)
    if problems:
        raise NotExercised("TIM-06", f"{sent(response)}: {'; '.join(problems)}", response.request)
    return record


def fetch(raw, url: str):
    return raw.get(url)


def put_file(raw, upload_url: str, data: bytes, mime: str):
    return raw.put(upload_url, content=data, headers={"Content-Type": mime})


def check_uploaded(raw, record: dict, data: bytes, rule: str) -> None:
    """``rule``: the record has its file: an integer uploaded_timestamp, a url returning exactly ``data``."""
    what = f"record {record['id']} after its upload"
    check(
        is_int(record.get("uploaded_timestamp")),
        f"{what}: uploaded_timestamp is {record.get('uploaded_timestamp')!r}, not an integer",
        rule=rule,
    )
    url = record.get("url")
    if not check(isinstance(url, str), f"{what}: url is {url!r}, not a URL", rule=rule):
        return
    r = fetch(raw, url)
    if check(r.status_code == 200, f"{what}: GET of its url answered {got(r)}", rule=rule, response=r):
        check(
            r.content == data,
            f"{what}: its url returned {len(r.content)} bytes, not the {len(data)} uploaded",
            rule=rule,
            response=r,
        )


# -- paged listings ------------------------------------------------------------------------------------------
def meta_problem(meta, page: int, limit: int, count: int) -> str | None:
    """TIM-04: current_page == page, total_results counts every match, has_more_pages exactly when later
    pages hold records; so a page holds min(limit, total - page * limit) records."""
    if not isinstance(meta, dict):
        return f"meta is {meta!r}, not an object"
    if meta.get("current_page") != page:
        return f"meta.current_page is {meta.get('current_page')!r}, not {page}"
    total = meta.get("total_results")
    if not (is_int(total) and total >= 0):
        return f"meta.total_results is {total!r}"
    more = (page + 1) * limit < total
    if meta.get("has_more_pages") is not more:
        return f"total_results {total}: has_more_pages is {meta.get('has_more_pages')!r}, not {more}"
    expected = max(0, min(limit, total - page * limit))
    if count != expected:
        return f"total_results {total}: {count} records on the page, not {expected}"
    return None


def verdict(ok: bool, message: str, rule_id: str, response=None, decision: str | None = None) -> bool:
    """A MUST finding of ``rule_id``, or a SHOULD one when the request rests on a ``decision``."""
    if decision is None:
        return check(ok, message, rule=rule_id, response=response)
    return should(None, ok, message, rule=rule_id, response=response, decision=decision)


def pages(http, path: str, params: dict, limit: int, max_pages: int = 60, until=None):
    """Every page of a paged listing, in order: (records, problem or None, the last response). Judges
    nothing itself, so it may run in a worker thread; stops early once ``until(records so far)`` holds.
    Once the first page gives the total, the pages it implies are fetched at once (WORKERS at a time)."""
    records: list[dict] = []
    seen: set = set()
    fetched_pages: dict[int, object] = {}

    def get(page: int):
        if page not in fetched_pages:
            fetched_pages[page] = http.get(path, params={**params, "page": page, "limit": limit})
        return fetched_pages[page]

    r = None
    for page in range(max_pages):
        r = get(page)
        if not 200 <= r.status_code < 300:
            return records, f"{sent(r)} answered {got(r)}", r
        body = body_of(r)
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list) or any(record_problems(x) for x in results):
            return records, f"{sent(r)}: results are not a list of records: {r.text[:200]}", r
        problem = meta_problem(body.get("meta"), page, limit, len(results))
        again = [x.get("id") for x in results if x.get("id") in seen]
        if problem or again:
            return records, f"{sent(r)}: {problem or f'ids {again} were already on an earlier page'}", r
        seen |= {x.get("id") for x in results}
        records += results
        if not results or not body["meta"].get("has_more_pages") or (until is not None and until(records)):
            break
        if page == 0 and until is None:
            later = range(1, min(max_pages, -(-body["meta"]["total_results"] // limit)))
            fetched_pages.update(zip(later, parallel([lambda p=p: get(p) for p in later]), strict=True))
    return records, None, r


def walk(
    http,
    path: str,
    params: dict,
    limit: int,
    *,
    judge: str | None = None,
    decision: str | None = None,
    owner: str = "TIM-04",
    max_pages: int = 60,
    until=None,
) -> list[dict]:
    """``pages``, judged: on ``judge`` (at SHOULD with a ``decision``) when the check owns the listing's
    paging, else a broken listing stops the check as not exercised (see ``owner``)."""
    records, problem, r = pages(http, path, params, limit, max_pages, until)
    return judge_pages(records, problem, r, judge=judge, decision=decision, owner=owner)


def judge_pages(records, problem, response, *, judge=None, decision=None, owner="TIM-04") -> list[dict]:
    if problem is not None:
        if judge is None:
            raise NotExercised(owner, problem, getattr(response, "request", None))
        verdict(False, problem, judge, response, decision)
    return records


def newest_first_problem(records: list[dict]) -> str | None:
    stamps = [x.get("created_timestamp") for x in records]
    for i in range(1, len(stamps)):
        if not (is_int(stamps[i - 1]) and is_int(stamps[i]) and stamps[i - 1] >= stamps[i]):
            return (
                f"not newest created first: created_timestamp {stamps[i - 1]!r} (id {records[i - 1]['id']}) "
                f"before {stamps[i]!r} (id {records[i]['id']})"
            )
    return None


def like(pattern: str, name: str) -> bool:
    """match_tags semantics: ``%`` any run of characters (none included), the rest literal, any case."""
    regex = ".*".join(re.escape(part) for part in pattern.split("%"))
    return re.fullmatch(regex, name, re.IGNORECASE | re.DOTALL) is not None


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
        calls = [lambda i=i: self.http.delete(f"/images/{i}") for i in self.images if is_int(i)]
        parallel(calls)
        parallel([lambda t=t: self.http.delete(f"/tags/{t}") for t in set(self.tags) if is_int(t)])

    def tags_of(self, record: dict) -> None:
        self.tags += [t["id"] for t in record.get("tags", []) if isinstance(t, dict)]


@pytest.fixture
def cleanup(target, tls):
    """Ids appended to .images / .tags are deleted after the check, whatever its outcome (with a client of
    its own: the check's client keeps only the check's exchanges)."""
    with httpx.Client(
        base_url=target.base_url, headers=target.auth_headers(), timeout=30, verify=tls
    ) as client:
        c = Cleanup(client)
        yield c
        c.run()


# -- a timeline: records created in two different seconds, shared by the listing checks ---------------------
@dataclass
class Timeline:
    home: str  # every record carries this tag; the other tags are home + "-" + a suffix
    home_id: int
    records: dict[int, dict]  # id -> record as GET returned it
    data: dict[int, bytes]  # id -> bytes, for the uploaded ones
    tags_shared: str | None = None  # why records naming one tag got different ids (TIM-08), if they did

    def tag(self, suffix: str) -> str:
        return f"{self.home}-{suffix}"

    def ids(self, keep=lambda r: True) -> set[int]:
        return {i for i, r in self.records.items() if keep(r)}

    @property
    def stamps(self) -> list[int]:
        return sorted({r["created_timestamp"] for r in self.records.values()})

    def needs_shared_tags(self) -> None:
        """Searching and browsing by tag rest on TIM-08: records naming one tag share it."""
        if self.tags_shared is not None:
            raise NotExercised("TIM-08", self.tags_shared)


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
                ("B", photo(1, "PNG"), ["red", "Blue"]),
                ("C", photo(2, "GIF"), ["Sky"]),
                ("D", None, ["RED", "blue-sky"]),
            ]
            for letter, image, suffixes in plan:
                if letter == "C":
                    time.sleep(1.05)  # the server's clock moves on by at least one second after B's answer
                tags = [home, *(f"{home}-{s}" for s in suffixes)]
                name = f"{home}-{letter}.png"
                if image is None:
                    image_id = made(client, name, tags)["id"]
                else:
                    image_id = uploaded(client, image, name, tags)["id"]
                    data[image_id] = image
                ids.append(image_id)
            records = dict(zip(ids, parallel([lambda i=i: fetched(client, i) for i in ids]), strict=True))
            homes = {t["id"] for r in records.values() for t in r["tags"] if t["name"] == home}
            shared = None
            if len(homes) != 1:
                shared = f"{len(ids)} records naming the tag {home!r} carry it as the tags {sorted(homes)}"
            yield Timeline(home, min(homes, default=0), records, data, shared)
        finally:
            tag_ids = set()
            for image_id in ids:
                r = client.get(f"/images/{image_id}")
                if r.status_code == 200 and isinstance(body_of(r), dict):  # cleanup only: whatever its shape
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
    upload_url: str | None
    data: bytes | None = None


class TaggedMachine(RuleBasedStateMachine):
    """Creates records (some uploaded, with mixed-case tags under a tag unique to the run) and keeps a
    model of them; subclasses add the rules they check. ``owns`` are the rules the machine's check judges:
    a step owned by another rule that goes wrong stops the run as not exercised (see that rule)."""

    owns: tuple[str, ...] = ()

    def __init__(self, target, http, raw):
        super().__init__()
        self.target, self.http, self.raw = target, http, raw
        self.home = target.unique("sm")
        self.images: dict[int, Mine] = {}
        self.tags: dict[str, int] = {}  # name -> id: every live tag of this run
        self.deleted: set[int] = set()
        self.stale: list[int] = []  # deleted, yet still there

    def owned(self, rule_id: str, ok: bool, message: str, response=None) -> bool:
        """``ok`` judged on ``rule_id`` if the check owns it, else a setup step of that rule."""
        if ok:
            return True
        if rule_id in self.owns:
            if response is not None:
                judged(response)
            raise AssertionError(f"{message} ({rule_id})")  # the model is off: stop this run here
        raise NotExercised(rule_id, message, getattr(response, "request", None))

    def name_of(self, word: str) -> str:
        return f"{self.home}-{word}"

    def pick(self, n: int) -> Mine:
        return self.images[sorted(self.images)[n % len(self.images)]]

    def learn_tags(self, record: dict, names: list[str]) -> None:
        """TIM-08: tags named at creation are created if new, reused (same id) if they exist."""
        got_ = {t["name"]: t["id"] for t in record["tags"]}
        self.owned(
            "TIM-08",
            sorted(got_) == sorted(names) and len(record["tags"]) == len(names),
            f"record {record['id']}: tags {record['tags']}, not {sorted(names)}",
        )
        for name, tag_id in got_.items():
            if name in self.tags:
                self.owned(
                    "TIM-08",
                    tag_id == self.tags[name],
                    f"tag {name!r} exists with id {self.tags[name]}; a new record got it as id {tag_id} "
                    f"(existing tags are reused)",
                )
            else:
                others = {v: k for k, v in self.tags.items()}
                self.owned(
                    "TIM-08",
                    tag_id not in others,
                    f"new tag {name!r} got id {tag_id}, the id of tag {others.get(tag_id)!r}",
                )
                self.tags[name] = tag_id

    def create(self, words, size=None, image=None) -> tuple[Mine, dict, object]:
        """A record as the seed's fullest example makes it; returns the model, the record and the create's
        response. The create is judged where the machine owns it (TIM-01 / TIM-03), else a setup step."""
        names = [self.home, *(self.name_of(w) for w in words)]
        filename = self.target.unique("f") + ".img"
        if image is None:
            body = create_body(filename, names, 4096 if size is None else size)
            r = self.http.post("/images", json=body)
            owner = "TIM-01"
        else:
            r = self.http.post("/upload", json=upload_body(image[0], filename, names))
            owner = "TIM-03"
        ok = r.status_code == 201 if owner in self.owns else 200 <= r.status_code < 300  # a setup: any 2xx
        self.owned(
            owner, ok, f"{sent(r)}: expected {201 if owner in self.owns else 'a 2xx'}, got {got(r)}", r
        )
        created = created_id(r, owner)
        self.owned(
            owner,
            created["id"] not in self.images and created["id"] not in self.deleted,
            f"{sent(r)}: id {created['id']} was given to an earlier record",
            r,
        )
        record = (
            fetched(self.http, created["id"]) if "TIM-06" not in self.owns else self.get_record(created["id"])
        )
        self.learn_tags(record, names)
        mine = Mine(record["id"], filename, names, record["created_timestamp"], created.get("upload_url"))
        self.images[mine.id] = mine
        if image is not None:
            mine.data = image[0]
        return mine, record, r

    def get_record(self, image_id: int) -> dict:
        r = self.http.get(f"/images/{image_id}")
        self.owned("TIM-06", r.status_code == 200, f"{sent(r)}: expected 200, got {got(r)}", r)
        record = body_of(r)
        problems = record_problems(record)
        for problem in problems:
            self.owned(owner_of(problem), False, f"{sent(r)}: {problem}", r)
        self.owned(
            "TIM-06", record.get("id") == image_id, f"{sent(r)} returned the record {record.get('id')!r}", r
        )
        return record

    def teardown(self):
        parallel([lambda i=i: self.http.delete(f"/images/{i}") for i in [*self.images, *self.stale]])
        parallel([lambda t=t: self.http.delete(f"/tags/{t}") for t in self.tags.values()])

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

    def compare(self, path, params, limit, expected: set[int], rule_id: str, decision=None) -> None:
        """The listing pages exactly ``expected``, newest first: judged on ``rule_id`` (a SHOULD when a
        ``decision`` is named)."""
        records, problem, response = pages(self.http, path, params, limit, len(expected) // limit + 3)
        got_ = [r["id"] for r in records]
        ghosts = sorted(set(got_) & self.deleted)
        if ghosts:
            raise NotExercised("TIM-07", f"GET {path} {params} lists the deleted records {ghosts}")
        if problem is not None:
            if decision is None:
                judged(response)
                raise AssertionError(f"{problem} ({rule_id})")
            should(self.target, False, problem, rule=rule_id, response=response, decision=decision)
            return
        if set(got_) != expected or len(got_) != len(expected):
            problem = f"GET {path} {params}: expected the records {sorted(expected)}, got {got_}"
        problem = problem or newest_first_problem(records)
        for r in records:
            if r["created_timestamp"] != self.images[r["id"]].created:
                problem = problem or f"GET {path} {params}: record {r['id']}'s created_timestamp changed"
        if decision is None:
            assert problem is None, f"{problem} ({rule_id})"
        else:
            should(self.target, problem is None, str(problem), rule=rule_id, decision=decision)


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
        for words, upload in batch:
            image = (photo(len(self.images) + 100, "PNG", 24), MIME["PNG"]) if upload else None
            self.create(words, image=image)

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
        r = self.http.delete(f"/images/{mine.id}")
        self.owned("TIM-07", 200 <= r.status_code < 300, f"{sent(r)} answered {got(r)}", r)
        del self.images[mine.id]
        self.deleted.add(mine.id)


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

    owns = ("TIM-01", "TIM-02", "TIM-03", "TIM-06", "TIM-07")

    @rule(
        words=st.lists(st.sampled_from(WORDS), max_size=3, unique=True),
        size=st.none() | st.integers(0, 10**6),
    )
    def create_record(self, words, size):
        mine, record, _ = self.create(words, size=size)
        assert record.get("filename") == mine.filename, (
            f"GET /images/{mine.id}: filename {record.get('filename')!r}, sent {mine.filename!r} (TIM-01)"
        )
        self.owned(
            "TIM-01", isinstance(mine.upload_url, str), f"POST /images gave no upload_url for {mine.id}"
        )
        assert record.get("uploaded_timestamp") is None and record.get("url") is None, (
            f"GET /images/{mine.id} before any upload: "
            f"uploaded_timestamp {record.get('uploaded_timestamp')!r} and url {record.get('url')!r}, "
            "not null (TIM-01)"
        )

    @rule(words=st.lists(st.sampled_from(WORDS), max_size=2, unique=True), image=images(max_side=24))
    def upload(self, words, image):
        mine, record, _ = self.create(words, image=image)
        assert record.get("size") == len(image[0]), (
            f"GET /images/{mine.id} after POST /upload of {len(image[0])} bytes: size {record.get('size')!r} "
            f"(TIM-03)"
        )
        check_uploaded(self.raw, record, image[0], "TIM-03")

    @precondition(lambda self: any(m.data is None and m.upload_url for m in self.images.values()))
    @rule(n=st.integers(0, 100), image=images(max_side=24))
    def put(self, n, image):
        """TIM-02: a PUT of the bytes to upload_url uploads the file."""
        waiting = [m for m in self.images.values() if m.data is None and m.upload_url]
        mine = waiting[n % len(waiting)]
        data, mime = image
        r = put_file(self.raw, mine.upload_url, data, mime)
        assert 200 <= r.status_code < 300, (
            f"PUT of {len(data)} bytes to upload_url: answered {got(r)} (TIM-02)"
        )
        mine.data = data
        check_uploaded(self.raw, self.get_record(mine.id), data, "TIM-02")

    @precondition(lambda self: self.images)
    @rule(n=st.integers(0, 100))
    def get(self, n):
        mine = self.pick(n)
        record = self.get_record(mine.id)
        assert record.get("filename") == mine.filename, (
            f"GET /images/{mine.id}: filename {record.get('filename')!r}, sent {mine.filename!r} (TIM-06)"
        )
        assert sorted(tag_names(record)) == sorted(mine.tags), (
            f"GET /images/{mine.id}: tags {record.get('tags')}, expected {sorted(mine.tags)} (TIM-06)"
        )
        if mine.data is None:
            assert record.get("uploaded_timestamp") is None and record.get("url") is None, (
                f"GET /images/{mine.id} without its file: "
                f"uploaded_timestamp {record.get('uploaded_timestamp')!r}"
                f", url {record.get('url')!r}, expected both null (TIM-01)"
            )
        else:
            check_uploaded(self.raw, record, mine.data, "TIM-02")

    @precondition(lambda self: self.images)
    @rule(n=st.integers(0, 100))
    def delete(self, n):
        """TIM-07: 204, then gone from get (a 4xx; SHOULD 404). The listings: test_tim07_deleted_record_..."""
        mine = self.pick(n)
        r = self.http.delete(f"/images/{mine.id}")
        check(r.status_code == 204, f"{sent(r)}: expected 204, got {got(r)}", rule="TIM-07", response=r)
        del self.images[mine.id]
        self.deleted.add(mine.id)
        after = self.http.get(f"/images/{mine.id}")
        if not refused(
            after,
            f"{sent(after)} after its delete",
            rule="TIM-07",
            should_status=404,
            decision=UNKNOWN_ID_404,
        ):
            self.stale.append(mine.id)  # still there: deleted again at the end

    @invariant()
    def unknown_id_is_refused(self):
        if len(self.images) % 5 == 2:
            r = self.http.get(f"/images/{MISSING_ID}")
            refused(
                r, f"{sent(r)} (an unknown id)", rule="TIM-06", should_status=404, decision=UNKNOWN_ID_404
            )


class TagsMachine(QueryMachine):
    """TIM-08..11: tags named at creation, POST /tags, DELETE /tags/{id}, GET /tags/{id}/images."""

    owns = ("TIM-08", "TIM-09", "TIM-10", "TIM-11")

    @rule(word=st.sampled_from(WORDS))
    def create_tag(self, word):
        """TIM-09: 201 with the tag's id (a name that exists is test_tim09's: the seed is silent on it)."""
        name = self.name_of(word)
        if name in self.tags:
            return
        r = self.http.post("/tags", json={"name": name})
        assert r.status_code == 201, f"{sent(r)} {{name: {name!r}}}: expected 201, got {got(r)} (TIM-09)"
        body = body_of(r)
        assert isinstance(body, dict) and is_int(body.get("id")), (
            f"{sent(r)}: no integer id in {body!r} (TIM-09)"
        )
        assert body["id"] not in self.tags.values(), f"{sent(r)}: id {body['id']} is another tag's (TIM-09)"
        self.tags[name] = body["id"]

    @precondition(lambda self: len(self.tags) > 1)
    @rule(n=st.integers(0, 100))
    def delete_tag(self, n):
        """TIM-11: 204; the images stay and no longer carry the tag."""
        names = sorted(name for name in self.tags if name != self.home)
        name = names[n % len(names)]
        tag_id = self.tags.pop(name)
        r = self.http.delete(f"/tags/{tag_id}")
        check(r.status_code == 204, f"{sent(r)}: expected 204, got {got(r)}", rule="TIM-11", response=r)
        carriers = [m for m in self.images.values() if name in m.tags]
        answers = parallel([lambda m=m: self.http.get(f"/images/{m.id}") for m in carriers])
        for mine, after in zip(carriers, answers, strict=True):
            mine.tags.remove(name)
            assert after.status_code == 200, (
                f"{sent(after)} after DELETE /tags/{tag_id} ({name!r}): {got(after)}: the image went too "
                "(TIM-11)"
            )
            carried = tag_names(record_of(after))
            assert sorted(carried) == sorted(mine.tags), (
                f"{sent(after)} after DELETE /tags/{tag_id} ({name!r}): tags {carried}, expected "
                f"{sorted(mine.tags)} (TIM-11)"
            )

    @precondition(lambda self: self.tags)
    @rule(n=st.integers(0, 100), **FILTERS)
    def browse_tag(self, n, limit, start, end, uploaded_only):
        """TIM-10: GET /tags/{id}/images lists exactly the images carrying the tag, newest first. The seed
        gives it no parameters: the first page without any is the MUST, paging and filters SHOULD."""
        name = sorted(self.tags)[n % len(self.tags)]
        path = f"/tags/{self.tags[name]}/images"
        expected = self.expected(lambda m: name in m.tags)
        if n % 2 == 0:
            self.first_page(path, expected)
            return
        start, end = self.stamp(start), self.stamp(end)
        expected = self.expected(lambda m: name in m.tags, start, end, uploaded_only)
        params = filter_params(start, end, uploaded_only)
        self.compare(path, params, limit, expected, "TIM-10", decision=TAG_PAGING)

    def first_page(self, path: str, expected: set[int]) -> None:
        r = self.http.get(path)
        assert r.status_code == 200, f"{sent(r)}: expected 200, got {got(r)} (TIM-10)"
        body = body_of(r)
        results = body.get("results") if isinstance(body, dict) else None
        assert isinstance(results, list), f"{sent(r)}: no results list in {r.text[:200]} (TIM-10)"
        ids = [x.get("id") for x in results if isinstance(x, dict)]
        ghosts = sorted(set(ids) & self.deleted)
        if ghosts:
            raise NotExercised("TIM-07", f"{sent(r)} lists the deleted records {ghosts}", r.request)
        assert set(ids) <= expected and len(ids) == len(set(ids)), (
            f"{sent(r)}: lists {ids}; the tag's images are {sorted(expected)} (TIM-10)"
        )
        meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
        complete = not meta.get("has_more_pages")  # a server may page by its own default size
        assert not complete or set(ids) == expected, (
            f"{sent(r)}: lists {sorted(ids)} and no more pages; the tag's images are {sorted(expected)} "
            "(TIM-10)"
        )
        problem = newest_first_problem([x for x in results if isinstance(x, dict)])
        assert problem is None, f"{sent(r)}: {problem} (TIM-10)"


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
    pattern matching some tag), with the date range, uploaded_only and paging. Every search carries both
    parameters, as the seed requires: the other one is the run's home tag (every record carries it), so
    each filter is tested alone, and both at once (AND) in ``search_both``."""

    owns = ("TIM-12",)

    def exact(self, words, case, home):
        names = [self.name_of(case(w)) for w in words] + ([self.home] if home else [])
        return names, (lambda m: all(n in m.tags for n in names))

    def matching(self, found, prefix):
        unique = self.home.rsplit("-", 1)[1]
        lead = {"home": self.home, "upper": self.home.upper(), "wild": "%" + unique}[prefix]
        wanted = [f"{lead}-{p}" for p in found]
        return wanted, (lambda m: all(any(like(p, t) for t in m.tags) for p in wanted))

    def search(self, exact, match, keep, limit, start, end, uploaded_only):
        start, end = self.stamp(start), self.stamp(end)
        expected = self.expected(keep, start, end, uploaded_only)
        params = {
            "exact_tags": "|".join(exact),
            "match_tags": "|".join(match),
            **filter_params(start, end, uploaded_only),
        }
        self.compare("/search/images", params, limit, expected, "TIM-12")

    @rule(
        words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=2, unique=True),
        case=st.sampled_from([str, str.swapcase]),
        home=st.booleans(),
        **FILTERS,
    )
    def search_exact(self, words, case, home, limit, start, end, uploaded_only):
        names, keep = self.exact(words, case, home)
        self.search(names, [self.home.upper()], keep, limit, start, end, uploaded_only)

    @rule(
        found=st.lists(patterns(), min_size=1, max_size=2),
        prefix=st.sampled_from(["home", "upper", "wild"]),
        **FILTERS,
    )
    def search_match(self, found, prefix, limit, start, end, uploaded_only):
        wanted, keep = self.matching(found, prefix)
        self.search([self.home], wanted, keep, limit, start, end, uploaded_only)

    @rule(
        words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=1),
        found=st.lists(patterns(), min_size=1, max_size=1),
        **FILTERS,
    )
    def search_both(self, words, found, limit, start, end, uploaded_only):
        names, exact = self.exact(words, str, False)
        wanted, match = self.matching(found, "upper")
        self.search(names, wanted, lambda m: exact(m) and match(m), limit, start, end, uploaded_only)


def run_machine(machine, target, http, raw, hypothesis_settings):
    """Without shrinking: the server's state and clock are outside Hypothesis, so a replay of a shorter run
    meets another server (a failure that rests on two records' seconds may not recur); Hypothesis would
    report that as a flaky test, blamed on no rule, instead of the first failure with its request."""
    phases = [p for p in hypothesis_settings.phases if p != Phase.shrink]
    run_state_machine_as_test(
        lambda: machine(target, http, raw), settings=settings(hypothesis_settings, phases=phases)
    )


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
def test_tim01_02_create_then_put(target, http, raw, cleanup):
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
        check_uploaded(raw, fetched(http, body["id"]), data, "TIM-02")


@pytest.mark.writes
@pytest.mark.rule("TIM-02")
def test_tim02_upload_url_is_signed(target, http, raw, cleanup):
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
def test_tim03_upload_in_one_shot(target, http, raw, cleanup):
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
    check_uploaded(raw, record, data, "TIM-03")


@pytest.mark.writes
@pytest.mark.rule("TIM-03", "TIM-13")
def test_tim03_bad_base64_is_refused(target, http, cleanup):
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
def test_tim03_payload_over_3_96_mb_is_refused(target, http, cleanup):
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


@pytest.mark.writes
@pytest.mark.rule("TIM-04")
def test_tim04_listing_is_newest_first_and_paged(http, timeline):
    mine = timeline.ids()
    records = walk(
        http, "/images", {}, 2, judge="TIM-04", max_pages=40, until=lambda rs: mine <= {r["id"] for r in rs}
    )
    listed = {r["id"] for r in records}
    check(
        mine <= listed, f"GET /images (limit 2, every page) did not list the records {sorted(mine - listed)}"
    )
    problem = newest_first_problem(records)
    check(problem is None, f"GET /images: {problem}")
    first = http.get("/images", params={"page": 0, "limit": 100})
    body = body_of(first)
    if not check(
        first.status_code == 200 and isinstance(body, dict) and isinstance(body.get("meta"), dict),
        f"{sent(first)}: answered {got(first)}",
        response=first,
    ):
        return
    total = body["meta"].get("total_results")
    if not is_int(total):
        return  # meta_problem below reports it
    past = total // 3 + 2
    calls = [lambda: http.get("/images", params={"page": past, "limit": 3})]
    limits = sorted({total, total - 1} & set(range(1, 101)))  # the last page is exactly full, or one over
    calls += [lambda limit=limit: http.get("/images", params={"limit": limit}) for limit in limits]
    calls.append(lambda: http.get("/images", params={"limit": 101}))
    beyond, *full, over = parallel(calls)
    if 200 <= beyond.status_code < 300:
        results = (body_of(beyond) or {}).get("results")
        check(
            results == [],
            f"{sent(beyond)} (past the last page of {total}): results {str(results)[:200]}",
            response=beyond,
        )
    else:
        should(
            None,
            False,
            f"{sent(beyond)} (past the last page): expected 200 with no results, got {got(beyond)}",
            response=beyond,
            decision=PAST_END_200,
        )
    for r, limit in zip(full, limits, strict=True):
        page = body_of(r) or {}
        problem = meta_problem(page.get("meta"), 0, limit, len(page.get("results") or []))
        check(r.status_code == 200 and problem is None, f"{sent(r)}: {problem or got(r)}", response=r)
    if 200 <= over.status_code < 300:
        results = (body_of(over) or {}).get("results") or []
        check(
            len(results) <= 100,
            f"{sent(over)}: {len(results)} records on one page (limit at most 100)",
            response=over,
        )
    else:
        refused(over, f"{sent(over)} (limit at most 100)")


@pytest.mark.rule("TIM-04")
def test_tim04_listing_invariants_read_only(http):
    """Whatever the server holds: meta, order, no record on two consecutive pages."""
    walk(http, "/images", {}, 7, judge="TIM-04", max_pages=3)
    records = walk(http, "/images", {}, 100, judge="TIM-04", max_pages=2)
    problem = newest_first_problem(records)
    check(problem is None, f"GET /images: {problem}")


@pytest.mark.writes
@pytest.mark.rule("TIM-05")
def test_tim05_timestamps_are_seconds_since_the_epoch(timeline):
    """The seed's date filters take created_timestamp "in seconds since Unix Epoch": a record made a moment
    ago has timestamps near now in seconds (a day either way allows for clock skew; milliseconds would be a
    thousand times off, a float is not the integer the seed types)."""
    now = time.time()
    for image_id, record in timeline.records.items():
        for field in ("created_timestamp", "uploaded_timestamp"):
            stamp = record.get(field)
            if stamp is None and field == "uploaded_timestamp":
                continue
            check(
                is_int(stamp) and abs(stamp - now) < 86_400,
                f"GET /images/{image_id}: {field} {stamp!r} is not seconds since the Unix Epoch near now "
                f"({int(now)})",
            )


@pytest.mark.writes
@pytest.mark.rule("TIM-05")
def test_tim05_date_range_and_uploaded_only(http, timeline):
    old, new = timeline.stamps[0], timeline.stamps[-1]
    queries = [{"start_timestamp": t, "end_timestamp": t} for t in timeline.stamps]
    queries += [
        {"start_timestamp": new},
        {"end_timestamp": old},
        {"start_timestamp": old, "uploaded_only": "true"},
    ]
    answers = parallel([lambda q=q: pages(http, "/images", q, 100, 30) for q in queries])
    listed = [judge_pages(*answer) for answer in answers]  # a broken page is TIM-04's (not exercised)

    def ids(records):
        return {r["id"] for r in records}

    for params, records in zip(queries, listed, strict=True):
        start, end = params.get("start_timestamp"), params.get("end_timestamp")
        outside = [
            (r["id"], r["created_timestamp"])
            for r in records
            if (start is not None and r["created_timestamp"] < start)
            or (end is not None and r["created_timestamp"] > end)
        ]
        check(not outside, f"GET /images {params} listed records created outside the range: {outside[:8]}")
        want = timeline.ids(
            lambda r, s=start, e=end: (
                (s is None or r["created_timestamp"] >= s) and (e is None or r["created_timestamp"] <= e)
            )
        )
        if params.get("uploaded_only"):
            pending = [
                r["id"] for r in records if r.get("uploaded_timestamp") is None or r.get("url") is None
            ]
            check(not pending, f"GET /images {params} listed records without their file: {pending[:8]}")
            want &= set(timeline.data)
            unwanted = ids(records) & (timeline.ids() - set(timeline.data))
            check(not unwanted, f"GET /images {params} listed my records without a file: {sorted(unwanted)}")
        missing = want - ids(records)
        check(not missing, f"GET /images {params} (inclusive) misses my records {sorted(missing)}")


@pytest.mark.rule("TIM-06", "TIM-13")
def test_tim06_unknown_id_is_refused(target, http):
    r = http.get(f"/images/{MISSING_ID}")
    if refused(r, f"{sent(r)} (an unknown id)", rule="TIM-06", should_status=404, decision=UNKNOWN_ID_404):
        problem = error_body_problem(r)  # the seed lists no error for GET /images/{id}: our format
        should(target, problem is None, str(problem), rule="TIM-13", response=r, decision=ERROR_BODY)


@pytest.mark.writes
@pytest.mark.rule("TIM-06")
def test_tim06_record_shape(target, http, timeline):
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
def test_tim07_deleted_record_is_gone_everywhere(target, http, raw, cleanup):
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


def all_tags(http, **kw) -> list[dict]:
    return walk(http, "/tags", {}, 100, max_pages=200, **kw)


def alphabetical_problem(tags: list[dict]) -> str | None:
    names = [t.get("name") for t in tags]
    if names == sorted(names) or names == sorted(names, key=str.casefold):
        return None
    return f"GET /tags is not in alphabetical order: {names[:12]}..."


@pytest.mark.writes
@pytest.mark.rule("TIM-08")
def test_tim08_tags_created_reused_and_listed_alphabetically(target, http, cleanup):
    base = target.unique("t8")
    r = needs(http.post("/tags", json={"name": f"{base}-b"}), "POST /tags", "TIM-09")
    made_tag = created_id(r, "TIM-09")
    cleanup.tags.append(made_tag["id"])
    first = made(http, base + "-1.png", [f"{base}-c", f"{base}-b", f"{base}-A"])["id"]
    second = made(http, base + "-2.png", [f"{base}-A", f"{base}-c"])["id"]
    cleanup.images += [first, second]
    one, two = parallel([lambda: fetched(http, first), lambda: fetched(http, second)])
    tags1 = {t["name"]: t["id"] for t in one["tags"]}
    tags2 = {t["name"]: t["id"] for t in two["tags"]}
    cleanup.tags += list(tags1.values()) + list(tags2.values())
    check(set(tags1) == {f"{base}-c", f"{base}-b", f"{base}-A"}, f"GET /images/{first}: tags {one['tags']}")
    check(
        tags1.get(f"{base}-b") == made_tag["id"],
        f"the existing tag {base}-b (id {made_tag['id']}) was not reused: record {first} carries it as "
        f"{tags1.get(f'{base}-b')!r}",
    )
    check(len(set(tags1.values())) == len(tags1), f"distinct new tags share ids: {tags1}")
    for name in (f"{base}-A", f"{base}-c"):
        check(
            tags2.get(name) == tags1.get(name),
            f"tag {name!r} was created as id {tags1.get(name)!r}; record {second} carries it as "
            f"{tags2.get(name)!r}",
        )
    tags = all_tags(http, judge="TIM-08")
    problem = alphabetical_problem(tags)
    check(problem is None, str(problem))
    mine = [(t["name"], t["id"]) for t in tags if str(t.get("name")).startswith(base)]
    expected = sorted(tags1.items())
    expected_ci = sorted(tags1.items(), key=lambda kv: kv[0].casefold())
    check(mine in (expected, expected_ci), f"GET /tags lists my tags as {mine}, expected {expected}")
    walk(http, "/tags", {}, 2, judge="TIM-08", max_pages=3)  # paged like the images


@pytest.mark.rule("TIM-08")
def test_tim08_tag_listing_read_only(http):
    problem = alphabetical_problem(walk(http, "/tags", {}, 100, judge="TIM-08", max_pages=5))
    check(problem is None, str(problem))


@pytest.mark.writes
@pytest.mark.rule("TIM-09", "TIM-13")
def test_tim09_create_tag_and_duplicate(target, http, cleanup):
    name = target.unique("t9")
    r = http.post("/tags", json={"name": name})
    check(r.status_code == 201, f"{sent(r)} {{name: {name!r}}}: expected 201, got {got(r)}", response=r)
    body = body_of(r)
    if not check(
        isinstance(body, dict) and is_int(body.get("id")),
        f"{sent(r)}: no integer id in {r.text[:200]}",
        response=r,
    ):
        return
    cleanup.tags.append(body["id"])
    again = http.post("/tags", json={"name": name})
    if 200 <= again.status_code < 300 and isinstance(body_of(again), dict):
        cleanup.tags.append(body_of(again).get("id"))
    should(
        target,
        again.status_code == 409,
        f"{sent(again)} with the existing name {name!r}: expected 409, got {got(again)}",
        response=again,
        decision=DUPLICATE_TAG_409,
    )
    if 400 <= again.status_code < 500:
        problem = error_body_problem(again)  # POST /tags' seed: default -> Error
        check(problem is None, str(problem), rule="TIM-13", response=again)


@pytest.mark.writes
@pytest.mark.rule("TIM-10")
def test_tim10_tag_images_newest_first(target, http, timeline):
    """MUST: the first page (the seed gives this operation no parameters) lists the tag's images, newest
    first. SHOULD: our paging parameters and filters work on it."""
    timeline.needs_shared_tags()
    path = f"/tags/{timeline.home_id}/images"
    red = next(
        t["id"] for r in timeline.records.values() for t in r["tags"] if t["name"] == timeline.tag("red")
    )
    first, (paged, problem, last), (filtered, problem2, last2) = parallel(
        [
            lambda: http.get(path),
            lambda: pages(http, path, {}, 1, 10),
            lambda: pages(http, f"/tags/{red}/images", {"uploaded_only": "true"}, 5, 3),
        ]
    )
    body = body_of(first)
    results = body.get("results") if isinstance(body, dict) else None
    if not check(
        first.status_code == 200 and isinstance(results, list),
        f"{sent(first)}: answered {got(first)}",
        response=first,
    ):
        return
    listed = [x.get("id") for x in results if isinstance(x, dict)]
    mine = timeline.ids()
    more = isinstance(body.get("meta"), dict) and body["meta"].get("has_more_pages")
    check(
        set(listed) <= mine and (more or set(listed) == mine),
        f"{sent(first)}: lists {listed}; the tag's images are {sorted(mine)}",
        response=first,
    )
    problem0 = newest_first_problem([x for x in results if isinstance(x, dict)])
    check(problem0 is None, f"{sent(first)}: {problem0}", response=first)
    created_order = list(timeline.records)  # A, B in one second, C, D in the next, each after the last
    if problem0 is None and set(listed) == set(created_order):  # newest first within one second too
        check(
            listed == list(reversed(created_order)),
            f"{sent(first)}: lists {listed}; created one after the other (two within one second), newest "
            f"first is {list(reversed(created_order))}",
            response=first,
        )
    judge_pages(paged, problem, last, judge="TIM-10", decision=TAG_PAGING)
    if problem is None:
        should(
            target,
            sorted(r["id"] for r in paged) == sorted(mine),
            f"GET {path} at limit 1, every page: {[r['id'] for r in paged]}, not {sorted(mine)}",
            response=last,
            decision=TAG_PAGING,
        )
    judge_pages(filtered, problem2, last2, judge="TIM-10", decision=TAG_PAGING)
    want = timeline.ids(lambda r: r["id"] in timeline.data and any(t["id"] == red for t in r["tags"]))
    if problem2 is None:
        should(
            target,
            sorted(r["id"] for r in filtered) == sorted(want),
            f"{sent(last2)}: {[r['id'] for r in filtered]}, not {sorted(want)}",
            response=last2,
            decision=TAG_PAGING,
        )


@pytest.mark.rule("TIM-10")
def test_tim10_unknown_tag_is_404(target, http):
    r = http.get(f"/tags/{MISSING_ID}/images")
    should(
        target,
        r.status_code == 404,
        f"{sent(r)}: expected 404, got {got(r)}",
        response=r,
        decision=UNKNOWN_ID_404,
    )


@pytest.mark.writes
@pytest.mark.rule("TIM-11")
def test_tim11_deleting_a_tag_keeps_its_images(target, http, cleanup):
    base = target.unique("t11")
    ids = [made(http, f"{base}-{i}.png", [base, f"{base}-x"])["id"] for i in range(2)]
    cleanup.images += ids
    records = parallel([lambda i=i: fetched(http, i) for i in ids])
    tags = {t["name"]: t["id"] for t in records[0]["tags"]}
    cleanup.tags_of(records[0])
    cleanup.tags_of(records[1])
    if {t["id"] for t in records[1]["tags"]} != set(tags.values()):
        raise NotExercised("TIM-08", f"two records naming the tags {sorted(tags)} got different tags")
    gone = tags[f"{base}-x"]
    r = http.delete(f"/tags/{gone}")
    check(r.status_code == 204, f"{sent(r)}: expected 204, got {got(r)}", response=r)
    *after, other = parallel(
        [*(lambda i=i: http.get(f"/images/{i}") for i in ids), lambda: http.get(f"/tags/{tags[base]}/images")]
    )
    for a in after:
        if check(
            a.status_code == 200, f"deleting a tag deleted its image: {sent(a)} answered {got(a)}", response=a
        ):
            carried = tag_names(record_of(a))
            check(
                carried == [base],
                f"{sent(a)} after {sent(r)} ({base}-x): the record carries {carried}",
                response=a,
            )
    body = body_of(other) if other.status_code == 200 else None
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        raise NotExercised("TIM-10", f"{sent(other)} answered {got(other)}", other.request)
    listed = [x.get("id") for x in results if isinstance(x, dict)]
    check(
        sorted(listed) == sorted(ids),
        f"{sent(other)}: the images are gone from their other tag: {listed}",
        response=other,
    )
    names = [t.get("name") for t in all_tags(http, owner="TIM-08")]
    check(f"{base}-x" not in names, f"GET /tags still lists the deleted tag {base}-x")


@pytest.mark.writes
@pytest.mark.rule("TIM-12")
def test_tim12_search_semantics(target, http, timeline):
    """Every search carries both parameters, as the seed requires: the other one is the timeline's home tag
    (every record carries it, literally and in any case), so each filter is tested on its own and both
    together (AND)."""
    timeline.needs_shared_tags()
    tl, home, upper = timeline, timeline.home, timeline.home.upper()

    def carries(*names):
        return lambda r: all(n in tag_names(r) for n in names)

    def matches(*patterns):
        return lambda r: all(any(like(p, t) for t in tag_names(r)) for p in patterns)

    unique = "%" + home.rsplit("-", 1)[1]
    new = tl.stamps[-1]
    searches = [  # (params, which timeline records must come back)
        ({"exact_tags": tl.tag("red"), "match_tags": upper}, carries(tl.tag("red"))),  # case-sensitive
        ({"exact_tags": f"{home}|{tl.tag('Red')}", "match_tags": upper}, carries(home, tl.tag("Red"))),
        ({"exact_tags": f"{tl.tag('red')}|{tl.tag('Sky')}", "match_tags": upper}, lambda r: False),  # all
        ({"exact_tags": tl.tag("SKY"), "match_tags": upper}, lambda r: False),
        ({"exact_tags": home, "match_tags": tl.tag("RED").upper()}, matches(tl.tag("RED"))),  # any case
        ({"exact_tags": home, "match_tags": f"{unique}-%SKY"}, matches(f"{unique}-%SKY")),
        (
            {"exact_tags": home, "match_tags": f"{tl.tag('red')}|{home}-b%"},
            matches(tl.tag("red"), f"{home}-b%"),
        ),
        (
            {"exact_tags": tl.tag("red"), "match_tags": f"{home}-b%"},  # both at once: AND
            lambda r: carries(tl.tag("red"))(r) and matches(f"{home}-b%")(r),
        ),
        (
            {"exact_tags": tl.tag("RED"), "match_tags": f"{home}-b%"},
            lambda r: carries(tl.tag("RED"))(r) and matches(f"{home}-b%")(r),
        ),
        (
            {"exact_tags": home, "match_tags": upper, "start_timestamp": new, "end_timestamp": new},
            lambda r: r["created_timestamp"] == new,
        ),
        ({"exact_tags": home, "match_tags": upper, "uploaded_only": "true"}, lambda r: r["id"] in tl.data),
    ]
    answers = parallel([lambda q=q: pages(http, "/search/images", q, 2, 6) for q, _ in searches])
    for (_, keep), (records, problem, last) in zip(searches, answers, strict=True):
        if problem is not None:
            check(False, problem, response=last)
            continue
        got_, want = sorted(r["id"] for r in records), sorted(tl.ids(keep))
        check(got_ == want, f"{sent(last).split('&page=')[0]}: expected {want}, got {got_}", response=last)
        order = newest_first_problem(records)
        check(order is None, f"{sent(last)}: {order}", response=last)
    # SHOULD: either filter alone is accepted too, and means the same.
    alone = [
        ({"exact_tags": tl.tag("red")}, carries(tl.tag("red"))),
        ({"match_tags": tl.tag("RED").upper()}, matches(tl.tag("RED"))),
    ]
    answers = parallel([lambda q=q: pages(http, "/search/images", q, 100, 3) for q, _ in alone])
    for (_, keep), (records, problem, last) in zip(alone, answers, strict=True):
        if not should(target, problem is None, str(problem), response=last, decision=ONE_FILTER):
            continue
        got_, want = sorted(r["id"] for r in records), sorted(tl.ids(keep))
        should(
            target,
            got_ == want,
            f"{sent(last)}: expected {want}, got {got_}",
            response=last,
            decision=ONE_FILTER,
        )


@pytest.mark.rule("TIM-12")
def test_tim12_neither_filter_is_400(target, http):
    r = http.get("/search/images", params={"limit": 5})
    should(
        target,
        r.status_code == 400,
        f"{sent(r)} (neither exact_tags nor match_tags): expected 400, got {got(r)}",
        response=r,
        decision=NEITHER_400,
    )


@pytest.mark.writes
@pytest.mark.rule("TIM-13")
def test_tim13_error_bodies_of_the_posts(http, cleanup):
    """MUST: the POST operations' seed answers every status but 201 with `default`: Error."""
    posts = parallel(
        [
            lambda: http.post("/images", json={"filename": 5, "size": "big", "tags": "none"}),
            lambda: http.post("/tags", json={"name": {"not": "a string"}}),
            lambda: http.post("/upload", json={"filename": "a.png", "image_data": "not*base64!", "tags": []}),
        ]
    )
    for r in posts:
        if 200 <= r.status_code < 300 and isinstance(body_of(r), dict):  # lenient: cleaned up, not judged
            (cleanup.tags if r.request.url.path.endswith("/tags") else cleanup.images).append(
                body_of(r).get("id")
            )
        if 400 <= r.status_code < 500:
            problem = error_body_problem(r)
            check(problem is None, str(problem), response=r)


@pytest.mark.rule("TIM-13")
def test_tim13_error_bodies_of_the_reads(target, http):
    """SHOULD: the seed lists no error for the other operations; our decision gives them the same body."""
    gets = parallel(
        [
            lambda: http.get(f"/images/{MISSING_ID}"),
            lambda: http.get("/images", params={"limit": "many"}),
            lambda: http.get(f"/tags/{MISSING_ID}/images"),
            lambda: http.get(
                "/search/images", params={"exact_tags": "a", "match_tags": "a", "page": "first"}
            ),
        ]
    )
    for r in gets:
        if 400 <= r.status_code < 500:
            problem = error_body_problem(r)
            should(target, problem is None, str(problem), response=r, decision=ERROR_BODY)


@pytest.mark.writes
@pytest.mark.rule("ALL-04")
def test_all04_parallel_creates_lose_nothing(target, http, raw, cleanup):
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
def test_all03_a_size_beyond_int64_is_refused(target, http, cleanup):
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
def test_all05_create_accepts_what_the_seed_allows(target, http, cleanup):
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
def test_all05_upload_accepts_what_the_seed_allows(target, http, cleanup):
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
def test_all05_create_tag_accepts_what_the_seed_allows(target, http, cleanup):
    """TagCreateInput: `name` is optional, of any length (a tag with no name at all: SHOULD)."""
    accepted_all(
        http,
        cleanup,
        "/tags",
        {"a 150-character name": {"name": f"{target.unique('a5t')}-{'n' * 150}"}},
        degenerate={"no name": {}},
    )


@pytest.mark.rule("ALL-05")
def test_all05_reads_accept_the_seed_parameters(http):
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
