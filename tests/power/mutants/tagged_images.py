"""Broken tagged-images variants: each is one realistic defect, caught on the rule named."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import json
import re
from dataclasses import replace

from starlette.responses import Response

from mockserver.apis import tagged_images
from mockserver.apis.base import json_reply
from mockserver.errors import ApiError

from . import Mutant, on_arrival

API = "tagged-images"


def _api(server):
    return server.ctx.apis[API]


def _rewrite_json(server, method: str, path: str, statuses, transform, status=None) -> None:
    """Rewrites JSON bodies on the wire, after the mock's own response validation: a server whose
    serializer is wrong. ``path`` is a regex matched against the request path; ``status`` (a code, or a
    function of the original body) replaces the status of the rewritten answers (tests/power/variants too)."""
    inner = server.asgi

    async def app(scope, receive, send):
        if scope["type"] != "http" or scope["method"] != method or not re.fullmatch(path, scope["path"]):
            return await inner(scope, receive, send)
        start, chunks = {}, []

        async def capture(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    body = b"".join(chunks)
                    if start["status"] in statuses:
                        original = json.loads(body)
                        body = json.dumps(transform(original)).encode()
                        if status is not None:
                            start["status"] = status(original) if callable(status) else status
                    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                    headers.append((b"content-length", str(len(body)).encode()))
                    await send({**start, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
            else:
                await send(message)

        await inner(scope, receive, capture)

    server.asgi = app


def _url_before_upload(server):
    """The record's url is issued at creation, before any file exists."""
    api = _api(server)
    original = api.public_record

    def _public(image):
        record = original(image)
        if record["url"] is None:
            record["url"] = api.signed_url("GET", image)
        return record

    api.public_record = _public


def _size_is_base64_length(server):
    api = _api(server)
    original = api.upload_image

    async def upload_image(body=None, **kw):
        reply = await original(body=body, **kw)
        if "image_data" in body:  # (a body without it creates a record still to be PUT)
            image = api.images[reply[0]["id"]]  # records are replaced, never changed in place
            api.images[image.id] = replace(image, size=len(body["image_data"]))
        return reply

    api.upload_image = upload_image


def _oldest_first(server):
    api = _api(server)

    async def list_images(
        page=0, limit=20, start_timestamp=None, end_timestamp=None, uploaded_only=False, **_
    ):
        index = api.uploaded_images if uploaded_only else api.all_images
        lo, hi = index.bounds(start_timestamp, end_timestamp)
        keys = index.keys[lo:hi][page * limit : (page + 1) * limit]
        return api.page_of_images([key[1] for key in keys], hi - lo, page, limit)

    api.list_images = list_images


def _has_more_off_by_one(server):
    api = _api(server)
    original = api.list_images

    async def list_images(page=0, limit=20, **kw):
        body, status, headers = await original(page=page, limit=limit, **kw)
        body["meta"]["has_more_pages"] = (page + 1) * limit <= body["meta"]["total_results"]
        return body, status, headers

    api.list_images = list_images


def _exclusive_dates(server):
    api = _api(server)
    original = api.list_images

    async def list_images(start_timestamp=None, end_timestamp=None, **kw):
        start = None if start_timestamp is None else start_timestamp + 1
        end = None if end_timestamp is None else end_timestamp - 1
        return await original(start_timestamp=start, end_timestamp=end, **kw)

    api.list_images = list_images


def _tags_as_names(server):
    _rewrite_json(
        server,
        "GET",
        r".*/tagged-images/v1/images/\d+",
        {200},
        lambda body: {**body, "tags": [t["name"] for t in body["tags"]]},
    )


def _soft_delete_still_listed(server):
    """DELETE hides the record from GET by id only; listings and search still show it."""
    api = _api(server)
    deleted: set[int] = set()
    original_get = api.get_image

    async def delete_image(image_id, **_):
        api.find_image(image_id)
        if image_id in deleted:
            raise ApiError(404, f"Image {image_id} not found")
        deleted.add(image_id)
        return Response(status_code=204)

    async def get_image(image_id, **kw):
        if image_id in deleted:
            raise ApiError(404, f"Image {image_id} not found")
        return await original_get(image_id, **kw)

    api.delete_image, api.get_image = delete_image, get_image


def _tags_never_reused(server):
    """The lookup by name misses, so every image gets fresh tags, duplicates of existing names."""
    api = _api(server)
    new_tag, delete_tag = api.new_tag, api.delete_tag

    def _tag_ids(names):
        ids = []
        for name in dict.fromkeys(names or []):
            first = api.tag_by_name.get(name)
            ids.append(new_tag(name).id)
            if first is not None:  # the lookup keeps the first of the name: the mock itself stays sound
                api.tag_by_name[name] = first
        return ids

    async def delete(tag_id, **kw):
        tag = api.tags.get(tag_id)
        if tag is not None:
            api.tag_by_name[tag.name] = tag
        reply = await delete_tag(tag_id, **kw)
        survivor = next((t for t in api.tags.values() if tag is not None and t.name == tag.name), None)
        if survivor is not None:
            api.tag_by_name[survivor.name] = survivor
        return reply

    api.tag_ids_for, api.delete_tag = _tag_ids, delete


def _tags_in_creation_order(server):
    api = _api(server)

    async def list_tags(page=0, limit=20, **_):
        tags = list(api.tags.values())
        chunk = tags[page * limit : (page + 1) * limit]
        meta = {
            "current_page": page,
            "total_results": len(tags),
            "has_more_pages": (page + 1) * limit < len(tags),
        }
        return json_reply({"results": [t.public() for t in chunk], "meta": meta})

    api.list_tags = list_tags


def _tag_images_oldest_first(server):
    api = _api(server)

    async def list_tag_images(
        tag_id, page=0, limit=20, start_timestamp=None, end_timestamp=None, uploaded_only=False, **_
    ):
        keys = [
            key
            for key in api.tag_images[api.find_tag(tag_id).id].keys
            if (start_timestamp is None or key[0] >= start_timestamp)
            and (end_timestamp is None or key[0] <= end_timestamp)
            and (not uploaded_only or api.images[key[1]].uploaded_timestamp is not None)
        ]
        chunk = keys[page * limit : (page + 1) * limit]
        return api.page_of_images([key[1] for key in chunk], len(keys), page, limit)

    api.list_tag_images = list_tag_images


def _tag_delete_deletes_images(server):
    api = _api(server)
    original = api.delete_tag

    async def delete_tag(tag_id, **kw):
        tag = api.find_tag(tag_id)
        for image_id in list(api.tag_images[tag.id].newest_first(None, None)):
            await api.delete_image(image_id)
        return await original(tag_id, **kw)

    api.delete_tag = delete_tag


def _search_with(server, exact_ok, match_ok):
    """A search whose filters are ``exact_ok(names, wanted)`` and ``match_ok(names, patterns)``, ANDed
    when both are given (as the seed requires): each mutant below breaks one of them."""
    api = _api(server)
    original = api.search_images

    async def search_images(**kw):  # Connexion passes the spec's parameters by name
        exact_tags, match_tags = kw.get("exact_tags"), kw.get("match_tags")
        if exact_tags is None and match_tags is None:
            return await original(**kw)

        def keep(image):
            names = [api.tags[t].name for t in image.tag_ids]
            return (exact_tags is None or exact_ok(names, exact_tags)) and (
                match_tags is None or match_ok(names, match_tags)
            )

        index = api.uploaded_images if kw.get("uploaded_only", False) else api.all_images
        return api.filtered_page(
            index,
            kw.get("start_timestamp"),
            kw.get("end_timestamp"),
            keep,
            kw.get("page", 0),
            kw.get("limit", 20),
        )

    api.search_images = search_images


def _like(pattern: str, name: str, flags=re.IGNORECASE) -> bool:
    return (
        re.fullmatch(".*".join(re.escape(p) for p in pattern.split("%")), name, flags | re.DOTALL) is not None
    )


def _all_present(names, wanted) -> bool:
    return all(w in names for w in wanted)


def _all_match(names, patterns) -> bool:
    return all(any(_like(p, n) for n in names) for p in patterns)


def _match_case_sensitive(server):
    _search_with(
        server,
        _all_present,
        lambda names, patterns: all(any(_like(p, n, flags=0) for n in names) for p in patterns),
    )


def _exact_any(server):
    """exact_tags matches images carrying ANY of the tags, not all of them."""
    _search_with(server, lambda names, wanted: any(w in names for w in wanted), _all_match)


_PUT_BODY: contextvars.ContextVar[bool] = contextvars.ContextVar("tim_put_body", default=False)


def _truncated_put(server):
    """A PUT to upload_url stores the bytes without the last one (the one-shot upload is intact)."""
    api = _api(server)
    receive_file, store_bytes = api.receive_file, api.store_bytes

    async def receive(key, request):
        _PUT_BODY.set(True)  # this task only: parallel /upload requests are not touched
        return await receive_file(key, request)

    def store(key, data, content_type):
        return store_bytes(key, data[:-1] if _PUT_BODY.get() else data, content_type)

    api.receive_file, api.store_bytes = receive, store


def _upload_answers_the_record(server):
    """POST /upload answers the whole record (201) instead of the seed's {id, upload_url}."""
    api = _api(server)
    whole = lambda body: api.public_record(api.images[body["id"]])  # noqa: E731
    _rewrite_json(server, "POST", r".*/v1/upload", {201}, whole)


def _delete_keeps_the_record(server):
    """As the real original does, a DELETE /images/{id} that deletes nothing (answering 204 here: the
    original's 200 is also a break of ALL-02, documented statuses, so this mutant would fail two rules)."""
    api = _api(server)

    async def delete_image(image_id, **_):
        api.find_image(image_id)
        return Response(status_code=204)

    api.delete_image = delete_image


def _oversize_as_plain_text(server):
    """POST /upload's 413 is a plain-text page (a front proxy's), not the seed's Error (its `default`)."""
    inner = server.asgi

    async def app(scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith("/v1/upload"):
            return await inner(scope, receive, send)
        status = {}

        async def rewrite(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                if message["status"] != 413:
                    return await send(message)
                await send(
                    {**message, "headers": [(b"content-type", b"text/plain"), (b"content-length", b"24")]}
                )
            elif message["type"] == "http.response.body" and status.get("code") == 413:
                if not message.get("more_body"):
                    await send({"type": "http.response.body", "body": b"Request Entity Too Large"})
            else:
                await send(message)

        await inner(scope, receive, rewrite)

    server.asgi = app


def _refuse_on_create(server, problem):
    """POST /images and POST /upload refuse a body the seed allows, as ``problem(body)`` names it."""
    api = _api(server)
    create_image, upload_image = api.create_image, api.upload_image

    def guarded(original):
        async def handler(body=None, **kw):
            reason = problem(body or {})
            if reason:
                raise ApiError(400, reason)
            return await original(body=body, **kw)

        return handler

    api.create_image, api.upload_image = guarded(create_image), guarded(upload_image)


def _short_filenames_refused(server):
    """As the real original does: a filename under 3 characters gets 400."""
    _refuse_on_create(server, lambda b: "'filename' is too short" if len(b.get("filename", "")) < 3 else None)


def _size_required(server):
    """As the real original does: POST /images without `size` gets 400."""
    api = _api(server)
    original = api.create_image

    async def create_image(body=None, **kw):
        if "size" not in (body or {}):
            raise ApiError(400, "'size' is a required property")
        return await original(body=body, **kw)

    api.create_image = create_image


def _tags_required(server):
    _refuse_on_create(server, lambda b: None if "tags" in b else "'tags' is a required property")


def _tag_names_limited(server):
    """The old mock's decision: tag names over 100 characters get 400."""
    _refuse_on_create(
        server,
        lambda b: (
            "a tag name is over 100 characters"
            if any(len(t) > 100 for t in b.get("tags") or [] if isinstance(t, str))
            else None
        ),
    )


def _racy_upload(server):
    """The decoded file is kept in one shared variable from the request's arrival on: parallel uploads
    store each other's bytes (each record is created, but its url serves another upload's file)."""
    api = _api(server)
    original = api.upload_image
    latest = {}

    def arrived(body: bytes) -> None:
        with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
            latest["data"] = json.loads(body)["image_data"]

    async def upload_image(body=None, **kw):
        if "image_data" in body and "data" in latest:
            body = {**body, "image_data": latest["data"]}
        await asyncio.sleep(0.02)  # e.g. an asynchronous virus scan
        return await original(body=body, **kw)

    on_arrival(server, "POST", r".*/upload", arrived)
    api.upload_image = upload_image


def _tags_die_on_bidi_overrides(server):
    """A tag name with a right-to-left override is stored and answered 201, then the tag listing that
    holds it answers 500 (a sanitiser on the way out that raises)."""
    api = _api(server)
    original = api.list_tags

    async def list_tags(**kwargs):
        if any("\u202e" in tag.name for tag in api.tags.values()):
            raise RuntimeError("refusing to render a bidi override")
        return await original(**kwargs)

    api.list_tags = list_tags


def _timestamps_since_2001(server):
    """Records are stamped in seconds since 2001-01-01 (the reference date of Apple's Foundation), not the
    Unix Epoch, consistently: the date filters take the same clock, so listings and searches stay right;
    only the seed's "seconds since Unix Epoch" breaks."""
    api = _api(server)

    def create_record(filename, size, tag_names, blob=None):
        image_id = api.next_image_id
        stamp = tagged_images.now() - 978_307_200
        if blob is not None:
            api.store_bytes(str(image_id), *blob)
        api.next_image_id += 1
        image = tagged_images.Image(image_id, filename, size, stamp, tag_ids=api.tag_ids_for(tag_names))
        if blob is not None:
            image.uploaded_timestamp = stamp
        api._index_image(image)
        return image

    api.create_record = create_record


MUTANTS = [
    Mutant("tim-url-before-upload", API, "TIM-01", "url is set before the file arrives", _url_before_upload),
    Mutant(
        "tim-truncated-put", API, "TIM-02", "a PUT to upload_url stores all but the last byte", _truncated_put
    ),
    Mutant("tim-size-base64-length", API, "TIM-03", "size is the base64 length", _size_is_base64_length),
    Mutant("tim-oldest-first", API, "TIM-04", "GET /images lists oldest first", _oldest_first),
    Mutant(
        "tim-has-more-off-by-one",
        API,
        "TIM-04",
        "has_more_pages true on the last full page",
        _has_more_off_by_one,
    ),
    Mutant("tim-exclusive-dates", API, "TIM-05", "the date range excludes its bounds", _exclusive_dates),
    Mutant(
        "tim-timestamps-since-2001",
        API,
        "TIM-05",
        "records are stamped in seconds since 2001, not since the Unix Epoch",
        _timestamps_since_2001,
    ),
    Mutant("tim-tags-as-names", API, "TIM-06", "GET /images/{id} gives tags as plain names", _tags_as_names),
    Mutant(
        "tim-soft-delete-listed",
        API,
        "TIM-07",
        "deleted records stay in listings and search",
        _soft_delete_still_listed,
    ),
    Mutant(
        "tim-tags-never-reused",
        API,
        "TIM-08",
        "naming an existing tag creates a duplicate",
        _tags_never_reused,
    ),
    Mutant(
        "tim-tags-creation-order", API, "TIM-08", "GET /tags lists in creation order", _tags_in_creation_order
    ),
    Mutant(
        "tim-tag-images-oldest-first",
        API,
        "TIM-10",
        "a tag's images are listed oldest first",
        _tag_images_oldest_first,
    ),
    Mutant(
        "tim-tag-delete-deletes-images",
        API,
        "TIM-11",
        "deleting a tag deletes its images",
        _tag_delete_deletes_images,
    ),
    Mutant("tim-match-case-sensitive", API, "TIM-12", "match_tags is case-sensitive", _match_case_sensitive),
    Mutant("tim-exact-any", API, "TIM-12", "exact_tags matches any of the tags, not all", _exact_any),
    Mutant(
        "tim-upload-answers-record",
        API,
        "TIM-03",
        "POST /upload answers the record, not {id, upload_url}",
        _upload_answers_the_record,
    ),
    Mutant(
        "tim-delete-keeps-record",
        API,
        "TIM-07",
        "DELETE answers 204 and keeps the record",
        _delete_keeps_the_record,
    ),
    # GET /images/{id}'s errors as {error} moved to tests/power/variants: the seed lists no error for reads.
    Mutant(
        "tim-oversize-plain-text", API, "TIM-13", "POST /upload's 413 is plain text", _oversize_as_plain_text
    ),
    Mutant(
        "tim-short-filename-refused",
        API,
        "ALL-05",
        "filenames under 3 characters get 400",
        _short_filenames_refused,
    ),
    Mutant("tim-size-required", API, "ALL-05", "POST /images without size gets 400", _size_required),
    Mutant("tim-tags-required", API, "ALL-05", "a create without tags gets 400", _tags_required),
    Mutant(
        "tim-tag-names-limited", API, "ALL-05", "tag names over 100 characters get 400", _tag_names_limited
    ),
    Mutant("tim-racy-upload", API, "ALL-04", "parallel uploads overwrite each other's files", _racy_upload),
    Mutant(
        "tim-tags-die-on-bidi-overrides",
        API,
        "ALL-06",
        "an accepted tag name with U+202E makes GET /tags answer 500",
        _tags_die_on_bidi_overrides,
    ),
]


def _same_second_oldest_first(server):
    """A tag's images are sorted by created_timestamp alone, newest second first, but within one second
    the older record first (ascending ids): records created within one second come out of order."""

    def reorder(body):
        results = body.get("results")
        if isinstance(results, list):
            body = {**body, "results": sorted(results, key=lambda r: (-r["created_timestamp"], r["id"]))}
        return body

    _rewrite_json(server, "GET", r".*/tagged-images/v1/tags/[^/]+/images", {200}, reorder)


MUTANTS.append(
    Mutant(
        "tim-same-second-oldest-first",
        API,
        "TIM-10",
        "a tag's images created within one second are listed oldest first",
        _same_second_oldest_first,
    )
)


def _string_ids_past_page_one(server):
    """GET /images gives each record's id as a string on page 2 and later (a second serializer for deep
    pages): only a check that reads past the first pages sees the schema break."""

    def stringify(body):
        if body.get("meta", {}).get("current_page", 0) >= 2:
            body = {**body, "results": [{**r, "id": str(r["id"])} for r in body.get("results", [])]}
        return body

    _rewrite_json(server, "GET", r".*/tagged-images/v1/images", {200}, stringify)


MUTANTS.append(
    Mutant("tim-page-two-string-ids", API, "ALL-02", "ids are strings past page 1", _string_ids_past_page_one)
)


def _search_ignores_end_timestamp(server):
    """GET /search/images drops end_timestamp (the listing honours it): a second copy of the filters."""
    api = _api(server)
    original = api.search_images

    async def search_images(end_timestamp=None, **kw):
        return await original(**kw)

    api.search_images = search_images


MUTANTS.append(
    Mutant(
        "tim-search-ignores-end-timestamp",
        API,
        "TIM-12",
        "GET /search/images ignores end_timestamp",
        _search_ignores_end_timestamp,
    )
)


def _large_one_shot_truncated(server):
    """POST /upload keeps only the first MiB of a larger file (a fixed decode buffer); small files, and
    every PUT to upload_url, are stored whole."""
    api = _api(server)
    original = api.upload_image

    async def upload_image(body=None, **kw):
        if isinstance(body, dict) and isinstance(body.get("image_data"), str):
            data = base64.b64decode(body["image_data"])
            if len(data) > 2**20:
                body = {**body, "image_data": base64.b64encode(data[: 2**20]).decode()}
        return await original(body=body, **kw)

    api.upload_image = upload_image


MUTANTS.append(
    Mutant(
        "tim-large-upload-truncated",
        API,
        "TIM-03",
        "POST /upload stores only the first MiB of a larger file",
        _large_one_shot_truncated,
    )
)


def _tags_first_hundred_only(server):
    """GET /tags lists at most the first 100 tags in its order (a fixed-size cache of the listing): right
    while a server holds fewer, its totals and later pages lose the rest."""
    api = _api(server)

    async def list_tags(page=0, limit=20, **_):
        order = api.tag_order[:100]
        chunk = order[page * limit : (page + 1) * limit] if page >= 0 and limit > 0 else []
        results = [api.tags[tag_id].public() for _, tag_id in chunk]
        return tagged_images.browse_page(results, len(order), page, limit)

    api.list_tags = list_tags


MUTANTS.append(
    Mutant(
        "tim-tags-first-hundred-only",
        API,
        "TIM-08",
        "GET /tags lists only the first 100 tags",
        _tags_first_hundred_only,
    )
)
