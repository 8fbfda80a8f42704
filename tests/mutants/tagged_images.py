"""Broken tagged-images variants: each is one realistic defect, caught on the rule named."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re

from starlette.responses import Response

from mockserver.apis.base import json_reply
from mockserver.errors import ApiError

from . import Mutant

API = "tagged-images"


def _api(server):
    return server.ctx.apis[API]


def _rewrite_json(server, method: str, path: str, statuses, transform) -> None:
    """Rewrites JSON bodies on the wire, after the mock's own response validation: a server whose
    serializer is wrong. ``path`` is a regex matched against the request path."""
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
                        body = json.dumps(transform(json.loads(body))).encode()
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
    original = api._public

    def _public(image):
        record = original(image)
        if record["url"] is None:
            record["url"] = api._signed_url("GET", image)
        return record

    api._public = _public


def _truncated_file(server):
    api = _api(server)
    original = api.serve_file

    async def serve_file(key, request):
        response = await original(key, request)
        return Response(response.body[:-1], media_type=response.media_type)

    api.serve_file = serve_file


def _size_is_base64_length(server):
    api = _api(server)
    original = api.upload_image

    async def upload_image(body=None, **kw):
        reply = await original(body=body, **kw)
        api.images[reply[0]["id"]].size = len(body["image_data"])
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
        return api._browse([key[1] for key in keys], hi - lo, page, limit)

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
        api._get(image_id)
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
    api._tag_ids = lambda names: [api._new_tag(name).id for name in dict.fromkeys(names or [])]


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
            for key in api.tag_images[api._get_tag(tag_id).id].keys
            if (start_timestamp is None or key[0] >= start_timestamp)
            and (end_timestamp is None or key[0] <= end_timestamp)
            and (not uploaded_only or api.images[key[1]].uploaded_timestamp is not None)
        ]
        chunk = keys[page * limit : (page + 1) * limit]
        return api._browse([key[1] for key in chunk], len(keys), page, limit)

    api.list_tag_images = list_tag_images


def _tag_delete_deletes_images(server):
    api = _api(server)
    original = api.delete_tag

    async def delete_tag(tag_id, **kw):
        tag = api._get_tag(tag_id)
        for image_id in list(api.tag_images[tag.id].newest_first(None, None)):
            await api.delete_image(image_id)
        return await original(tag_id, **kw)

    api.delete_tag = delete_tag


def _match_case_sensitive(server):
    api = _api(server)
    original = api.search_images

    async def search_images(**kw):  # Connexion passes the spec's parameters by name
        exact_tags, match_tags = kw.get("exact_tags"), kw.get("match_tags")
        page, limit = kw.get("page", 0), kw.get("limit", 20)
        start_timestamp, end_timestamp = kw.get("start_timestamp"), kw.get("end_timestamp")
        uploaded_only = kw.get("uploaded_only", False)
        if match_tags is None or exact_tags is not None:
            return await original(**kw)
        patterns = [re.compile(".*".join(re.escape(p) for p in pattern.split("%"))) for pattern in match_tags]

        def keep(image):
            names = [api.tags[t].name for t in image.tag_ids]
            return all(any(p.fullmatch(n) for n in names) for p in patterns)

        index = api.uploaded_images if uploaded_only else api.all_images
        return api._filtered_page(index, start_timestamp, end_timestamp, keep, page, limit)

    api.search_images = search_images


def _exact_any(server):
    """exact_tags matches images carrying ANY of the tags, not all of them."""
    api = _api(server)
    original = api.search_images

    async def search_images(**kw):  # Connexion passes the spec's parameters by name
        exact_tags, match_tags = kw.get("exact_tags"), kw.get("match_tags")
        page, limit = kw.get("page", 0), kw.get("limit", 20)
        start_timestamp, end_timestamp = kw.get("start_timestamp"), kw.get("end_timestamp")
        uploaded_only = kw.get("uploaded_only", False)
        if exact_tags is None or match_tags is not None:
            return await original(**kw)
        ids = {api.tag_by_name[name].id for name in exact_tags if name in api.tag_by_name}
        index = api.uploaded_images if uploaded_only else api.all_images
        return api._filtered_page(
            index, start_timestamp, end_timestamp, lambda image: bool(ids & set(image.tag_ids)), page, limit
        )

    api.search_images = search_images


def _error_body_shape(server):
    """The record operations' errors come as {"error": message}."""
    _rewrite_json(
        server,
        "GET",
        r".*/tagged-images/v1/images/[^/]+",
        range(400, 500),
        lambda body: {"error": body["message"]},
    )


def _racy_upload(server):
    """The file is stored under the id read before an await: parallel uploads overwrite each other."""
    api = _api(server)

    async def upload_image(body=None, **_):
        try:
            data = base64.b64decode(body["image_data"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ApiError(400, "'image_data' is not valid base64") from exc
        facts = api.image_facts(data)
        slot = str(api.next_image_id)
        await asyncio.sleep(0.02)  # e.g. an asynchronous virus scan
        image = api._create(body["filename"], len(data), body.get("tags"))
        api.store_bytes(slot, data, facts.mime)
        image.uploaded_timestamp = image.created_timestamp
        api.uploaded_images.add(image.key)
        return api._created(image)

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


MUTANTS = [
    Mutant("tim-url-before-upload", API, "TIM-01", "url is set before the file arrives", _url_before_upload),
    Mutant("tim-truncated-file", API, "TIM-02", "the file url loses the last byte", _truncated_file),
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
        "tim-error-body-shape", API, "TIM-13", "GET /images/{id} errors are {error} bodies", _error_body_shape
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
