"""Broken everydaypic variants. (info combining id AND fileName was one; it is a legal reading of the
seed, so it moved to tests/power/variants/everydaypic.py; so did storing non-images: the seed types the file
only as binary.)"""

from __future__ import annotations

import json

from support.wire import rewrite_responses

from mockserver.apis.base import json_reply
from mockserver.errors import ApiError

from . import Mutant


def _truncated_download(server):
    api = server.ctx.apis["everydaypic"]
    original = api.download_image

    async def download_image(id, **kw):
        body, status, headers = await original(id, **kw)
        return body[:-1], status, headers

    api.download_image = download_image


def _info_adds_the_latest(server):
    """info answers the matches plus the newest image, matched or not."""
    api = server.ctx.apis["everydaypic"]
    original = api.get_images_info

    async def get_images_info(id=None, fileName=None, **kw):
        body, status, headers = await original(id=id, fileName=fileName, **kw)
        latest = list(api.images.values())[-1].public()
        return (body if latest in body else [*body, latest]), status, headers

    api.get_images_info = get_images_info


def _download_as_octet_stream(server):
    """On the wire, after the mock's own response validation (which knows only image types)."""

    def rewrite(scope, status, headers, body):
        if status == 200 and headers.get("content-type", "").startswith("image/"):
            headers = {**headers, "content-type": "application/octet-stream"}
        return status, headers, body

    rewrite_responses(server, "everydaypic", rewrite)


def _info_needs_a_filter(server):
    """Both parameters are optional in the seed, yet info without either is refused as malformed."""
    api = server.ctx.apis["everydaypic"]
    original = api.get_images_info

    async def get_images_info(id=None, fileName=None, **kw):
        if not id and not fileName:
            raise ApiError(400, "give id or fileName")
        return await original(id=id, fileName=fileName, **kw)

    api.get_images_info = get_images_info


def _refusing(server, why):
    """create_image that answers 400 whenever ``why(fields, file)`` names a reason."""
    api = server.ctx.apis["everydaypic"]
    original = api.create_image

    async def create_image(body=None, file=None, **kw):
        reason = why(body or {}, file)
        if reason:
            raise ApiError(400, reason)
        return await original(body=body, file=file, **kw)

    api.create_image = create_image


def _refuses_short_names(server):
    def why(fields, file):
        short = [k for k in ("fileName", "name") if len(str(fields.get(k, "xxx"))) < 3]
        return short and f"{', '.join(short)} must be at least 3 characters"

    _refusing(server, why)


def _refuses_untyped_parts(server):
    def why(fields, file):
        declared = (getattr(file, "content_type", None) or "").split(";")[0]
        return not declared.startswith("image/") and f"unsupported file type {declared!r}"

    _refusing(server, why)


def _refuses_small_files(server):
    def why(fields, file):
        size = getattr(file, "size", None)
        return size is not None and size < 512 and "the file is too small"

    _refusing(server, why)


def _ids_collide(server):
    api = server.ctx.apis["everydaypic"]
    original = api.create_record
    counter = iter(range(10**9))

    def _create(data, file_name, name):
        record = original(data, file_name, name)
        n = next(counter)
        if n % 3 == 2:  # every third upload reuses the previous id, overwriting it
            previous = list(api.images)[-2]
            del api.images[record.id]
            record.id = previous
            api.images[previous] = record
        return record

    api.create_record = _create


def _info_dies_on_combining_marks(server):
    """A fileName index that cannot hold combining marks: such an upload is stored and answered, then
    looking it up by its fileName answers 500. (Only that lookup breaks: everydaypic has no delete, so a
    mutant breaking every listing would fail the other rules' checks that run after this one.)"""
    api = server.ctx.apis["everydaypic"]
    original = api.get_images_info

    async def get_images_info(id=None, fileName=None, **kwargs):
        names = set(fileName or [])
        if any("\u0301" in r.fileName for r in api.images.values() if r.fileName in names):
            raise RuntimeError("cannot look up a name with a combining mark")
        return await original(id=id, fileName=fileName, **kwargs)

    api.get_images_info = get_images_info


MUTANTS = [
    Mutant(
        "edp-truncated-download",
        "everydaypic",
        "EDP-05",
        "downloads lose their last byte",
        _truncated_download,
    ),
    Mutant(
        "edp-info-adds-the-latest",
        "everydaypic",
        "EDP-04",
        "info answers the newest image too, whether it matches or not",
        _info_adds_the_latest,
    ),
    Mutant(
        "edp-download-octet-stream",
        "everydaypic",
        "EDP-05",
        "downloads are served as application/octet-stream, not as the image's type",
        _download_as_octet_stream,
    ),
    Mutant(
        "edp-ids-collide", "everydaypic", "EDP-03", "every third upload reuses an existing id", _ids_collide
    ),
    Mutant(
        "edp-info-needs-a-filter",
        "everydaypic",
        "ALL-05",
        "info without id or fileName (both optional) gets 400",
        _info_needs_a_filter,
    ),
    Mutant(
        "edp-refuses-short-names",
        "everydaypic",
        "ALL-05",
        "a fileName or name under 3 characters gets 400",
        _refuses_short_names,
    ),
    Mutant(
        "edp-refuses-untyped-parts",
        "everydaypic",
        "ALL-05",
        "a file part not declared image/* gets 400, whatever its bytes",
        _refuses_untyped_parts,
    ),
    Mutant(
        "edp-refuses-small-files",
        "everydaypic",
        "ALL-05",
        "files under 512 bytes get 400 (the original's small-file defect, as a 4xx)",
        _refuses_small_files,
    ),
    Mutant(
        "edp-info-dies-on-combining-marks",
        "everydaypic",
        "ALL-06",
        "an accepted fileName with a combining mark answers 500 when looked up",
        _info_dies_on_combining_marks,
    ),
]


def _upload_answers_an_object(server):
    """The upload answers the created image as one object, not the seed's array (the original's defect)."""

    def rewrite(scope, status, headers, body):
        if scope["method"] == "POST" and status == 200 and body.startswith(b"["):
            images = json.loads(body)
            if len(images) == 1:
                return status, headers, json.dumps(images[0]).encode()
        return status, headers, body

    rewrite_responses(server, "everydaypic", rewrite)


def _download_redirects(server):
    """GET /v1/image/{id} answers 302 to where the bytes are (the original's storage URL); the seed
    documents 200 with the bytes."""

    def rewrite(scope, status, headers, body):
        path = scope.get("path", "")
        if scope["method"] == "GET" and status == 200 and "/v1/image/" in path and "/info" not in path:
            query = scope.get("query_string", b"").decode()
            if "direct=1" not in query:
                location = path + "?" + (query + "&" if query else "") + "direct=1"
                return 302, {"location": location, "content-type": "text/plain"}, b""
        return status, headers, body

    rewrite_responses(server, "everydaypic", rewrite)


MUTANTS += [
    Mutant(
        "edp-upload-answers-object",
        "everydaypic",
        "ALL-02",  # a schema break is ALL-02's alone; EDP-03 judges the image, EDP-04/05, ALL-04/06 still run
        "the upload answers one object instead of an array (EDP-04, EDP-05, ALL-04, ALL-06 still judged)",
        _upload_answers_an_object,
    ),
    Mutant(
        "edp-download-redirects",
        "everydaypic",
        "ALL-02",
        "the download answers 302 to the bytes instead of 200 with them",
        _download_redirects,
    ),
]


def _info_matches_file_name_prefixes(server):
    """info by fileName answers every image whose fileName starts with the one asked for."""
    api = server.ctx.apis["everydaypic"]

    async def get_images_info(id=None, fileName=None, **_):
        ids, names = set(id or []), list(fileName or [])
        found = [
            r.public()
            for r in api.images.values()
            if (not ids and not names) or r.id in ids or any(r.fileName.startswith(n) for n in names)
        ]
        if not found:
            raise ApiError(404, "Image not found")
        return json_reply(found)

    api.get_images_info = get_images_info


MUTANTS.append(
    Mutant(
        "edp-info-prefix-match",
        "everydaypic",
        "EDP-04",
        "info by fileName also answers images whose fileName merely starts with it",
        _info_matches_file_name_prefixes,
    )
)
