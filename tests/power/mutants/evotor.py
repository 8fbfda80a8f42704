"""Broken evotor variants: one realistic defect each, caught by the checks of conformance/checks/evotor/."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import re
from urllib.parse import unquote

from PIL import Image

from mockserver.apis.base import json_reply, read_upload
from mockserver.errors import ApiError

from . import Mutant, read_body, replaying, serving_only_the_first_mib

_UPLOAD = re.compile(r"/stores/([^/]+)/products/([^/]+)/images/?$")


def _api(server):
    return server.ctx.apis["evotor"]


def _delete_skips_auth(server):
    """The DELETE route was left out of the authentication filter: a missing token passes as anonymous.
    (Connexion resolved the security handler at start-up, so the defect sits in front of it.)"""
    inner = server.asgi

    async def asgi(scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "DELETE":
            headers = list(scope.get("headers", []))
            if not any(name.lower() == b"x-authorization" for name, _ in headers):
                scope = {**scope, "headers": [*headers, (b"x-authorization", b"anonymous")]}
        await inner(scope, receive, send)

    server.asgi = asgi


def _file_size_in_kib(server):
    """meta.file_size is reported in KiB (rounded up), not in bytes: a valid integer, the wrong value."""
    api = _api(server)
    original = api.public_record

    def _public(record):
        body = original(record)
        body["meta"] = {**body["meta"], "file_size": -(-body["meta"]["file_size"] // 1024)}
        return body

    api.public_record = _public


def _limit_in_mebibytes(server):
    """The limit is read as 5 MiB (5242880 bytes) instead of the seed's 5242800."""
    api = _api(server)

    async def upload_product_image(store_id, product_id, datafile=None, token_info=None, **_):
        data = await read_upload(datafile, 5 * 1024 * 1024)
        record = api.create_record(data, store_id, product_id, (token_info or {}).get("sub", ""))
        return json_reply(api.public_record(record))

    api.upload_product_image = upload_product_image


def _dimensions_not_checked(server):
    """Only the format is validated; any width and height pass (and are reported as 300x300)."""
    api = _api(server)
    original = api.image_facts

    def image_facts(data):
        return dataclasses.replace(original(data), width=300, height=300)

    api.image_facts = image_facts


def _second_upload_replaces(server):
    """A second upload silently replaces the product's image instead of being refused (a valid file only:
    a bad one is still refused and leaves the first in place)."""
    api = _api(server)
    original = api.create_record

    def _create(data, store_id, product_id, token):
        existing = api.by_product.pop((store_id, product_id), None)
        try:
            record = original(data, store_id, product_id, token)
        except Exception:
            if existing is not None:
                api.by_product[(store_id, product_id)] = existing
            raise
        if existing is not None:
            api.images.pop(existing, None)
            api.drop_bytes(existing)
        return record

    api.create_record = _create


def _get_ignores_the_id(server):
    """get looks the image up by its product alone: any id under a product with an image answers it."""
    api = _api(server)

    async def get_product_image(store_id, product_id, image_id, **_):
        held = api.by_product.get((store_id, product_id))
        if held is None:
            raise ApiError(404, "Image not found")
        return json_reply(api.public_record(api.images[held]))

    api.get_product_image = get_product_image


def _delete_answers_the_image(server):
    """delete deletes, but answers 200 with the deleted image instead of 204 without a body."""
    api = _api(server)
    original = api.delete_product_image

    async def delete_product_image(store_id, product_id, image_id, **kw):
        body = api.public_record(api.find_record(store_id, product_id, image_id))
        await original(store_id, product_id, image_id, **kw)
        return json_reply(body)

    api.delete_product_image = delete_product_image


def _store_not_scoped(server):
    """Images are looked up by product id alone: the same product id in another store shows them."""
    api = _api(server)

    def by_product(product_id):
        return next((r for r in api.images.values() if r.product_id == product_id), None)

    def _find(store_id, product_id, image_id):
        record = api.images.get(image_id)
        if record is None or record.product_id != product_id:
            raise ApiError(404, "Image not found")
        return record

    async def list_product_images(store_id, product_id, **_):
        record = by_product(product_id)
        return json_reply({"items": [api.public_record(record)] if record else [], "paging": {}})

    api.find_record = _find
    api.list_product_images = list_product_images


def _truncated_url(server):
    api = _api(server)
    original = api.serve_file

    async def serve_file(key, request):
        response = await original(key, request)
        response.body = response.body[:-1]
        response.headers["content-length"] = str(len(response.body))
        return response

    api.serve_file = serve_file


def _limit_exclusive(server):
    """The size check is off by one: a file of exactly 5242800 bytes ("не более", at most) gets 413."""
    api = _api(server)
    original = api.create_record

    def _create(data, store_id, product_id, token):
        if len(data) >= 5242800:
            raise ApiError(413, "the file must be smaller than 5242800 bytes")
        return original(data, store_id, product_id, token)

    api.create_record = _create


def _only_truecolour_pngs(server):
    """Only RGB/RGBA PNGs pass: palette and greyscale PNGs (PNGs of 300x300 all the same) get 400."""
    api = _api(server)
    original = api.create_record

    def _create(data, store_id, product_id, token):
        try:
            with Image.open(io.BytesIO(data)) as image:
                mode = image.mode if image.format == "PNG" else "RGB"
        except Exception:  # not an image at all: the mock's own check answers that
            mode = "RGB"
        if mode not in ("RGB", "RGBA"):
            raise ApiError(400, f"unsupported PNG colour mode {mode}")
        return original(data, store_id, product_id, token)

    api.create_record = _create


def _part_label_judged(server):
    """The datafile part's declared Content-Type is checked instead of the file: only image/png passes."""
    inner = server.asgi

    async def asgi(scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await inner(scope, receive, send)
        body = await read_body(receive)
        head = body[:4096].lower()
        if b'name="datafile"' in head and b"content-type: image/png" not in head:
            error = b'{"errors":[{"code":400,"reason":"datafile must be image/png"}]}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            return await send({"type": "http.response.body", "body": error})
        await inner(scope, replaying(body, receive), send)

    server.asgi = asgi


def _racy_one_image_check(server):
    """The one-image check runs as a cheap pre-check in front of the (serialised) write, after an await,
    and the write itself no longer checks: concurrent uploads to one product all pass the pre-check and
    the last one overwrites the others. One after the other, the pre-check still answers 409."""
    api = _api(server)
    inner = server.asgi
    original = api.create_record

    def _create(data, store_id, product_id, token):
        api.by_product.pop((store_id, product_id), None)  # the pre-check has run: no second look
        return original(data, store_id, product_id, token)

    async def asgi(scope, receive, send):
        match = _UPLOAD.search(scope.get("path", "")) if scope["type"] == "http" else None
        headers = dict(scope.get("headers", [])) if match else {}
        if match is None or scope["method"] != "POST" or b"x-authorization" not in headers:
            return await inner(scope, receive, send)
        key = (unquote(match.group(1)), unquote(match.group(2)))
        if key in api.by_product:
            error = b'{"errors":[{"code":409,"reason":"the product already has an image"}]}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 409,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            return await send({"type": "http.response.body", "body": error})
        await asyncio.sleep(0.05)  # e.g. an awaited quota lookup between the check and the write
        await inner(scope, receive, send)

    api.create_record = _create
    server.asgi = asgi


def _list_file_size_in_kib(server):
    """The list has a serializer of its own that reports meta.file_size in KiB (the upload and get answer
    bytes): a valid integer, the wrong value, in the list only."""
    api = _api(server)
    original = api.list_product_images

    async def list_product_images(store_id, product_id, **kw):
        body, status, headers = await original(store_id, product_id, **kw)
        items = [
            {**item, "meta": {**item["meta"], "file_size": -(-item["meta"]["file_size"] // 1024)}}
            for item in body["items"]
        ]
        return {**body, "items": items}, status, headers

    api.list_product_images = list_product_images


MUTANTS = [
    Mutant(
        "evt-delete-skips-auth",
        "evotor",
        "EVT-01",
        "DELETE works without X-Authorization",
        _delete_skips_auth,
    ),
    Mutant("evt-file-size-kib", "evotor", "EVT-02", "meta.file_size is in KiB, not bytes", _file_size_in_kib),
    Mutant(
        "evt-limit-mebibytes",
        "evotor",
        "EVT-03",
        "the limit is 5242880 bytes, not 5242800",
        _limit_in_mebibytes,
    ),
    Mutant(
        "evt-any-dimensions", "evotor", "EVT-03", "width and height are not checked", _dimensions_not_checked
    ),
    Mutant(
        "evt-second-upload-replaces",
        "evotor",
        "EVT-04",
        "a second upload replaces the first",
        _second_upload_replaces,
    ),
    Mutant(
        "evt-list-file-size-kib",
        "evotor",
        "EVT-05",
        "the list reports file_size in KiB",
        _list_file_size_in_kib,
    ),
    Mutant(
        "evt-get-ignores-id",
        "evotor",
        "EVT-06",
        "get answers the product's image for any id",
        _get_ignores_the_id,
    ),
    Mutant(
        "evt-delete-200-body",
        "evotor",
        "EVT-07",
        "delete answers 200 with the image",
        _delete_answers_the_image,
    ),
    Mutant(
        "evt-store-not-scoped",
        "evotor",
        "EVT-08",
        "images are found by product id in any store",
        _store_not_scoped,
    ),
    Mutant("evt-truncated-url", "evotor", "EVT-09", "the url serves all but the last byte", _truncated_url),
    Mutant(
        "evt-racy-one-image",
        "evotor",
        "ALL-04",
        "parallel uploads to one product all succeed",
        _racy_one_image_check,
    ),
    Mutant(
        "evt-limit-exclusive",
        "evotor",
        "ALL-05",
        "a PNG of exactly 5242800 bytes gets 413",
        _limit_exclusive,
    ),
    Mutant(
        "evt-only-truecolour-png",
        "evotor",
        "ALL-05",
        "palette and greyscale PNGs get 400",
        _only_truecolour_pngs,
    ),
    Mutant(
        "evt-part-label-judged",
        "evotor",
        "ALL-05",
        "a datafile part not labelled image/png gets 400",
        _part_label_judged,
    ),
]


def _list_leaks_other_scopes(server):
    """The product's image list shows every image of the server, whatever its store and product."""
    api = _api(server)

    async def list_product_images(store_id, product_id, **_):
        items = [api.public_record(record) for record in api.images.values()]
        return json_reply({"items": items, "paging": {}})

    api.list_product_images = list_product_images


MUTANTS.append(
    Mutant(
        "evt-list-leaks-other-scopes",
        "evotor",
        "EVT-08",
        "a product's image list holds other products' and stores' images (the checks borrowing it: not run)",
        _list_leaks_other_scopes,
    )
)


def _large_url_truncated(server):
    """The url serves only the first MiB of a larger file (a fixed read buffer); small files come whole."""
    serving_only_the_first_mib(_api(server))


MUTANTS.append(
    Mutant(
        "evt-large-url-truncated",
        "evotor",
        "EVT-09",
        "the url serves only 1 MiB of a larger file",
        _large_url_truncated,
    )
)
