"""Legal tagged-images variants: each decides otherwise where the seed (004_...) is silent, as another team's
faithful server might; the suite must pass each in default mode and warn on the rule named."""

from __future__ import annotations

import json
from contextvars import ContextVar
from urllib.parse import parse_qs, urlencode

from mockserver.apis.base import json_reply
from mockserver.errors import ApiError
from mockserver.request_state import CURRENT_SCOPE
from power.mutants.tagged_images import _rewrite_json

from . import Variant, before_the_mock
from .evotor import rewrite_responses

API = "tagged-images"


def _api(server):
    return server.ctx.apis[API]


def _unknown_image_is_410(server):
    """The seed lists only 200 (GET) and 204 (DELETE): an id no record has (any more) is 410 Gone."""
    api = _api(server)
    original = api.find_image

    def _get(image_id):
        try:
            return original(image_id)
        except ApiError as exc:
            raise ApiError(410, f"image {image_id} is gone") from exc

    api.find_image = _get


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
            return api.page_of_images(ids, total, kw.get("page", 0), kw.get("limit", 20))
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
    api.signed_url = lambda method, image: api.file_url(image.blob)
    api.check_signature = lambda method, request: None


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


# -- values the seed's types admit but its meaning does not address, and bounds it states ----------------
def _error(message: str, status: int = 400):
    return status, json.dumps({"code": status, "message": message}).encode(), "application/json"


def _query(scope) -> dict[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)


def _refuses_degenerate_values(server):
    """A negative page, a limit under 1, a negative size, an empty file or tag name, a tag without a name:
    the seed's types admit them, its meaning never says what they mean; this server refuses them (400)."""

    async def decide(scope, body):
        if server.ctx.api_for_path(scope["path"]) != API or scope["method"] not in ("GET", "POST"):
            return None
        query = _query(scope) if scope["method"] == "GET" else {}
        for name, low in (("page", 0), ("limit", 1)):
            for value in query.get(name, []):
                if value.lstrip("-").isdigit() and int(value) < low:
                    return _error(f"{name} must be at least {low}")
        if scope["method"] != "POST" or not body or scope["path"].endswith("/search/images"):
            return None
        try:
            sent = json.loads(body)
        except ValueError:
            return None
        if not isinstance(sent, dict):
            return None
        if scope["path"].endswith("/tags") and not sent.get("name"):
            return _error("a tag needs a name")
        size = sent.get("size")
        if isinstance(size, int) and not isinstance(size, bool) and size < 0:
            return _error("size must not be negative")
        tags = sent.get("tags")
        if sent.get("filename") == "" or (isinstance(tags, list) and "" in tags):
            return _error("names must not be empty")
        return None

    before_the_mock(server, decide)


def _clamps_limit(server):
    """A limit over the seed's "(max 100)" is served as 100, not refused."""

    async def decide(scope, body):
        if server.ctx.api_for_path(scope["path"]) != API or scope["method"] != "GET":
            return None
        query = _query(scope)
        limits = query.get("limit", [])
        if not any(v.isdigit() and int(v) > 100 for v in limits):
            return None
        query["limit"] = [str(min(int(v), 100)) if v.isdigit() else v for v in limits]
        return {**scope, "query_string": urlencode(query, doseq=True).encode()}

    before_the_mock(server, decide)


MIB_LIMIT = int(3.96 * 2**20)


def _reads_mb_as_mib(server):
    """ "3.96 MB" read as 3.96 MiB (4,152,360 bytes): a body between the two readings is accepted."""
    api = _api(server)

    async def decide(scope, body):
        if not (scope["method"] == "POST" and scope["path"].endswith("/tagged-images/v1/upload")):
            return None
        if not 3_960_000 < len(body) <= MIB_LIMIT:
            return None
        token = CURRENT_SCOPE.set(scope)  # the handler builds URLs from the request's origin
        try:
            reply, status, _ = await api.upload_image(body=json.loads(body))
        except ApiError as exc:
            return _error(str(exc), exc.status)
        finally:
            CURRENT_SCOPE.reset(token)
        return status, json.dumps(reply).encode(), "application/json"

    before_the_mock(server, decide)


def _trace_is_501(server):
    """TRACE, which no operation defines, gets 501 Not Implemented from the HTTP layer (as many do)."""

    async def decide(scope, body):
        if scope["method"] == "TRACE" and server.ctx.api_for_path(scope["path"]) == API:
            return 501, b"Not Implemented", "text/plain"
        return None

    before_the_mock(server, decide)


VARIANTS += [
    Variant(
        "tim-refuses-degenerate-values",
        API,
        "ALL-05",
        "negative page, limit 0, negative size, empty names, a tag without a name -> 400",
        "values the seed's types admit but its meaning does not address are refused",
        _refuses_degenerate_values,
    ),
    Variant(
        "tim-clamps-limit",
        API,
        "ALL-03",
        "limit over 100 -> served as 100 instead of 400",
        "a request beyond the seed's stated maximum is clamped",
        _clamps_limit,
    ),
    Variant(
        "tim-mb-is-mib",
        API,
        "TIM-03",
        "3.96 MB read as 3.96 MiB: a payload between the readings is accepted",
        "the seed's unit read the binary way",
        _reads_mb_as_mib,
    ),
    Variant(
        "tim-trace-501",
        API,
        "ALL-01",
        "TRACE (defined by no operation) -> 501 instead of 405 with Allow",
        "HTTP's own answer for an unsupported method",
        _trace_is_501,
    ),
]


INT64_MAX = 2**63 - 1


def _stores_integers_beyond_int64(server):
    """A bare `integer` size is stored as given, however wide (Python's, PostgreSQL's numeric): the mock's
    int64 is our decision. Done on the wire: a create with a wider size reaches the mock with size 0, and
    every record answered for it carries the size that was sent (until an upload sets the real one)."""
    from power.mutants import read_body, replaying

    wide: dict[int, int] = {}
    sent_size: ContextVar[int | None] = ContextVar("sent_size", default=None)  # of this request's create

    def restore(node):
        if isinstance(node, list):
            return [restore(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {key: restore(value) for key, value in node.items()}
        if node.get("id") in wide and node.get("size") == 0 and "created_timestamp" in node:
            node["size"] = wide[node["id"]]
        return node

    def change(status, answer):
        size = sent_size.get()
        if size is not None and isinstance(answer, dict) and isinstance(answer.get("id"), int):
            wide[answer["id"]] = size
        elif wide and answer is not None:
            changed = restore(answer)
            if changed != answer:
                return status, changed
        return status, answer

    rewrite_responses(server, change, r"^(/tagged-images)?/v1/")
    inner = server.asgi

    async def app(scope, receive, send):
        if scope["type"] != "http" or server.ctx.api_for_path(scope.get("path", "")) != API:
            return await inner(scope, receive, send)
        body = await read_body(receive)
        if scope["method"] == "POST" and scope["path"].endswith("/v1/images"):
            try:
                sent = json.loads(body)
            except ValueError:
                sent = None
            value = sent.get("size") if isinstance(sent, dict) else None
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT64_MAX:
                sent_size.set(value)
                body = json.dumps({**sent, "size": 0}).encode()
                headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
                scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        await inner(scope, replaying(body, receive), send)

    server.asgi = app


VARIANTS.append(
    Variant(
        "tim-stores-beyond-int64",
        API,
        "ALL-03",
        "a size beyond the int64 range -> stored and answered as sent instead of 400",
        "a bare `integer` read as unbounded",
        _stores_integers_beyond_int64,
    )
)
