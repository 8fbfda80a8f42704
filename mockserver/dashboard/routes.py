"""The dashboard's routes under ``/__mock__/ui/``: the page, its assets, the gallery's data and images,
and the one control of its own (delete a record). The reset, fixtures, behaviour and journal controls are
the mock's own routes, called by the page as any client would.

What it keeps true:

- Every answer carries a strict Content-Security-Policy (scripts and styles from this origin only, no
  inline script, no framing), so the page cannot be turned against its user or clickjacked.
- The guard (``mockserver.layers.guard``) refuses other origins before any of this runs; the delete control
  further requires the request's ``Origin``, when a browser sends one, to be the mock's own (or
  ``--public-url``'s): pages of other allowed origins may drive the APIs, not the dashboard.
- Nothing is fetched from elsewhere: the assets ship inside the package.
"""

from __future__ import annotations

from importlib import resources

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockserver.dashboard.gallery import delete_record, gallery
from mockserver.errors import ApiError
from mockserver.layers.guard import origin_of
from mockserver.writes import DASHBOARD_RECORDS_PREFIX

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}
ASSET_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
JSON = "application/json"


def _asset(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def _answer(body: bytes, media_type: str, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=media_type, headers=SECURITY_HEADERS)


async def page(request: Request) -> Response:
    return _answer(_asset("index.html"), ASSET_TYPES["index.html"])


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSET_TYPES:
        raise ApiError(404, "no such dashboard asset")
    return _answer(_asset(name), ASSET_TYPES[name])


async def records(request: Request) -> Response:
    """Each API's records with their images: ``{"apis": {name: {"count", "items": [...]}}}``."""
    ctx = request.scope["mockserver"]
    body = {"apis": gallery(ctx), "behaviour": (ctx.behaviour.as_json() if ctx.behaviour else None)}
    return _answer(orjson.dumps(body), JSON)


async def image(request: Request) -> Response:
    """A stored file's bytes, as its API serves them; for an API that stores no bytes (sharinpix), the
    rendition its file URL serves. Served here rather than at the file URL, so looking is not a request
    in the journal (nor needs the URL's signature: the page is the mock's own)."""
    ctx = request.scope["mockserver"]
    name, key = request.path_params["api"], request.path_params["key"]
    handler = ctx.apis.get(name)
    kind = handler.stored_records if handler is not None else None
    if kind is None:
        raise ApiError(404, "no such API")
    if kind.blob_field is None:
        served = await handler.serve_file(key, request)
        served.headers.update(SECURITY_HEADERS)
        return served
    blob = ctx.blobs.get(handler.blob_key(key))
    if blob is None:
        raise ApiError(404, "no such stored file")
    return _answer(blob.data, blob.content_type)


async def delete(request: Request) -> Response:
    ctx = request.scope["mockserver"]
    _same_origin_only(request, ctx)
    api, record_id = request.path_params["api"], request.path_params["record_id"]
    if not delete_record(ctx, api, record_id):
        raise ApiError(404, f"{api} holds no record {record_id!r}")
    return Response(status_code=204, headers=SECURITY_HEADERS)


def _same_origin_only(request: Request, ctx) -> None:
    origin = request.headers.get("origin")
    if origin is None:  # not a browser's cross-origin request: browsers send Origin with every DELETE
        return
    own = origin_of(str(request.url))
    public = origin_of(ctx.settings.public_url) if ctx.settings.public_url else None
    if origin.lower() not in (own, public):
        raise ApiError(403, f"the dashboard's controls answer only the dashboard's own origin, not {origin}")


def dashboard_routes() -> list[Route]:
    return [
        Route("/__mock__/ui", page, methods=["GET"]),
        Route("/__mock__/ui/", page, methods=["GET"]),
        Route("/__mock__/ui/static/{name}", asset, methods=["GET"]),
        Route("/__mock__/ui/api/records", records, methods=["GET"]),
        Route("/__mock__/ui/api/images/{api}/{key:path}", image, methods=["GET"]),
        Route(DASHBOARD_RECORDS_PREFIX + "{api}/{record_id:path}", delete, methods=["DELETE"]),
    ]
