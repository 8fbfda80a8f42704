"""Request bodies are capped while they stream in, so an oversized upload costs no memory (413)."""

from __future__ import annotations

from .context import routed_operation
from .errors import ApiError, error_response


class BodyLimitMiddleware:
    """Limit: the operation's ``x-max-body-bytes`` in the spec, else ``--max-body-bytes``."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        routed = routed_operation(scope) if scope["type"] == "http" else None
        if routed is None:
            return await self.app(scope, receive, send)
        api, operation = routed
        limit = operation.get("x-max-body-bytes") or scope["mockserver"].settings.max_body_bytes
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            message = f"the request body is {int(declared)} bytes; the limit is {limit} bytes"
            response = error_response(api, 413, message)
            return await _send(response, send)
        seen = 0

        async def counting_receive():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise ApiError(413, f"the request body exceeds the limit of {limit} bytes")
            return message

        await self.app(scope, counting_receive, send)


async def _send(response, send):
    headers = [
        (b"content-type", response.content_type.encode()),
        (b"content-length", str(len(response.body)).encode()),
    ]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
