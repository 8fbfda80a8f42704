"""The mock's own routes under ``/__mock__/``: state control, uploaded files, and the index page."""

from __future__ import annotations

import html
import json
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .errors import ApiError, error_body
from .fixtures import load_seed_data
from .registry import FIXTURES_DIR


def _ctx(request: Request):
    return request.scope["mockserver"]


async def index(request: Request) -> Response:
    ctx = _ctx(request)
    rows = []
    for name in ctx.apis:
        info = ctx.info(name)
        base = info.base_path(ctx.settings.prefixed)
        title = html.escape(info.spec["info"]["title"])
        rows.append(
            f"<tr><td><code>{name}</code></td><td>{title}</td><td><code>{base or '/'}</code></td>"
            f'<td><a href="{base}/ui/">Swagger UI</a></td>'
            f'<td><a href="{base}/openapi.json">openapi.json</a></td></tr>'
        )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<title>image-api-contracts mock</title></head><body>"
        "<h1>image-api-contracts mock server</h1><table border='1' cellpadding='6'>"
        "<tr><th>API</th><th>title</th><th>base path</th><th colspan='2'>docs</th></tr>"
        + "".join(rows)
        + "</table><p>Mock controls: <code>POST /__mock__/reset</code>, <code>GET /__mock__/state</code>, "
        "<code>POST /__mock__/fixtures</code>. Headers: <code>Prefer: code=404</code>, "
        "<code>Prefer: delay=250</code>.</p></body></html>"
    )
    return HTMLResponse(page)


async def reset(request: Request) -> Response:
    _ctx(request).reset()
    return Response(status_code=204)


async def state(request: Request) -> Response:
    ctx = _ctx(request)
    body = {"apis": ctx.dump(), "stored_bytes": ctx.blobs.used_bytes, "stored_files": len(ctx.blobs)}
    return JSONResponse(body)


async def fixtures(request: Request) -> Response:
    """Load seed data: the packaged fixtures, or ``{"dir": "/path"}`` in the body."""
    ctx = _ctx(request)
    directory = FIXTURES_DIR
    raw = await request.body()
    if raw:
        try:
            directory = Path(json.loads(raw)["dir"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ApiError(400, 'the body must be {"dir": "<fixtures directory>"} or empty') from exc
    counts = load_seed_data(ctx, directory)
    return JSONResponse({"loaded": counts}, status_code=201)


async def file_route(request: Request) -> Response:
    api = _ctx(request).apis.get(request.path_params["api"])
    if api is None:
        raise ApiError(404, "no such API")
    key = request.path_params["key"]
    if request.method in ("GET", "HEAD"):
        return await api.serve_file(key, request)
    return await api.receive_file(key, request)


async def _api_error(request: Request, exc: ApiError) -> Response:
    path = request.path_params.get("api") if request.url.path.startswith("/__mock__/files/") else None
    api = path if path in _ctx(request).apis else "__mock__"
    body, ctype = error_body(api, exc.status, exc.message)
    return Response(body, status_code=exc.status, media_type=ctype, headers=exc.headers)


def mock_routes() -> Starlette:
    return Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/__mock__/reset", reset, methods=["POST"]),
            Route("/__mock__/state", state, methods=["GET"]),
            Route("/__mock__/fixtures", fixtures, methods=["POST"]),
            Route("/__mock__/files/{api}/{key:path}", file_route, methods=["GET", "HEAD", "PUT"]),
        ],
        exception_handlers={ApiError: _api_error},
    )
