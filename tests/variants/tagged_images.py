"""Legal tagged-images variants: each decides otherwise where the seed (004_...) is silent, as another team's
faithful server might; the suite must pass each in default mode and warn on the rule named."""

from __future__ import annotations

import json

from mutants.tagged_images import _rewrite_json

from mockserver.apis.base import json_reply
from mockserver.errors import ApiError

from . import Variant

API = "tagged-images"


def _api(server):
    return server.ctx.apis[API]


def _unknown_image_is_410(server):
    """The seed lists only 200 (GET) and 204 (DELETE): an id no record has (any more) is 410 Gone."""
    api = _api(server)
    original = api._get

    def _get(image_id):
        try:
            return original(image_id)
        except ApiError as exc:
            raise ApiError(410, f"image {image_id} is gone") from exc

    api._get = _get


def _unknown_tag_is_empty(server):
    """GET /tags/{unknown}/images answers an empty page: no image carries a tag nobody has."""
    api = _api(server)
    original = api.list_tag_images

    async def list_tag_images(tag_id, page=0, limit=20, **kw):
        if tag_id not in api.tags:
            meta = {"current_page": page, "total_results": 0, "has_more_pages": False}
            return json_reply({"results": [], "meta": meta})
        return await original(tag_id, page=page, limit=limit, **kw)

    api.list_tag_images = list_tag_images


def _duplicate_tag_is_idempotent(server):
    """POST /tags with an existing name answers that tag (201), as an idempotent create."""
    api = _api(server)
    original = api.create_tag

    async def create_tag(body=None, **kw):
        existing = api.tag_by_name.get((body or {}).get("name"))
        if existing is not None:
            return json_reply(existing.public(), 201)
        return await original(body=body, **kw)

    api.create_tag = create_tag


def _search_requires_both(server):
    """The seed's literal reading: exact_tags and match_tags are both required; one alone gets 400."""
    api = _api(server)
    original = api.search_images

    async def search_images(**kw):
        if kw.get("exact_tags") is None or kw.get("match_tags") is None:
            raise ApiError(400, "'exact_tags' and 'match_tags' are both required")
        return await original(**kw)

    api.search_images = search_images


def _search_without_filters_lists_all(server):
    """A search with neither filter is not refused: it lists every image (paged and filtered by date)."""
    api = _api(server)
    original = api.search_images

    async def search_images(**kw):
        if kw.get("exact_tags") is None and kw.get("match_tags") is None:
            ids, total = api.all_images.page(
                kw.get("start_timestamp"), kw.get("end_timestamp"), kw.get("page", 0), kw.get("limit", 20)
            )
            return api._browse(ids, total, kw.get("page", 0), kw.get("limit", 20))
        return await original(**kw)

    api.search_images = search_images


def _read_errors_as_error_key(server):
    """The reads (whose seed lists no error) answer errors as {"error": message}; the POSTs keep Error."""
    _rewrite_json(
        server, "GET", r".*/tagged-images/v1/.*", range(400, 500), lambda b: {"error": b["message"]}
    )


def _unsigned_upload_url(server):
    """upload_url is a plain URL: no signature, no expiry (an internal network's upload endpoint)."""
    api = _api(server)
    api._signed_url = lambda method, image: api.file_url(image.blob)
    api._check_signature = lambda method, request: None


def _tag_listing_ignores_parameters(server):
    """GET /tags/{id}/images takes no parameters (the seed lists none): always every image, one page."""
    api = _api(server)
    original = api.list_tag_images

    async def list_tag_images(tag_id, **_):
        return await original(tag_id, page=0, limit=100)

    api.list_tag_images = list_tag_images


def _oversize_is_400(server):
    """A body over 3.96 MB is a malformed request: 400 (the seed names no status)."""
    _rewrite_json(
        server, "POST", r".*/tagged-images/v1/upload", {413}, lambda b: {**b, "code": 400}, status=400
    )


def _bad_base64_is_422(server):
    """image_data that is not base64 is well-formed JSON with a bad value: 422."""
    _rewrite_json(
        server,
        "POST",
        r".*/tagged-images/v1/upload",
        {400},
        lambda b: {**b, "code": 422} if "base64" in b.get("message", "") else b,
        status=lambda b: 422 if "base64" in json.dumps(b) else 400,
    )


def _past_the_end_is_404(server):
    """A page past the last one of GET /images is "no such page", 404."""
    api = _api(server)
    original = api.list_images

    async def list_images(page=0, limit=20, **kw):
        body, status, headers = await original(page=page, limit=limit, **kw)
        if page > 0 and not body["results"]:
            raise ApiError(404, f"page {page} is past the last page")
        return body, status, headers

    api.list_images = list_images


VARIANTS = [
    Variant(
        "tim-unknown-image-410",
        API,
        "TIM-06",
        "unknown image id -> 410 instead of 404",
        "GET and DELETE of an unknown image id get 410 Gone",
        _unknown_image_is_410,
    ),
    Variant(
        "tim-unknown-tag-empty",
        API,
        "TIM-10",
        "unknown tag id -> 200 with an empty page instead of 404",
        "a tag nobody has carries no images",
        _unknown_tag_is_empty,
    ),
    Variant(
        "tim-duplicate-tag-idempotent",
        API,
        "TIM-09",
        "duplicate tag name -> 201 with that tag, not 409",
        "POST /tags is idempotent by name",
        _duplicate_tag_is_idempotent,
    ),
    Variant(
        "tim-search-requires-both",
        API,
        "TIM-12",
        "one search filter alone -> 400 (the seed requires both)",
        "exact_tags and match_tags both required, as the seed marks them",
        _search_requires_both,
    ),
    Variant(
        "tim-search-neither-lists-all",
        API,
        "TIM-12",
        "a search with neither filter -> 200, all images",
        "a search without tags is not refused",
        _search_without_filters_lists_all,
    ),
    Variant(
        "tim-read-errors-error-key",
        API,
        "TIM-13",
        "errors of the reads as {error}, not {code, message}",
        "the seed shows the Error schema only on the POSTs",
        _read_errors_as_error_key,
    ),
    Variant(
        "tim-unsigned-upload-url",
        API,
        "TIM-02",
        "upload_url unsigned and never expiring",
        "a plain upload URL",
        _unsigned_upload_url,
    ),
    Variant(
        "tim-tag-listing-no-parameters",
        API,
        "TIM-10",
        "GET /tags/{id}/images ignores page, limit and filters (the seed lists none)",
        "one page with every image of the tag",
        _tag_listing_ignores_parameters,
    ),
    Variant(
        "tim-oversize-400",
        API,
        "TIM-03",
        "a body over 3.96 MB -> 400 instead of 413",
        "oversized uploads are malformed requests",
        _oversize_is_400,
    ),
    Variant(
        "tim-bad-base64-422",
        API,
        "TIM-03",
        "image_data not base64 -> 422 instead of 400",
        "a bad value in well-formed JSON",
        _bad_base64_is_422,
    ),
    Variant(
        "tim-past-the-end-404",
        API,
        "TIM-04",
        "a page past the last one -> 404 instead of 200 and []",
        "no such page",
        _past_the_end_is_404,
    ),
]
