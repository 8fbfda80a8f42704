"""Broken sharinpix variants.

Authorization runs in Connexion's security middleware (``mockserver.auth.sharinpix_token``, resolved at
start-up), before the handler; the auth defects therefore wrap the whole ASGI app (``server.asgi``) and
change what the security handler sees, so that the observable behaviour is the defect's.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime

import jwt

from image_api_contracts import devtokens
from mockserver.apis.sharinpix import taken_at
from mockserver.errors import ApiError

from . import Mutant, read_body, replaying

API = "sharinpix"
_IMAGES_PATH = re.compile(r"/api/v1/albums/([^/]+)/images/?$")


def wrap_requests(server, rewrite):
    """``rewrite(scope, album_id, body) -> (headers, body)`` for every sharinpix create request."""
    inner = server.asgi

    async def app(scope, receive, send):
        match = _IMAGES_PATH.search(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None:
            return await inner(scope, receive, send)
        headers, body = rewrite(dict(scope["headers"]), match.group(1), await read_body(receive))
        headers[b"content-length"] = str(len(body)).encode()
        await inner({**scope, "headers": list(headers.items())}, replaying(body, receive), send)

    server.asgi = app


def _token_of(headers) -> str | None:
    match = re.match(rb'Token\s+token="?([^"\s]+)"?', headers.get(b"authorization", b""))
    return match.group(1).decode() if match else None


def _claims_of(headers) -> dict | None:
    """The claims of the request's token, signature unchecked; None without a decodable one."""
    token = _token_of(headers)
    if token is None:
        return None
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None


def _grant(headers, album_id: str, claims: dict) -> None:
    """Replace the request's token with one the mock grants on ``album_id``, for the same user."""
    granted = devtokens.sharinpix_token(album_id, user_id=str(claims.get("user_id", "someone")))
    headers[b"authorization"] = f'Token token="{granted}"'.encode()


def _abilities_ignored(server):
    """Any decodable JWT may upload to any album: the abilities claim is never consulted."""

    def rewrite(headers, album_id, body):
        claims = _claims_of(headers)
        if claims is not None:  # what the server does, in effect: it treats the caller as granted
            _grant(headers, album_id, claims)
        return headers, body

    wrap_requests(server, rewrite)


def _anonymous_upload(server):
    """A request without Authorization falls back to a default user who may upload anywhere."""

    def rewrite(headers, album_id, body):
        if b"authorization" not in headers:
            headers[b"authorization"] = f'Token token="{devtokens.sharinpix_token(album_id)}"'.encode()
        return headers, body

    wrap_requests(server, rewrite)


def _wrap_create(server, change):
    """``change(form) -> form`` before the record is built (the form as the mock decoded it)."""
    api = server.ctx.apis[API]
    original = api.create_record

    def _create(album_id, form, *rest):  # rest: the request's origin, for the file URLs
        return original(album_id, change(form), *rest)

    api.create_record = _create


def _last_repeated_value_wins(server):
    """A flat form parser: of a repeated ``key[]`` only the last value survives."""

    def last_only(node):
        if isinstance(node, dict):
            return {k: last_only(v) for k, v in node.items()}
        if isinstance(node, list):
            return node[-1:]
        return node

    _wrap_create(server, last_only)


def _wrap_image(server, change):
    """``change(image, form)`` edits the record the create builds (and so the 200 body)."""
    api = server.ctx.apis[API]
    original = api.create_record

    def _create(album_id, form, *rest):  # rest: the request's origin, for the file URLs
        image = original(album_id, form, *rest)
        change(image, form)
        return image

    api.create_record = _create


def _width_height_swapped(image, form):
    image["width"], image["height"] = image["height"], image["width"]


def _public_id_not_the_id(image, form):
    """public_id is a UUID of its own (say, of a second table) instead of the image's id."""
    image["public_id"] = str(uuid.uuid4())


def _taken_at_local_time(image, form):
    """DateTimeOriginal read as Paris winter time (+01:00) instead of UTC: another instant."""
    utc = taken_at(form["cloudinary"].get("image_metadata", {}))
    if utc is not None:
        image["taken_at"] = utc.replace("+00:00", "+01:00")


def _metadatas_dropped(image, form):
    image["metadatas"] = {}


def _size_from_width(image, form):
    """``size`` filled from the wrong field of the hash."""
    image["size"] = str(image["width"])


def _cacheable_answer(server):
    """The framework's default caching replaces the seed's ``no-cache, no-store``: a shared cache may keep
    one caller's image (and echoed token) and hand it to the next."""
    api = server.ctx.apis[API]
    original = api.create_album_image

    async def create_album_image(album_id, token_info=None):
        body, status, headers = await original(album_id, token_info=token_info)
        return body, status, {**headers, "Cache-Control": "public, max-age=60"}

    api.create_album_image = create_album_image


def _refuse_in_create(server, refuse):
    """``refuse(form) -> message or None``: a 400 in the API's format before the record is built."""
    api = server.ctx.apis[API]
    original = api.create_record

    def _create(album_id, form, *rest):  # rest: the request's origin, for the file URLs
        message = refuse(form)
        if message:
            raise ApiError(400, message)
        return original(album_id, form, *rest)

    api.create_record = _create


SEED_CLOUDINARY_KEYS = {
    "public_id",
    "version",
    "signature",
    "width",
    "height",
    "format",
    "resource_type",
    "created_at",
    "tags",
    "bytes",
    "type",
    "etag",
    "url",
    "secure_url",
    "image_metadata",
    "colors",
    "predominant",
    "phash",
    "coordinates",
    "illustration_score",
    "semi_transparent",
    "grayscale",
    "original_filename",
}


def _signature_required(form):
    """Every upload result must carry Cloudinary's signature (the seed lists every field as optional)."""
    return None if (form.get("cloudinary") or {}).get("signature") else "cloudinary[signature] is required"


def _unknown_keys_refused(form):
    """Only the keys of the seed's example pass: a newer Cloudinary field gets 400."""
    unknown = sorted(set(form.get("cloudinary") or {}) - SEED_CLOUDINARY_KEYS)
    return f"unknown cloudinary keys {unknown}" if unknown else None


def _metadatas_required(form):
    """metadatas is required (the seed: "Required: false")."""
    return None if form.get("metadatas") else "metadatas is required"


def _shared_request_state(server):
    """Request bodies pass through one shared buffer, with an await between filling and reading it (in
    front of the serialised write): overlapping creates answer with (and store) another request's data."""
    inner = server.asgi
    shared: dict = {}

    async def app(scope, receive, send):
        if scope["type"] != "http" or not _IMAGES_PATH.search(scope.get("path", "")):
            return await inner(scope, receive, send)
        shared["body"] = await read_body(receive)
        await asyncio.sleep(0.02)  # e.g. an awaited lookup between parsing and building the record
        body = shared["body"]
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await inner({**scope, "headers": headers}, replaying(body, receive), send)

    server.asgi = app


def _second_resolution_ids(server):
    """Ids derived from the clock to the second: creates within one second share an id."""
    api = server.ctx.apis[API]
    original = api.create_record

    def _create(album_id, form, *rest):  # rest: the request's origin, for the file URLs
        image = original(album_id, form, *rest)
        album = api.albums[album_id]
        del album[image["id"]]
        stamp = int(datetime.now().timestamp())
        image["id"] = image["public_id"] = str(uuid.UUID(int=stamp))
        album[image["id"]] = image
        return image

    api.create_record = _create


MUTANTS = [
    Mutant(
        "spx-abilities-ignored",
        API,
        "SPX-01",
        "any valid JWT uploads to any album (no 403)",
        _abilities_ignored,
    ),
    Mutant(
        "spx-anonymous-upload",
        API,
        "SPX-01",
        "a request without a token is served as a default user (no 401)",
        _anonymous_upload,
    ),
    Mutant(
        "spx-last-repeated-value-wins",
        API,
        "SPX-02",
        "repeated key[] fields collapse to their last value",
        _last_repeated_value_wins,
    ),
    Mutant(
        "spx-width-height-swapped",
        API,
        "SPX-03",
        "width and height swapped",
        lambda server: _wrap_image(server, _width_height_swapped),
    ),
    Mutant(
        "spx-public-id-not-the-id",
        API,
        "SPX-03",
        "public_id is a UUID of its own, not the image id",
        lambda server: _wrap_image(server, _public_id_not_the_id),
    ),
    Mutant(
        "spx-taken-at-local-time",
        API,
        "SPX-03",
        "taken_at reads DateTimeOriginal as +01:00 instead of UTC",
        lambda server: _wrap_image(server, _taken_at_local_time),
    ),
    Mutant(
        "spx-metadatas-dropped",
        API,
        "SPX-03",
        "metadatas are not echoed",
        lambda server: _wrap_image(server, _metadatas_dropped),
    ),
    Mutant(
        "spx-size-from-width",
        API,
        "SPX-03",
        "size comes from width instead of cloudinary[bytes]",
        lambda server: _wrap_image(server, _size_from_width),
    ),
    Mutant(
        "spx-cacheable-answer",
        API,
        "SPX-05",
        "the answer is cacheable (public, max-age=60)",
        _cacheable_answer,
    ),
    Mutant(
        "spx-shared-request-state",
        API,
        "ALL-04",
        "concurrent creates answer with another request's data",
        _shared_request_state,
    ),
    Mutant(
        "spx-second-resolution-ids",
        API,
        "ALL-04",
        "ids made from the clock to the second collide under load",
        _second_resolution_ids,
    ),
    Mutant(
        "spx-signature-required",
        API,
        "ALL-05",
        "a cloudinary hash without signature gets 400",
        lambda server: _refuse_in_create(server, _signature_required),
    ),
    Mutant(
        "spx-unknown-keys-refused",
        API,
        "ALL-05",
        "cloudinary keys beyond the seed's example get 400",
        lambda server: _refuse_in_create(server, _unknown_keys_refused),
    ),
    Mutant(
        "spx-metadatas-required",
        API,
        "ALL-05",
        "a body without metadatas gets 400",
        lambda server: _refuse_in_create(server, _metadatas_required),
    ),
]


def _grant_by_presence(server):
    """The abilities claim is read by presence: ``{album: {Access: {image_upload: false}}}`` grants too."""

    def rewrite(headers, album_id, body):
        claims = _claims_of(headers)
        if claims is not None:
            access = ((claims.get("abilities") or {}).get(album_id) or {}).get("Access")
            if isinstance(access, dict) and "image_upload" in access:  # present: taken as granted
                _grant(headers, album_id, claims)
        return headers, body

    wrap_requests(server, rewrite)


MUTANTS.append(
    Mutant(
        "spx-grant-by-presence",
        API,
        "SPX-01",
        "a grant present but false (image_upload: false) is taken as a grant",
        _grant_by_presence,
    )
)
