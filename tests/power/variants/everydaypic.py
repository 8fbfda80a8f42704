"""Legal everydaypic variants: each decides otherwise where the seed (000_…) is silent."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from support.wire import rewrite_responses

from mockserver.apis.base import json_reply
from mockserver.errors import ApiError
from mockserver.images import ImageFacts

from . import Variant

API = "everydaypic"


def _errors_as_json_strings(server):
    """The seed types every error `string`: a JSON string (application/json) is one, as Go's gin sends."""

    def rewrite(scope, status, headers, body):
        if status >= 400 and headers.get("content-type", "").startswith("text/plain"):
            body = json.dumps(body.decode("utf-8", "replace")).encode()
            headers = {**headers, "content-type": "application/json; charset=utf-8"}
        return status, headers, body

    rewrite_responses(server, API, rewrite)


def _info_intersection(server):
    """Moved here from tests/power/mutants/: the seed never says how id and fileName combine, so AND is as
    faithful a reading as our OR."""
    api = server.ctx.apis[API]

    async def get_images_info(id=None, fileName=None, **_):
        ids, names = set(id or []), set(fileName or [])
        found = [
            r.public()
            for r in api.images.values()
            if (not ids or r.id in ids) and (not names or r.fileName in names)
        ]
        if not found:
            raise ApiError(404, "Image not found")
        return json_reply(found)

    api.get_images_info = get_images_info


def _info_without_filter_matches_nothing(server):
    """With neither id nor fileName, the union of no matches is empty: 404, not every image."""
    api = server.ctx.apis[API]
    original = api.get_images_info

    async def get_images_info(id=None, fileName=None, **kw):
        if not id and not fileName:
            raise ApiError(404, "Image not found")
        return await original(id=id, fileName=fileName, **kw)

    api.get_images_info = get_images_info


def _created_without_offset(server):
    """`created` is only "the creation date" in the seed: a plain UTC "YYYY-MM-DD HH:MM:SS" is one.
    Rewritten on the wire, after the mock's own response validation (which holds our RFC 3339)."""

    def rewrite(scope, status, headers, body):
        if status != 200 or not headers.get("content-type", "").startswith("application/json"):
            return status, headers, body
        images = json.loads(body)
        for image in images:
            created = datetime.fromisoformat(image["created"]).astimezone(UTC)
            image["created"] = created.strftime("%Y-%m-%d %H:%M:%S")
        return status, headers, json.dumps(images).encode()

    rewrite_responses(server, API, rewrite)


def _accepts_non_images(server):
    """Moved here from tests/power/mutants/: the seed types the file `string(binary)`, so storing any bytes
    (typed by a sniffer's guess) is as faithful as refusing non-images."""
    api = server.ctx.apis[API]
    original = api.image_facts

    def image_facts(data):
        try:
            return original(data)
        except ApiError:
            return ImageFacts("PNG", 0, 0)

    api.image_facts = image_facts


def _refuses_empty_names(server):
    """A required string read as a non-empty one (gin's binding:"required"): empty fileName/name, 400."""
    api = server.ctx.apis[API]
    original = api.create_image

    async def create_image(body=None, file=None, **kw):
        fields = body or {}
        if fields.get("fileName") == "" or fields.get("name") == "":
            raise ApiError(400, "fileName and name must not be empty")
        return await original(body=body, file=file, **kw)

    api.create_image = create_image


def _refuses_extra_parts(server):
    """A strict form binder: a part the seed does not list gets 400."""
    api = server.ctx.apis[API]
    original = api.create_image

    async def create_image(body=None, file=None, **kw):
        extra = sorted(set(body or {}) - {"fileName", "name"}) + sorted(kw)  # unknown file parts come as kw
        if extra:
            raise ApiError(400, f"unknown parts: {', '.join(extra)}")
        return await original(body=body, file=file, **kw)

    api.create_image = create_image


VARIANTS = [
    Variant(
        "edp-errors-json-strings",
        API,
        "EDP-06",
        "error media type: application/json strings instead of text/plain",
        "every error body is a JSON string",
        _errors_as_json_strings,
    ),
    Variant(
        "edp-info-and",
        API,
        "EDP-04",
        "info filters: id AND fileName instead of OR",
        "info matches images whose id is given and whose fileName is given",
        _info_intersection,
    ),
    Variant(
        "edp-info-no-filter-404",
        API,
        "EDP-04",
        "info with neither filter: 404 (nothing asked for) instead of every image",
        "info without id or fileName matches nothing",
        _info_without_filter_matches_nothing,
    ),
    Variant(
        "edp-created-without-offset",
        API,
        "EDP-03",
        "created: 'YYYY-MM-DD HH:MM:SS' UTC instead of RFC 3339",
        "created is a date and time without T or offset",
        _created_without_offset,
    ),
    Variant(
        "edp-accepts-non-images",
        API,
        "EDP-02",
        "non-image files: stored instead of 400",
        "any bytes are stored",
        _accepts_non_images,
    ),
    Variant(
        "edp-refuses-empty-names",
        API,
        "ALL-05",
        "empty fileName/name: 400 instead of stored as given",
        "empty strings are refused for the required fields",
        _refuses_empty_names,
    ),
    Variant(
        "edp-refuses-extra-parts",
        API,
        "ALL-05",
        "multipart parts the seed does not list: 400 instead of ignored",
        "unknown parts are refused",
        _refuses_extra_parts,
    ),
]


def _errors_empty_without_media_type(server):
    """The seed types every error `string` and names no media type: the original answers them empty, with
    no Content-Type at all (an empty string is a string)."""

    def rewrite(scope, status, headers, body):
        if status >= 400:
            return status, {k: v for k, v in headers.items() if k != "content-type"}, b""
        return status, headers, body

    rewrite_responses(server, API, rewrite)


VARIANTS.append(
    Variant(
        "edp-errors-empty-no-media-type",
        API,
        "EDP-06",
        "error bodies: empty, with no Content-Type, instead of text/plain messages",
        "the seed names no media type for its string errors",
        _errors_empty_without_media_type,
    )
)
