"""Legal image-upload variants: each decides otherwise where the seed (002_…) is silent. The seed
documents only 200 responses, so every error status and error body here is a choice."""

from __future__ import annotations

import json

from support.wire import rewrite_responses

from mockserver.apis.base import json_reply
from mockserver.errors import ApiError

from . import Variant

API = "image-upload"


def _forbidden_without_jwt(server):
    """ASP.NET's authorization middleware answers 403 where ours answers 401; the seed names neither."""

    def rewrite(scope, status, headers, body):
        return (403 if status == 401 else status), headers, body

    rewrite_responses(server, API, rewrite)


def _problem_json_errors(server):
    """ASP.NET Core's default error body: RFC 7807 problem details instead of the {message, data} envelope."""

    def rewrite(scope, status, headers, body):
        if status < 400:
            return status, headers, body
        try:
            detail = json.loads(body).get("message")
        except (ValueError, AttributeError):
            detail = body.decode("utf-8", "replace")
        problem = {"type": "about:blank", "title": "Request failed", "status": status, "detail": detail}
        return status, {**headers, "content-type": "application/problem+json"}, json.dumps(problem).encode()

    rewrite_responses(server, API, rewrite)


def _answers_as_text_plain(server):
    """Swashbuckle documents each answer as text/plain, application/json and text/json; the seed shows the
    raw (text/plain) example first. A server sending its JSON as text/plain honours the seed."""

    def rewrite(scope, status, headers, body):
        if headers.get("content-type", "").startswith("application/json"):
            headers = {**headers, "content-type": "text/plain; charset=utf-8"}
        return status, headers, body

    rewrite_responses(server, API, rewrite)


def _unknown_delete_is_410(server):
    """A name that matches no stored file answered 410 Gone, not 404. (400 would not be legal: it calls
    a request the seed allows malformed, ALL-05.)"""
    api = server.ctx.apis[API]
    original = api.delete_image

    async def delete_image(FileName=None, **kw):
        if not FileName or FileName not in api.images:
            raise ApiError(410, f"No such file: {FileName}")
        return await original(FileName=FileName, **kw)

    api.delete_image = delete_image


def _unknown_delete_is_200(server):
    """Moved here from tests/power/mutants/: an idempotent delete (200 for a name that is already gone) is a
    legal reading of a seed that documents only 200."""
    api = server.ctx.apis[API]
    delete = api.delete_image

    async def delete_image(FileName=None, **kw):
        if FileName not in api.images:
            return json_reply({"message": "Image deleted", "data": None})
        return await delete(FileName=FileName, **kw)

    api.delete_image = delete_image


def _missing_file_is_422(server):
    """Model validation of a missing IFormFile as 422 Unprocessable Entity instead of 400 (on the wire:
    the mock's own request validation answers before any handler)."""

    def rewrite(scope, status, headers, body):
        is_upload = scope["method"] == "POST" and scope["path"].endswith("/UploadImage")
        return (422 if is_upload and status == 400 else status), headers, body

    rewrite_responses(server, API, rewrite)


def _refuses_non_images(server):
    """The summary says "upload an image" (上傳圖片): a server may check that the bytes are one."""
    api = server.ctx.apis[API]
    original = api.store_upload

    def _store(data, original_name, declared_type):
        api.image_facts(data)  # 400 unless Pillow decodes the bytes
        return original(data, original_name, declared_type)

    api.store_upload = _store


VARIANTS = [
    Variant(
        "iup-403-without-jwt",
        API,
        "IUP-01",
        "status for a missing or non-JWT token: 403 instead of 401",
        "every credential refusal answers 403",
        _forbidden_without_jwt,
    ),
    Variant(
        "iup-text-plain-answers",
        API,
        "ALL-02",
        "answers' media type: text/plain (the seed's raw example) instead of application/json",
        "every JSON answer is labelled text/plain",
        _answers_as_text_plain,
    ),
    Variant(
        "iup-problem-json-errors",
        API,
        "IUP-05",
        "error bodies: application/problem+json instead of {message, data: null}",
        "errors are RFC 7807 problem details",
        _problem_json_errors,
    ),
    Variant(
        "iup-unknown-delete-410",
        API,
        "IUP-05",
        "unknown or missing FileName: 410 Gone instead of 404",
        "deleting a name that matches nothing answers 410",
        _unknown_delete_is_410,
    ),
    Variant(
        "iup-unknown-delete-200",
        API,
        "IUP-05",
        "unknown or missing FileName: 200 (idempotent delete) instead of 404",
        "deleting a name that matches nothing answers 200",
        _unknown_delete_is_200,
    ),
    Variant(
        "iup-missing-file-422",
        API,
        "IUP-05",
        "upload without a file: 422 instead of 400",
        "a missing file part answers 422",
        _missing_file_is_422,
    ),
    Variant(
        "iup-refuses-non-images",
        API,
        "ALL-05",
        "non-image bytes: 400 instead of stored (the seed types the file binary, its summary says image)",
        "uploads must decode as images",
        _refuses_non_images,
    ),
]
