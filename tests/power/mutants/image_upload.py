"""Broken image-upload variants. (An unknown delete answering 200 was one; an idempotent delete is a
legal reading of a seed that documents only 200, so it moved to tests/power/variants/image_upload.py.)

The Bearer check runs in Connexion's security layer (``mockserver.auth.image_upload_token``, resolved at
start-up), before any handler, so no handler replacement can break it. That function looks up
``decode_jwt`` by global name at call time and passes it the server's own ``settings.jwt_secret``; the
auth mutant therefore installs, once per process, a wrapper of ``mockserver.auth.decode_jwt`` that is
transparent unless the secret is the marker object below, and sets that marker as the broken server's
secret. Only that server accepts any Bearer value; every other server in the process (the power test's
other runs, parallel or later) keeps the real check.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import uuid

from PIL import Image

from image_api_contracts import devtokens
from mockserver import auth
from mockserver.apis.base import json_reply, read_upload
from mockserver.apis.image_upload import (
    MAX_FILE_BYTES,
    ImageRecord,
    now_rfc3339,
    safe_name,
    served_type,
)
from mockserver.errors import ApiError

from . import Mutant, on_arrival, serving_only_the_first_mib

API = "image-upload"


class _AnyBearer(str):
    """A server whose jwt_secret is one of these accepts any non-empty Bearer value."""


def _install_lax_decode() -> None:
    if getattr(auth.decode_jwt, "lax_for_marked_servers", False):
        return
    real = auth.decode_jwt

    def decode_jwt(token, secret):
        if isinstance(secret, _AnyBearer):
            return {"sub": token} if token else None
        return real(token, secret)

    decode_jwt.lax_for_marked_servers = True
    auth.decode_jwt = decode_jwt


def _any_bearer_accepted(server):
    _install_lax_decode()
    server.settings.jwt_secret = _AnyBearer("")  # ctx.settings is this same object


def _replace_store(server, name_of, original_of=lambda name: name, size_of=len):
    """``_store`` with one of its choices changed (the cloud name, the reported name, the size)."""
    api = server.ctx.apis[API]

    def _store(data, original, declared_type):
        file_name = name_of(original)
        now = now_rfc3339()
        record = ImageRecord(
            file_name,
            original_of(original),
            f"images/{file_name}",
            size_of(data),
            now,
            now,
            served_type(data, declared_type),
        )
        api.store_bytes(file_name, data, record.content_type)
        api.images[file_name] = record
        return record

    api.store_upload = _store


def _cloud_name_is_original(server):
    _replace_store(server, name_of=safe_name)  # the second upload of a name overwrites the first


def _original_name_sanitised(server):
    _replace_store(server, name_of=lambda o: f"{uuid.uuid4().hex}_{safe_name(o)}", original_of=safe_name)


def _size_in_kib(server):
    _replace_store(
        server, name_of=lambda o: f"{uuid.uuid4().hex}_{safe_name(o)}", size_of=lambda d: len(d) // 1024
    )


def _stale_list_cache(server):
    api = server.ctx.apis[API]
    list_all, delete = api.get_all_images, api.delete_image
    cache = {}

    async def get_all_images(**kw):
        if "reply" not in cache:  # cached until the next delete: new uploads stay invisible
            cache["reply"] = await list_all(**kw)
        return cache["reply"]

    async def delete_image(**kw):
        cache.clear()
        return await delete(**kw)

    api.get_all_images, api.delete_image = get_all_images, delete_image


def _delete_keeps_record(server):
    api = server.ctx.apis[API]

    async def delete_image(FileName=None, **_):
        if not FileName or FileName not in api.images:
            raise ApiError(404, f"Image not found: {FileName}")
        api.drop_bytes(FileName)  # the bucket object goes, the index entry stays
        return json_reply({"message": "Image deleted", "data": None})

    api.delete_image = delete_image


def _delete_echoes_name(server):
    api = server.ctx.apis[API]
    delete = api.delete_image

    async def delete_image(FileName=None, **kw):
        body, status, headers = await delete(FileName=FileName, **kw)
        return {**body, "data": {"fileName": FileName}}, status, headers

    api.delete_image = delete_image


def _delete_keeps_bytes(server):
    api = server.ctx.apis[API]
    api.drop_bytes = lambda key: None  # the index entry goes, the bucket object is never removed


def _media_reencoded(server):
    api = server.ctx.apis[API]
    serve = api.serve_file

    async def serve_file(key, request):
        response = await serve(key, request)
        out = io.BytesIO()
        Image.open(io.BytesIO(response.body)).convert("RGB").save(out, "JPEG", quality=70)
        response.body = out.getvalue()  # an image CDN that "optimises" every download
        response.headers["content-length"] = str(len(response.body))
        response.headers["content-type"] = "image/jpeg"
        return response

    api.serve_file = serve_file


def _refusing_uploads(server, why):
    """upload_image that answers 400 whenever ``why(upload part)`` names a reason."""
    api = server.ctx.apis[API]
    original = api.upload_image

    async def upload_image(file=None, **kw):
        reason = file is not None and not isinstance(file, str | bytes) and why(file)
        if reason:
            raise ApiError(400, reason)
        return await original(file=file, **kw)

    api.upload_image = upload_image


def _refuses_short_filenames(server):
    _refusing_uploads(server, lambda f: len(f.filename or "") < 3 and "the file name is too short")


def _refuses_untyped_parts(server):
    def why(part):
        declared = (part.content_type or "").split(";")[0]
        return not declared.startswith("image/") and f"unsupported file type {declared!r}"

    _refusing_uploads(server, why)


def _refuses_small_files(server):
    _refusing_uploads(server, lambda f: f.size is not None and f.size < 512 and "the file is too small")


def _file_name_required(server):
    """FileName is optional in the seed, yet a delete without it is refused as malformed (400)."""
    api = server.ctx.apis[API]
    original = api.delete_image

    async def delete_image(FileName=None, **kw):
        if FileName is None:
            raise ApiError(400, "Missing required parameter: FileName")
        return await original(FileName=FileName, **kw)

    api.delete_image = delete_image


def _unauthorised_upload_still_stored(server):
    """The credential is checked after the file was written: the 401 is sent, the upload is kept."""
    inner = server.asgi
    token = f"Bearer {devtokens.image_upload_token()}".encode()

    async def app(scope, receive, send):
        is_upload = scope["type"] == "http" and scope.get("path", "").endswith("/UploadImage")
        if not is_upload or auth.decode_jwt(_bearer(scope), None) is not None:
            return await inner(scope, receive, send)
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"authorization"]
        sent = {}

        async def swallow(message):  # the real answer is dropped, a 401 goes out instead
            sent.setdefault(message["type"], message)

        await inner({**scope, "headers": [*headers, (b"authorization", token)]}, receive, swallow)
        body = b'{"message": "Missing or invalid Bearer token", "data": null}'
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    server.asgi = app


def _bearer(scope) -> str:
    value = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
    return value[7:] if value.startswith("Bearer ") else ""


def _lost_concurrent_upload(server):
    """The index is read when an upload arrives and written back, with the new record, when it is done:
    uploads that were stored in between are lost."""
    api = server.ctx.apis[API]
    stale = contextvars.ContextVar("index read at arrival")

    async def upload_image(file=None, **_):
        data = await read_upload(file, MAX_FILE_BYTES)
        await asyncio.sleep(0.02)  # the file goes to the bucket: other uploads arrive meanwhile
        record = api.store_upload(data, file.filename or "", file.content_type)
        api.images = {**stale.get(api.images), record.fileName: record}  # ... the stale copy goes back
        return json_reply({"message": "Upload succeeded", "data": api.public(record)})

    on_arrival(server, "POST", r".*/UploadImage", lambda body: stale.set(dict(api.images)))
    api.upload_image = upload_image


def _list_dies_on_astral_names(server):
    """Names kept in a 3-byte "utf8" column: an upload named with an astral character is stored and
    answered, then the listing that holds it answers 500."""
    api = server.ctx.apis[API]
    original = api.get_all_images

    async def get_all_images(**kwargs):
        if any(max(r.originalFileName, default="\0") > "\uffff" for r in api.images.values()):
            raise RuntimeError("Incorrect string value for column 'originalFileName'")
        return await original(**kwargs)

    api.get_all_images = get_all_images


MUTANTS = [
    Mutant(
        "iup-any-bearer", API, "IUP-01", "any Bearer value is accepted, not only a JWT", _any_bearer_accepted
    ),
    Mutant(
        "iup-cloud-name-not-unique",
        API,
        "IUP-02",
        "fileName is the original name: a second upload of one name overwrites the first",
        _cloud_name_is_original,
    ),
    Mutant(
        "iup-original-name-sanitised",
        API,
        "IUP-02",
        "originalFileName reports the sanitised name (spaces become _)",
        _original_name_sanitised,
    ),
    Mutant("iup-size-in-kib", API, "IUP-02", "size is reported in KiB, not bytes", _size_in_kib),
    Mutant(
        "iup-stale-list", API, "IUP-03", "GetAllImages is cached until the next delete", _stale_list_cache
    ),
    Mutant(
        "iup-delete-keeps-record",
        API,
        "IUP-04",
        "delete removes the bytes but the image stays listed",
        _delete_keeps_record,
    ),
    Mutant(
        "iup-delete-echoes-name",
        API,
        "IUP-04",
        "delete answers data {fileName} instead of null",
        _delete_echoes_name,
    ),
    Mutant(
        "iup-delete-keeps-bytes",
        API,
        "IUP-05",
        "delete unlists the image but its mediaLink still serves it",
        _delete_keeps_bytes,
    ),
    Mutant(
        "iup-media-reencoded",
        API,
        "IUP-05",
        "mediaLink serves a re-encoded JPEG, not the uploaded bytes",
        _media_reencoded,
    ),
    Mutant(
        "iup-unauthorised-upload-stored",
        API,
        "IUP-01",
        "an upload without a JWT gets 401, but the file is stored anyway",
        _unauthorised_upload_still_stored,
    ),
    Mutant(
        "iup-file-name-required",
        API,
        "ALL-05",
        "DeleteImage without FileName (optional in the seed) gets 400",
        _file_name_required,
    ),
    Mutant(
        "iup-refuses-short-filenames",
        API,
        "ALL-05",
        "a part filename under 3 characters gets 400",
        _refuses_short_filenames,
    ),
    Mutant(
        "iup-refuses-untyped-parts",
        API,
        "ALL-05",
        "a file part not declared image/* gets 400, whatever its bytes",
        _refuses_untyped_parts,
    ),
    Mutant(
        "iup-refuses-small-files",
        API,
        "ALL-05",
        "files under 512 bytes get 400",
        _refuses_small_files,
    ),
    Mutant(
        "iup-lost-concurrent-upload",
        API,
        "ALL-04",
        "uploads write back a stale copy of the index, losing concurrent ones",
        _lost_concurrent_upload,
    ),
    Mutant(
        "iup-list-dies-on-astral-names",
        API,
        "ALL-06",
        "an accepted file name with an astral character makes GetAllImages answer 500",
        _list_dies_on_astral_names,
    ),
]


def _large_media_truncated(server):
    """mediaLink serves only the first MiB of a larger file (a fixed read buffer); small files come whole."""
    serving_only_the_first_mib(server.ctx.apis[API])


MUTANTS.append(
    Mutant(
        "iup-large-media-truncated",
        API,
        "IUP-05",
        "mediaLink serves only 1 MiB of a larger file",
        _large_media_truncated,
    )
)
