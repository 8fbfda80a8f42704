"""Legal sharinpix variants: servers that honour every word of the seed and decide otherwise where it is
silent (statuses of refused tokens, error bodies, number ranges, a missing public_id, the echoed headers).
"""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import parse_qsl

from mockserver.errors import ApiError
from power.mutants.sharinpix import wrap_requests

from . import Variant, before_the_mock
from .evotor import rewrite_responses

API = "sharinpix"
IMAGES = r"/api/v1/albums/[^/]+/images/?$"
INT32_MAX = 2**31 - 1


def _status_instead(old: int, new: int):
    def apply(server):
        rewrite_responses(server, lambda status, body: (new if status == old else status, body), IMAGES)

    return apply


def _errors_as_message(server):
    """Error bodies ``{"message": "..."}`` (Rails' default JSON errors) instead of ``{"error": "..."}``."""

    def change(status, body):
        if status >= 400 and isinstance(body, dict) and "error" in body:
            return status, {"message": body["error"]}
        return status, body

    rewrite_responses(server, change, IMAGES)


def _int32_columns(server):
    """A server storing width, height, bytes and version in signed 32-bit integer columns: larger values
    get 400. The seed shows only values that fit (its largest is version 1484586860)."""
    api = server.ctx.apis[API]
    original = api.create_record

    def _create(album_id, form, *rest):  # rest: the request's origin, for the file URLs
        info = form.get("cloudinary") or {}
        for key in ("width", "height", "bytes", "version"):
            value = info.get(key)
            if isinstance(value, str) and value.isdigit() and int(value) > INT32_MAX:
                raise ApiError(400, f"cloudinary[{key}] is out of range")
        return original(album_id, form, *rest)

    api.create_record = _create


def _generated_public_id(server):
    """A body without cloudinary[public_id] is accepted: the server makes one up. The seed lists every
    parameter as "Required: false", so this is a legal reading (was the mutant spx-generated-public-id)."""

    def rewrite(headers, album_id, body):
        keys = {key for key, _ in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)}
        if "cloudinary[public_id]" not in keys:
            body += b"&cloudinary%5Bpublic_id%5D=" + uuid.uuid4().hex.encode()
        return headers, body

    wrap_requests(server, rewrite)


def _no_echoed_headers(server):
    """No X-token echo and no Cache-Control: the seed's response headers are an example, not a contract
    (was the mutant spx-cache-headers-lost, minus its cacheable answer)."""
    api = server.ctx.apis[API]
    original = api.create_album_image

    async def create_album_image(album_id, token_info=None):
        body, status, headers = await original(album_id, token_info=token_info)
        return body, status, {k: v for k, v in headers.items() if k not in ("X-token", "Cache-Control")}

    api.create_album_image = create_album_image


VARIANTS = [
    Variant(
        "spx-401-for-missing-grant",
        API,
        "SPX-01",
        "x-decision: a token not granting the album gets 403; here 401, as the real SharinPix answers",
        "a token without the album grant gets 401",
        _status_instead(403, 401),
    ),
    Variant(
        "spx-403-without-token",
        API,
        "SPX-01",
        "x-decision: a missing or malformed token gets 401; here 403",
        "a missing or malformed token gets 403",
        _status_instead(401, 403),
    ),
    Variant(
        "spx-errors-message",
        API,
        "ALL-02",
        'x-decision: error bodies {"error": string}; here {"message": string}',
        "error bodies are {message}",
        _errors_as_message,
    ),
    Variant(
        "spx-int32-columns",
        API,
        "SPX-03",
        "x-decision: cloudinary numbers up to 18 digits; here at most 2147483647",
        "width, height, bytes and version beyond 32 bits get 400",
        _int32_columns,
    ),
    Variant(
        "spx-generated-public-id",
        API,
        "SPX-04",
        "x-decision: a missing cloudinary[public_id] gets 400; here the server makes one up",
        "a body without cloudinary[public_id] is accepted",
        _generated_public_id,
    ),
    Variant(
        "spx-no-echoed-headers",
        API,
        "SPX-05",
        "SPX-05 (SHOULD): X-token and Cache-Control as in the seed's example; here neither",
        "no X-token and no Cache-Control header",
        _no_echoed_headers,
    ),
]


def _null_for_absent_echoes(server):
    """A value the request leaves out is answered ``null`` (as the seed's example answers gps, title and
    group_id), not our "" / 0 / "0" fallbacks: filename, format, width, height and size."""
    fallbacks = {"filename": "", "format": "", "width": 0, "height": 0, "size": "0"}

    def change(status, body):
        if status != 200 or not isinstance(body, dict):
            return status, body
        infos = body.get("infos") if isinstance(body.get("infos"), dict) else {}
        sources = {"filename": "original_filename", "size": "bytes"}
        nulled = {
            field: None
            for field, fallback in fallbacks.items()
            if body.get(field) == fallback and sources.get(field, field) not in infos
        }
        return status, {**body, **nulled} if nulled else body

    rewrite_responses(server, change, IMAGES, methods=("POST",))


VARIANTS.append(
    Variant(
        "spx-null-for-absent-echoes",
        API,
        "ALL-02",
        'values the request leaves out answered null instead of "" / 0 / "0"',
        "the seed answers null for what a request leaves out",
        _null_for_absent_echoes,
    )
)


def _numbered_keys_are_map_keys(server):
    """Brackets parsed the Rails (Rack) way: ``k[0]=v`` is the map {"0": v}, not a list, so where the seed
    has a list (``cloudinary[colors][]``) a numbered key is refused (400): only ``k[]=v`` makes a list."""

    async def decide(scope, body):
        if scope["method"] != "POST" or not re.search(IMAGES, scope["path"]):
            return None
        keys = [key for key, _ in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)]
        if any(re.search(r"\[\d+\]", key) for key in keys):
            message = {"error": "numbered keys are map keys here: a list is written k[]=v"}
            return 400, json.dumps(message).encode(), "application/json"
        return None

    before_the_mock(server, decide)


VARIANTS.append(
    Variant(
        "spx-rails-brackets",
        API,
        "SPX-02",
        "numbered bracket keys (k[0]=v) -> refused as map keys where a list is due, instead of read as lists",
        "brackets parsed the Rails way: only k[]=v makes a list",
        _numbered_keys_are_map_keys,
    )
)
