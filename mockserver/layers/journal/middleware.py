"""The journal's ASGI layer: taps the request body, and records the exchange as its answer goes out."""

from __future__ import annotations

import hashlib
import logging
import sqlite3

from mockserver.asgi import Receive, Scope, Send
from mockserver.layers.journal.entries import SPEC_DOCUMENTS, Exchange, Recording, body_summary
from mockserver.layers.journal.store import CREDENTIAL_HEADERS, PARSE_LIMIT_BYTES, PREVIEW_PARSE_BYTES
from mockserver.layers.verdict import contract_verdict, is_honoured, refusal_message
from mockserver.request_state import EXCHANGE, shared

logger = logging.getLogger("mockserver")


class _BodyTap:
    """The request body as the app reads it: size and SHA-256, and the bytes up to the parse limit.

    What the app never read (a request refused before its body, one over the mock's limit) is not read
    here either: a client may be waiting for the answer before it sends the rest."""

    def __init__(self, receive, limit: int = PARSE_LIMIT_BYTES):
        self._receive = receive
        self.limit = limit
        self.digest = hashlib.sha256()
        self.kept = bytearray()
        self.size = 0
        self.done = False

    async def receive(self):
        message = await self._receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            self.digest.update(chunk)
            self.size += len(chunk)
            if self.size <= self.limit:
                self.kept.extend(chunk)
            self.done = not message.get("more_body", False)
        return message

    async def summary(self, scope) -> dict | None:
        headers = scope["headers"]
        content_type = next((v.decode("latin-1") for k, v in headers if k.lower() == b"content-type"), "")
        data = bytes(self.kept) if self.size <= self.limit else None
        form = (shared(scope) or {}).get("parsed_form")
        return await body_summary(content_type, self.size, self.digest.hexdigest(), data, self.done, form)


def _parse_limit(headers) -> int:
    """Multipart bodies are parsed into files; JSON and forms, into memory: those are kept for less."""
    for name, value in headers:
        if name.lower() == b"content-type" and value.lower().startswith(b"multipart/"):
            return PARSE_LIMIT_BYTES
    return PREVIEW_PARSE_BYTES


def _has_body(headers) -> bool:
    for name, value in headers:
        name = name.lower()
        if (name == b"content-length" and value.strip() not in (b"", b"0")) or name == b"transfer-encoding":
            return True
    return False


class JournalMiddleware:
    """Outside everything that answers (mockserver.stack): one entry per request to an API or to a file URL,
    written before the response's last byte leaves, so a client that saw its answer finds it in the
    journal. CORS preflights, the ``/__mock__/`` controls, Swagger UI and the spec documents are not
    recorded. A request without a body costs a few dictionary entries; the rendering waits until
    someone reads the journal."""

    def __init__(self, app, ctx):
        self.app = app
        self.ctx = ctx
        self.secret_headers = CREDENTIAL_HEADERS | _api_key_headers(ctx)
        self.base_paths = {api: ctx.info(api).base_path(ctx.settings.prefixed) for api in ctx.apis}
        self._apis_of: dict[str, str | None] = {}  # path -> API: the same paths come again and again

    def _api_of(self, scope) -> str | None:
        """The API a recorded request belongs to, or None when it is not recorded."""
        path = scope.get("path", "")
        try:
            return self._apis_of[path]
        except KeyError:
            if len(path) > 512:  # only short paths are kept: the memo is bounded in bytes, not just count
                return self._find_api(path)
            if len(self._apis_of) >= 4096:
                self._apis_of.clear()
            api = self._apis_of[path] = self._find_api(path)
            return api

    def _find_api(self, path: str) -> str | None:
        if path.startswith("/__mock__/"):
            parts = path.split("/")
            return parts[3] if path.startswith("/__mock__/files/") and len(parts) > 3 else None
        api = self.ctx.api_for_path(path) if path != "/" else None
        if api is None:
            return None
        relative = path[len(self.base_paths[api]) :]
        if relative in SPEC_DOCUMENTS or relative == "/ui" or relative.startswith("/ui/"):
            return None
        return api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        journal = self.ctx.journal
        if journal is None or scope["type"] != "http":
            return await self.app(scope, receive, send)
        api = self._api_of(scope)
        if api is None or _preflight(scope):
            return await self.app(scope, receive, send)
        exchange = scope[EXCHANGE] = Exchange(api)
        tap = _BodyTap(receive, _parse_limit(scope["headers"])) if _has_body(scope["headers"]) else None
        response_headers = None

        async def journal_send(message):
            nonlocal response_headers
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                response_headers = message.get("headers")
            elif message["type"] == "http.response.body" and not message.get("more_body") and exchange.status:
                body = await tap.summary(scope) if tap is not None else None
                self._record(journal, scope, exchange, body, response_headers)
                exchange.status = 0  # recorded
                if hasattr(journal, "flush"):  # a shared store: written before the client can ask for it
                    await journal.flush()
            await send(message)

        await self.app(scope, tap.receive if tap is not None else receive, journal_send)

    def _record(self, journal, scope, exchange, body, response_headers) -> None:
        method, path = scope["method"], scope["path"]
        # honoured: the verdict object is made when the journal is read
        contract = None if is_honoured(exchange, path) else contract_verdict(exchange, self.ctx, method, path)
        refused = exchange.routed and exchange.validated and exchange.refusal is not None
        # the mock's own refusal of a request that passed the spec (a 409, an image of the wrong size)
        error = refusal_message(exchange.refusal) if refused else None
        entry = Recording(exchange, scope, body, contract, error, response_headers, self.secret_headers)
        try:
            journal.append(entry)
        except sqlite3.Error as exc:  # the journal is a diagnostic: never the reason a request fails
            logger.warning("mockserver: the request journal could not record %s %s: %s", method, path, exc)


def _preflight(scope) -> bool:
    if scope["method"] != "OPTIONS":
        return False
    names = {name.lower() for name, _ in scope.get("headers", [])}
    return b"origin" in names and b"access-control-request-method" in names


def _api_key_headers(ctx) -> frozenset[str]:
    """Header names of the specs' apiKey schemes (evotor's X-Authorization): credentials to redact."""
    names = set()
    for api in ctx.apis:
        schemes = ctx.info(api).spec.get("components", {}).get("securitySchemes", {})
        for scheme in schemes.values():
            if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                names.add(scheme["name"].lower())
    return frozenset(names)
