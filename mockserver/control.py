"""The mock's own routes under ``/__mock__/``: state control, uploaded files, and the index page."""

from __future__ import annotations

import html
import json
import sqlite3
from pathlib import Path

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from image_api_contracts import FIXTURES_DIR
from mockserver.dashboard.feed import feed
from mockserver.dashboard.paging import BadPage, journal_page, page_request
from mockserver.dashboard.routes import dashboard_routes
from mockserver.errors import ApiError, error_body, logger
from mockserver.layers.journal import BadFilter, matcher
from mockserver.layers.prefer import MAX_DELAY_MS, Behaviour
from mockserver.operations import operation_index
from mockserver.request_state import MOCK_CONTEXT
from mockserver.state.fixtures import SeedError, load_seed_data

JSON = "application/json"


def _ctx(request: Request):
    return request.scope[MOCK_CONTEXT]


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
        + "</table><p><a href='/__mock__/ui/'>Dashboard</a>: the stored images, the requests received "
        "and their contract verdicts, live.</p>"
        "<p>Mock controls: <code>POST /__mock__/reset</code>, <code>GET /__mock__/state</code>, "
        "<code>POST /__mock__/fixtures</code>, <code>POST /__mock__/behaviour</code>, "
        "<code>GET /__mock__/requests</code> (what the mock received, with each request's contract verdict). "
        "Headers: <code>Prefer: code=404</code>, <code>Prefer: delay=250</code>.</p></body></html>"
    )
    return HTMLResponse(page)


async def reset(request: Request) -> Response:
    _ctx(request).reset()
    return Response(status_code=204)


async def state(request: Request) -> Response:
    """Whatever the records hold, this answers: non-ASCII is escaped, so even a lone
    surrogate kept from before the gate existed is written as ``\\ud800`` instead of failing to encode."""
    ctx = _ctx(request)
    body = {"apis": ctx.dump(), "stored_bytes": ctx.blobs.used_bytes, "stored_files": len(ctx.blobs)}
    return Response(json.dumps(body).encode("ascii"), media_type="application/json")


async def requests(request: Request) -> Response:
    """The request journal: ``GET`` (filters ``api``, ``operation``, ``method``, ``path`` with ``*``,
    ``status`` as ``201`` or ``4xx``, ``since`` an entry id or ISO time, ``verdict``; pages with
    ``limit`` and ``cursor``, mockserver.dashboard.paging), ``DELETE`` clears."""
    journal = _ctx(request).journal
    if journal is None:
        raise ApiError(404, "the request journal is off (mockserver --journal-size 0)")
    if request.method == "DELETE":
        try:
            journal.clear()
        except sqlite3.Error as exc:  # under --state-dir, a full disk: an answer that says so, not a 500
            raise ApiError(503, f"the journal could not be cleared: {exc}") from exc
        return Response(status_code=204)
    params = dict(request.query_params)
    try:
        limit, cursor = page_request(params)
        keep = matcher(params)
    except (BadFilter, BadPage) as exc:
        raise ApiError(400, str(exc)) from exc
    if limit is None:
        entries = [entry for entry in journal.entries() if keep(entry)]
        return Response(orjson.dumps({"journal_size": journal.size, "requests": entries}), media_type=JSON)
    entries, next_cursor = journal_page(journal, keep, limit, cursor)
    body = {"journal_size": journal.size, "requests": entries, "next_cursor": next_cursor}
    return Response(orjson.dumps(body), media_type=JSON)


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
    try:
        counts = load_seed_data(ctx, directory)
    except SeedError as exc:
        raise ApiError(400, str(exc)) from exc
    return JSONResponse({"loaded": counts}, status_code=201)


async def behaviour(request: Request) -> Response:
    """Server-wide latency and forced errors: ``{"latency_ms": 200, "status": 404, "path_prefix": "/"}``.

    Applied to every API request under the prefix as a default ``Prefer`` (DELETE or ``/__mock__/reset``
    clears it); a forced status must be one the API documents, and each operation answers it only if it
    documents it too (otherwise a 400 naming the codes it does document, as for ``Prefer: code=``).
    """
    ctx = _ctx(request)
    if request.method == "DELETE":
        ctx.behaviour = None
    elif request.method == "POST":
        ctx.behaviour = _parse_behaviour(ctx, await request.body())
    return JSONResponse((ctx.behaviour or Behaviour()).as_json())


def _parse_behaviour(ctx, raw: bytes) -> Behaviour:
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise ApiError(400, "the body must be JSON: {latency_ms, status, path_prefix}") from exc
    if not isinstance(body, dict) or set(body) - {"latency_ms", "status", "path_prefix"}:
        raise ApiError(400, "the body must be an object with latency_ms, status and/or path_prefix")
    latency, status, prefix = body.get("latency_ms", 0), body.get("status"), body.get("path_prefix", "/")
    if type(latency) is not int or not 0 <= latency <= MAX_DELAY_MS:
        raise ApiError(400, f"latency_ms must be an integer from 0 to {MAX_DELAY_MS}")
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise ApiError(400, "path_prefix must be a path starting with /")
    if status is not None:
        documented = _documented_statuses(ctx, prefix)
        if type(status) is not int or str(status) not in documented:
            codes = ", ".join(sorted(documented)) or "none"
            raise ApiError(400, f"status {status!r} is not documented under {prefix} (documented: {codes})")
    return Behaviour(latency_ms=latency, status=status, path_prefix=prefix)


def _documented_statuses(ctx, prefix: str) -> set[str]:
    """Response codes documented by the operations of the APIs mounted where ``prefix`` points."""
    codes: set[str] = set()
    for name in ctx.apis:
        base = ctx.info(name).base_path(ctx.settings.prefixed) + "/"
        if base.startswith(prefix) or prefix.startswith(base):
            for operation in operation_index(name).values():
                responses = operation.get("responses", {})
                codes.update(c for c in responses if c.isdigit())
                if "default" in responses:  # documents every code the operation does not list
                    codes.update(str(code) for code in range(100, 600))
    return codes


async def file_route(request: Request) -> Response:
    api = _ctx(request).apis.get(request.path_params["api"])
    if api is None:
        raise ApiError(404, "no such API")
    key = request.path_params["key"]
    if request.method in ("GET", "HEAD"):
        return await api.serve_file(key, request)
    return await api.receive_file(key, request)


async def _unexpected(request: Request, exc: Exception) -> Response:
    """A bug in a mock route: an answer in the mock's format, not a dropped connection."""
    logger.exception("unexpected error in %s", request.url.path, exc_info=exc)
    body, ctype = error_body("__mock__", 500, "Internal error in the mock server")
    return Response(body, status_code=500, media_type=ctype)


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
            Route("/__mock__/requests", requests, methods=["GET", "DELETE"]),
            Route("/__mock__/requests/feed", feed, methods=["GET"]),
            *dashboard_routes(),
            Route("/__mock__/behaviour", behaviour, methods=["GET", "POST", "DELETE"]),
            Route("/__mock__/files/{api}/{key:path}", file_route, methods=["GET", "HEAD", "PUT"]),
        ],
        exception_handlers={ApiError: _api_error, Exception: _unexpected},
    )
