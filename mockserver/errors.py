"""Errors in each API's own format: the seeds differ, and a client must never see Connexion's problem+json."""

from __future__ import annotations

import json
import logging

from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from image_api_contracts import APIS
from mockserver.exceptions import MockError
from mockserver.operations import allowed_methods

logger = logging.getLogger("mockserver")


class ApiError(MockError):
    """Raised by handlers and helpers; rendered in the format of the API that served the request."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


MAX_MESSAGE_CHARS = 500  # jsonschema's messages quote the value: an 8 MiB body would come back whole


def clipped(message: str) -> str:
    """A message of at most about ``MAX_MESSAGE_CHARS``: errors never echo a request's body."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return f"{message[: MAX_MESSAGE_CHARS - 100]}… ({len(message)} characters, clipped)"


def error_body(api: str, status: int, message: str) -> tuple[bytes, str]:
    """Body and content type of an error, as the API's spec documents it (see specs/README.md)."""
    message = clipped(message)
    profile = APIS.get(api)
    if profile is None:  # outside any API: the mock's own routes
        body: object = {"error": message, "status": status}
    elif profile.error_body is None:
        return message.encode(), "text/plain; charset=utf-8"
    else:
        body = profile.error_body(status, message)
    return json.dumps(body).encode(), "application/json"


def error_messages(api: str, status: int, message: str, headers: tuple = ()) -> list[dict]:
    """An error in the API's format as the two ASGI messages of a whole response, for a layer that answers
    outside Connexion or holds its answer back; ``headers`` are further ``(name, value)`` byte pairs."""
    body, content_type = error_body(api, status, message)
    head = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()), *headers]
    return [
        {"type": "http.response.start", "status": status, "headers": head},
        {"type": "http.response.body", "body": body},
    ]


def error_response(api: str, status: int, message: str, headers: dict[str, str] | None = None):
    body, content_type = error_body(api, status, message)
    return ConnexionResponse(status_code=status, body=body, content_type=content_type, headers=headers)


def _message(exc: Exception) -> tuple[int, str, dict[str, str]]:
    if isinstance(exc, ApiError):
        return exc.status, exc.message, exc.headers
    if isinstance(exc, ProblemException):
        detail = exc.detail or exc.title or "error"
        status, headers = exc.status, dict(exc.headers or {})
    elif isinstance(exc, MultiPartException):
        return 400, f"Malformed multipart body: {exc.message}", {}
    elif isinstance(exc, HTTPException):
        status, detail, headers = exc.status_code, exc.detail, dict(exc.headers or {})
    else:
        logger.exception("unexpected error", exc_info=exc)
        return 500, "Internal error in the mock server", {}
    if status == 415:
        # The specs document 400 for malformed requests, not 415; a wrong Content-Type is one.
        return 400, f"Unsupported Content-Type: {detail}", headers
    return status, str(detail), headers


def make_error_handler(ctx):
    """One handler for every exception, rendering in the format of the API that owns the path."""

    def handle(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        status, message, headers = _message(exc)
        path = request.url.path
        api = ctx.api_for_path(path) or "__mock__"
        if api == "__mock__" and status == 404:  # every API served at once: a path under no API's mount point
            bases = {name: ctx.info(name).base_path(ctx.settings.prefixed) for name in ctx.apis}
            mounted = ", ".join(f"{name} at {base}/" for name, base in bases.items())
            message = f"No API is mounted at {path}. The mounted APIs: {mounted}; the mock's index is at /"
        if status == 405 and api in ctx.apis:
            base = ctx.info(api).base_path(ctx.settings.prefixed)
            methods = allowed_methods(api, path[len(base) :])
            if methods:  # Starlette lists only the first route's method; the spec knows them all
                headers["Allow"] = ", ".join(methods)
        return error_response(api, status, message, headers)

    return handle
