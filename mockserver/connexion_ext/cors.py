"""Starlette's CORS middleware, with a request that carries no ``Origin`` handled without its header objects.

For every request Starlette builds a ``Headers`` of the request (a copy of its header list) to read
``Origin``, and for every answer a ``MutableHeaders`` of the response start to add ``Vary: Origin``. A
request without ``Origin`` (curl, a server, a same-origin ``GET`` of most browsers) gets nothing else from
CORS; so here its ``Origin`` is looked for in the raw headers, and its answer's ``Vary`` is set on the
raw header list the way ``MutableHeaders.__setitem__`` sets it (the values of every ``vary`` header,
then ``Origin``, joined in the first one's place, the others removed). A request with ``Origin`` takes
Starlette's own path, unchanged.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware

from mockserver.asgi import Receive, Scope, Send


def _has_origin(headers) -> bool:
    """Whether the request names an ``Origin`` (ASGI header names are lower case)."""
    return any(name == b"origin" for name, _ in headers)


def vary_on_origin(message: dict) -> None:
    """``headers["Vary"] = ", ".join([*headers.getlist("Vary"), "Origin"])`` on the start message's raw
    headers, as Starlette's ``MutableHeaders`` does it."""
    headers = message["headers"] = list(message.get("headers", ()))
    found = [i for i, (name, _) in enumerate(headers) if name == b"vary"]
    value = b", ".join([*(headers[i][1] for i in found), b"Origin"])
    for i in reversed(found[1:]):
        del headers[i]
    if found:
        headers[found[0]] = (b"vary", value)
    else:
        headers.append((b"vary", value))


class OriginlessFastCORS(CORSMiddleware):
    """Starlette's ``CORSMiddleware``; a request without ``Origin`` only gets ``Vary: Origin`` on its answer
    (see the module doc)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _has_origin(scope["headers"]):
            return await super().__call__(scope, receive, send)

        async def varying_send(message) -> None:
            if message["type"] == "http.response.start":
                vary_on_origin(message)
            await send(message)

        await self.app(scope, receive, varying_send)
