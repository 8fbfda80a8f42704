"""What the tagged-images checks share: the decisions their SHOULD parts name, record and error-body
shapes, the requests that set a check up, and the walk over a paged listing."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from conformance.checks.kit import body_of, in_parallel
from conformance.findings import NotExercised, check, gist, needs, should

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


def error_body_problem(response) -> str | None:
    """TIM-13: an error body is a JSON object {code: integer, message: string}; None when it is."""
    body = body_of(response)
    if not (isinstance(body, dict) and is_int(body.get("code")) and isinstance(body.get("message"), str)):
        text = response.text[:200]
        return f"{sent(response)}: the {response.status_code} body is not {{code, message}}: {text!r}"
    return None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def parallel(calls):
    """Independent requests at once, ``WORKERS`` at a time (the answers in the order of ``calls``)."""
    return in_parallel(calls, workers=WORKERS)


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
    return fetched_from(http.get(f"/images/{image_id}"), image_id)


def fetched_from(response, image_id: int) -> dict:
    """``fetched``, of a GET /images/{id} already answered (read-backs sent together)."""
    r = needs(response, f"GET /images/{image_id}", "TIM-06")
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


def judge_uploaded_file(raw, record: dict, data: bytes, rule: str) -> None:
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


MAX_LIMIT = 100  # the seed's maximum page size of GET /images (and of GET /tags, "paged like images")
FILL_WORKERS = 32  # fillers go out this many at a time: latency, not their count, sets the cost


def judge_whole_listing(http, path: str, mine: set, noun: str, judge: str, also=None) -> None:
    """``path`` read whole at the largest page and at a small one, once it holds more than one maximal page:
    every one of ``mine`` (ids just created) is listed, none twice; ``also(items, limit, last)`` judges
    more (order). A broken page is ``judge``'s."""
    maximal, small = parallel(
        [
            lambda: pages(http, path, {}, MAX_LIMIT, max_pages=60),
            lambda: pages(http, path, {}, 40, max_pages=150),
        ]
    )
    for limit, (items, problem, last) in ((MAX_LIMIT, maximal), (40, small)):
        judge_pages(items, problem, last, judge=judge)
        if problem is not None:
            continue
        listed = [item.get("id") for item in items]
        check(
            mine <= set(listed),
            f"GET {path} (limit {limit}, every page): {len(mine - set(listed))} of the {len(mine)} {noun} "
            f"just created are missing, e.g. {sorted(mine - set(listed))[:5]}",
            response=last,
        )
        check(
            len(listed) == len(set(listed)),
            f"GET {path} (limit {limit}, every page): a {noun[:-1]} is listed twice across pages",
            response=last,
        )
        if also is not None:
            also(items, limit, last)


def delete_all(http, path: str, ids, kept: list) -> None:
    """``DELETE path/{id}`` for each id at the fill's pace; those gone leave ``kept`` (the clean-up's list,
    which retries what remains)."""
    ids = sorted(ids)
    deletes = in_parallel([lambda i=i: http.delete(f"{path}/{i}") for i in ids], workers=FILL_WORKERS)
    removed = {i for i, r in zip(ids, deletes, strict=True) if 200 <= r.status_code < 300}
    kept[:] = [i for i in kept if i not in removed]
