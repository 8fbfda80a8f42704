"""The ASGI vocabulary the mock's layers share: typed Scope/Receive/Send, and the helpers two layers need.

A layer here is ``async def __call__(self, scope: Scope, receive: Receive, send: Send)``; the helpers
answer a response, add a header to one, read a request's body up front, and read the status of
messages held back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_response(response, send: Send) -> None:
    """Sends a Connexion response (status, content type, body) whole, from a layer that answers itself."""
    headers = [
        (b"content-type", response.content_type.encode()),
        (b"content-length", str(len(response.body)).encode()),
    ]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


def adding_header(send: Send, name: bytes, value: bytes) -> Send:
    """``send``, with one more header on the response's start."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (name, value)]}
        await send(message)

    return sending


async def buffered_receive(receive: Receive, limit: int):
    """A ``receive`` that replays the request body read up front (up to ``limit`` bytes, beyond which the
    rest streams on: the body-limit middleware answers 413); None if the client disconnected."""
    chunks, size, more = [], 0, True
    while more and size <= limit:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        more = message.get("more_body", False)
    first = {"type": "http.request", "body": b"".join(chunks), "more_body": more}
    replayed = False

    async def replay():
        nonlocal replayed
        if not replayed:
            replayed = True
            return first
        return await receive()

    replay.body = None if more else first["body"]  # the whole body, when it was all read
    return replay


def declared_length(scope: Scope) -> int:
    """The request's Content-Length (0 when absent or not a number)."""
    value = dict(scope.get("headers", [])).get(b"content-length", b"")
    return int(value) if value.isdigit() else 0


def held_status(messages: list[dict]) -> int:
    """The status of response messages held back (500 if none started)."""
    for message in messages:
        if message["type"] == "http.response.start":
            return message["status"]
    return 500
