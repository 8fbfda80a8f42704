"""Legal sharinpix variants: servers that honour every word of the seed and decide otherwise where it is
silent (statuses of refused tokens, error bodies, number ranges, a missing public_id, the echoed headers).
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl

from mutants.sharinpix import wrap_requests

from mockserver.errors import ApiError

from . import Variant
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
    original = api._create

    def _create(album_id, form, *rest):  # rest: the request's origin, for the file URLs
        info = form.get("cloudinary") or {}
        for key in ("width", "height", "bytes", "version"):
            value = info.get(key)
            if isinstance(value, str) and value.isdigit() and int(value) > INT32_MAX:
                raise ApiError(400, f"cloudinary[{key}] is out of range")
        return original(album_id, form, *rest)

    api._create = _create


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
