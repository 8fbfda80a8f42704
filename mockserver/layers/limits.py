"""Request bodies are capped while they stream in, so an oversized upload costs no memory (413)."""

from __future__ import annotations

from mockserver.asgi import Receive, Scope, Send, send_response
from mockserver.errors import ApiError, error_response
from mockserver.operations import routed_operation
from mockserver.request_state import MOCK_CONTEXT


class BodyLimitMiddleware:
    """Limit: the operation's ``x-max-body-bytes`` in the spec, else ``--max-body-bytes``."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        routed = routed_operation(scope) if scope["type"] == "http" else None
        if routed is None:
            return await self.app(scope, receive, send)
        api, operation = routed
        limit = operation.get("x-max-body-bytes") or scope[MOCK_CONTEXT].settings.max_body_bytes
        declared = encoding = None  # the last of each, as a dict of the headers would hold them
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                encoding = value
        if declared is not None and declared.isdigit() and int(declared) > limit:
            message = f"the request body is {int(declared)} bytes; the limit is {limit} bytes"
            response = error_response(api, 413, message)
            return await send_response(response, send)
        seen = 0

        async def counting_receive():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise ApiError(413, f"the request body exceeds the limit of {limit} bytes")
            return message

        if declared is None and encoding is not None and b"chunked" in encoding.lower():
            scope, counting_receive = await _with_content_length(scope, counting_receive)
        await self.app(scope, counting_receive, send)


async def _with_content_length(scope, receive):
    """A chunked body, read here through the limit and replayed with its Content-Length: Connexion's
    body validators take a request without Content-Length for one without a body (400, "RequestBody is
    required"), so a chunked upload would be refused."""
    messages, size, more_body = [], 0, True
    while more_body:  # bounded: ``receive`` raises 413 once the body passes the limit
        message = await receive()
        if message["type"] != "http.request":
            return scope, _replay([*messages, message], receive)
        messages.append(message)
        size += len(message.get("body", b""))
        more_body = message.get("more_body", False)
    headers = [*scope["headers"], (b"content-length", str(size).encode())]
    return {**scope, "headers": headers}, _replay(messages, receive)


def _replay(messages, receive):
    pending = iter(messages)

    async def replaying_receive():
        return next(pending, None) or await receive()

    return replaying_receive
