"""Legal evotor variants: servers that honour every word of the seed and decide otherwise where it is silent.

The seed names no error status and no error body, and shows its timestamps only by example; each variant
here takes one of those decisions differently. ``rewrite_responses`` (also used by the sharinpix variants)
changes answers on the wire, after the mock's own response validation, as another server would send them.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from . import Variant

API = "evotor"
_IMAGES = re.compile(r"/stores/[^/]+/products/[^/]+/images(/[^/]+)?/?$")


def rewrite_responses(server, change, paths=None, methods=None) -> None:
    """``change(status, body) -> (status, body)`` for every answer to a request whose path matches
    ``paths`` (a regex searched in the path) and whose method is in ``methods``; ``body`` is the parsed
    JSON (None when the body is empty or not JSON) and is re-serialised when ``change`` returns another."""
    inner = server.asgi

    async def app(scope, receive, send):
        if (
            scope["type"] != "http"
            or (methods and scope["method"] not in methods)
            or (paths is not None and not re.search(paths, scope["path"]))
        ):
            return await inner(scope, receive, send)
        start, chunks = {}, []

        async def capture(message):
            if message["type"] == "http.response.start":
                start.update(message)
                return None
            if message["type"] != "http.response.body":
                return await send(message)
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return None
            raw = b"".join(chunks)
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            status, body = change(start["status"], parsed)
            if body is not parsed:
                raw = json.dumps(body).encode()
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(raw)).encode()))
            await send({**start, "status": status, "headers": headers})
            return await send({"type": "http.response.body", "body": raw})

        await inner(scope, receive, capture)

    server.asgi = app


def status_instead(old: int, new: int, methods=None):
    """A variant's apply: ``new`` wherever the mock answers ``old`` on the images paths."""

    def apply(server):
        rewrite_responses(
            server, lambda status, body: (new if status == old else status, body), _IMAGES.pattern, methods
        )

    return apply


def _errors_as_code_and_message(server):
    """Error bodies ``{"code": 404, "message": "..."}``, the shape of many REST APIs, not ours."""

    def change(status, body):
        if status < 400 or not isinstance(body, dict) or not body.get("errors"):
            return status, body
        first = body["errors"][0]
        return status, {"code": first.get("code", status), "message": first.get("reason", "")}

    rewrite_responses(server, change)


def _timestamps_in_moscow_time(server):
    """Timestamps in the server's local time (Moscow, +0300) instead of UTC +0000: the same instant, and
    the seed only shows one example offset. (Was the mutant evt-timestamp-local: a legal choice.)"""
    api = server.ctx.apis[API]
    original = api.create_record

    def _create(data, store_id, product_id, token):
        record = original(data, store_id, product_id, token)
        utc = datetime.strptime(record.created_at, "%Y-%m-%dT%H:%M:%S.%f%z")
        local = utc.astimezone(timezone(timedelta(hours=3)))
        record.created_at = record.updated_at = local.strftime("%Y-%m-%dT%H:%M:%S.") + (
            f"{local.microsecond // 1000:03d}+0300"
        )
        return record

    api.create_record = _create


VARIANTS = [
    Variant(
        "evt-403-without-token",
        API,
        "EVT-01",
        "x-decision: a missing X-Authorization gets 401; here 403",
        "requests without X-Authorization get 403",
        status_instead(401, 403),
    ),
    Variant(
        "evt-422-bad-file",
        API,
        "EVT-03",
        "x-decision: a file that is not a 300x300 PNG gets 400; here 422",
        "a non-PNG or wrongly sized file gets 422",
        status_instead(400, 422, methods=("POST",)),
    ),
    Variant(
        "evt-400-too-large",
        API,
        "EVT-03",
        "x-decision: a file over 5242800 bytes gets 413; here 400",
        "a file over the limit gets 400",
        status_instead(413, 400, methods=("POST",)),
    ),
    Variant(
        "evt-400-second-upload",
        API,
        "EVT-04",
        "x-decision: a second upload to a product with an image gets 409; here 400",
        "a second upload gets 400",
        status_instead(409, 400, methods=("POST",)),
    ),
    Variant(
        "evt-410-unknown-id",
        API,
        "EVT-06",
        "x-decision: an unknown image id gets 404; here 410 Gone",
        "an unknown, deleted or foreign image id gets 410",
        status_instead(404, 410, methods=("GET", "DELETE")),
    ),
    Variant(
        "evt-errors-code-message",
        API,
        "ALL-02",
        "x-decision: error bodies {errors: [{code, reason}]}; here {code, message}",
        "error bodies are {code, message}",
        _errors_as_code_and_message,
    ),
    Variant(
        "evt-timestamps-moscow",
        API,
        "EVT-10",
        "x-decision: timestamps in UTC (+0000, the seed's example); here +0300",
        "timestamps in Moscow time (+0300)",
        _timestamps_in_moscow_time,
    ),
]
