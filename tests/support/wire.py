"""Rewriting a mock's answers on the wire, for variants and mutants that differ in what a client sees
(error media types, bodies, statuses) rather than in what a handler decides."""

from __future__ import annotations

from collections.abc import Callable

# (the request's ASGI scope, status, {lower-case header name: value}, body) -> (status, headers, body)
Rewrite = Callable[[dict, int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


def rewrite_responses(server, api: str, rewrite: Rewrite) -> None:
    """Wrap ``server.asgi`` so that every HTTP answer of ``api`` passes through ``rewrite`` (buffered)."""
    inner = server.asgi

    async def app(scope, receive, send):
        if scope["type"] != "http" or server.ctx.api_for_path(scope.get("path", "")) != api:
            return await inner(scope, receive, send)
        start: dict = {}
        chunks: list[bytes] = []

        async def buffered(message):
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                return await send(message)
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start.get("headers", [])}
            status, headers, body = rewrite(scope, start["status"], headers, b"".join(chunks))
            headers = {**headers, "content-length": str(len(body))}
            raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
            await send({"type": "http.response.start", "status": status, "headers": raw})
            await send({"type": "http.response.body", "body": body})

        await inner(scope, receive, buffered)

    server.asgi = app
