"""``Prefer: code=NNN`` and ``Prefer: delay=MS``, as Prism offers them, for frontends testing error paths.

A server-wide :class:`Behaviour` (``POST /__mock__/behaviour``) applies the same preferences to every API
request under a path prefix, for tests that cannot add a header to the client they exercise.
"""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import dataclass

from PIL import Image

from mockserver.asgi import Receive, Scope, Send, adding_header, send_response
from mockserver.errors import error_body
from mockserver.operations import routed_operation
from mockserver.request_state import MOCK_CONTEXT, shared

MAX_DELAY_MS = 30_000


def parse_prefer(value: str) -> dict[str, str]:
    prefs = {}
    for part in value.split(","):
        key, _, val = part.strip().partition("=")
        if key:
            prefs[key.strip().lower()] = val.strip().strip('"')
    return prefs


def _tiny_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


_PNG = _tiny_png()


@dataclass(frozen=True)
class Behaviour:
    """Default preferences for requests under ``path_prefix``; a request's own ``Prefer`` wins."""

    latency_ms: int = 0
    status: int | None = None
    path_prefix: str = "/"

    def preferences_for(self, path: str) -> dict[str, str]:
        if not path.startswith(self.path_prefix):
            return {}
        prefs = {"delay": str(self.latency_ms)} if self.latency_ms else {}
        if self.status is not None:
            prefs["code"] = str(self.status)
        return prefs

    def as_json(self) -> dict:
        return {"latency_ms": self.latency_ms, "status": self.status, "path_prefix": self.path_prefix}


class _Forced:
    def __init__(self, status, body=b"", content_type="application/json"):
        self.status_code, self.body, self.content_type = status, body, content_type


def documented_response(responses: dict, status: int) -> dict | None:
    """The response the spec documents for ``status``: its own code, its range (``4XX``), or ``default``
    (which documents every code the operation does not list, 100-599)."""
    for key in (str(status), f"{str(status)[0]}XX"):
        if key in responses:
            return responses[key]
    if "default" in responses and 100 <= status <= 599:
        return responses["default"]
    return None


def forced_response(api: str, operation: dict, status: int) -> _Forced:
    """A documented status with a body valid against its schema: the example, or the API's error format."""
    responses = operation.get("responses", {})
    documented = documented_response(responses, status)
    if documented is None:
        codes = ", ".join(sorted(c for c in responses if c != "default"))
        body, ctype = error_body(
            api, 400, f"Prefer: code={status} is not documented for this operation ({codes})"
        )
        return _Forced(400, body, ctype)
    content = documented.get("content") or {}
    if not content or status == 204:
        return _Forced(status)
    media_type, media = next(iter(content.items()))
    if media_type.startswith("image/"):
        return _Forced(status, _PNG, "image/png")
    example = media.get("example")
    if example is None:
        for ex in (media.get("examples") or {}).values():
            example = ex.get("value")
            break
    if example is not None and status < 400:
        return _Forced(status, json.dumps(example).encode(), media_type)
    body, ctype = error_body(api, status, f"response forced by Prefer: code={status}")
    return _Forced(status, body, ctype)


class PreferMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        raw = dict(scope.get("headers", [])).get(b"prefer")
        behaviour: Behaviour | None = getattr(scope.get(MOCK_CONTEXT), "behaviour", None)
        defaults = behaviour.preferences_for(scope.get("path", "")) if behaviour else {}
        routed = routed_operation(scope) if raw or defaults else None
        if routed is None:
            return await self.app(scope, receive, send)
        if defaults:  # the server-wide behaviour is visible on every answer it shapes
            send = _naming(behaviour, send)
        prefs = {**defaults, **parse_prefer(raw.decode("latin-1") if raw else "")}
        delay = prefs.get("delay", "")
        if delay.isdigit() and not (shared(scope) or {}).get(DELAYED):
            await asyncio.sleep(min(int(delay), MAX_DELAY_MS) / 1000)
        code = prefs.get("code", "")
        if code.isdigit():
            return await send_response(forced_response(*routed, int(code)), send)
        await self.app(scope, receive, send)


BEHAVIOUR_HEADER = b"x-mock-behaviour"
DELAYED = "delayed"  # in the request's shared state: its delay was waited out before any lock


async def delay_before_locks(scope, ctx) -> None:
    """A write's ``Prefer: delay`` (or the behaviour's latency), waited out by the layers that take a
    write lock before they take it: a delayed write holds up no other request."""
    raw = dict(scope.get("headers", [])).get(b"prefer")
    behaviour: Behaviour | None = ctx.behaviour
    defaults = behaviour.preferences_for(scope.get("path", "")) if behaviour else {}
    if not raw and not defaults:
        return
    delay = {**defaults, **parse_prefer(raw.decode("latin-1") if raw else "")}.get("delay", "")
    state = shared(scope)
    if delay.isdigit() and state is not None and not state.get(DELAYED):
        state[DELAYED] = True
        await asyncio.sleep(min(int(delay), MAX_DELAY_MS) / 1000)


def _naming(behaviour: Behaviour, send):
    """``X-Mock-Behaviour: latency_ms=200, status=503`` on the answer: set by ``POST /__mock__/behaviour``."""
    value = f"latency_ms={behaviour.latency_ms}"
    if behaviour.status is not None:
        value += f", status={behaviour.status}"
    return adding_header(send, BEHAVIOUR_HEADER, value.encode())
