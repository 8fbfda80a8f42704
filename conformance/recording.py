"""An httpx client that remembers its exchanges, so a failing check can be replayed as a curl command."""

from __future__ import annotations

import hashlib
import shlex
from pathlib import Path

import httpx

from .images import note_exchange

SECRET_HEADERS = {"authorization", "x-authorization"}
_NOT_REPLAYED = {"host", "content-length", "accept-encoding", "connection", "user-agent", "accept"}
INLINE_BODY_LIMIT = 2000


def _printable(body: bytes) -> str | None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    ok = all(c.isprintable() or c in "\r\n\t" for c in text)
    return text if ok and len(text) <= INLINE_BODY_LIMIT else None


def _body_of(request) -> bytes:
    """The bytes sent: an ``httpx.Request``'s content, or a ``requests.PreparedRequest``'s body."""
    if isinstance(request, httpx.Request):
        try:
            return request.content
        except httpx.RequestNotRead:
            return request.read()
    body = getattr(request, "body", None) or b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def as_curl(request, mask_secrets: bool = True, body_dir: str | Path | None = None) -> str:
    """The request (httpx or requests) exactly as it was sent. A body that cannot be inlined is written
    to ``body_dir`` (named by its SHA-256) and sent with ``--data-binary @file``."""
    parts = ["curl", "-X", request.method]
    for name, value in request.headers.items():
        if name.lower() in _NOT_REPLAYED:
            continue
        if mask_secrets and name.lower() in SECRET_HEADERS:
            value = "$TOKEN" if name.lower() == "x-authorization" else value.split(" ")[0] + " $TOKEN"
        parts += ["-H", f"{name}: {value}"]
    body = _body_of(request)
    if body:
        text = _printable(body)
        if text is not None:
            parts += ["--data-raw", text]
        else:
            name = f"body-{hashlib.sha256(body).hexdigest()[:16]}.bin"
            if body_dir is not None:
                path = Path(body_dir)
                path.mkdir(parents=True, exist_ok=True)
                (path / name).write_bytes(body)
                name = str(path / name)
            parts += ["--data-binary", f"@{name}"]
    parts.append(str(request.url))
    return shlex.join(parts)


class RecordingClient(httpx.Client):
    """``exchanges`` holds the (request, response) pairs since the last ``forget()``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    def send(self, request, **kwargs):
        body = request.read()  # multipart bodies stream; keep the bytes for the curl replay
        response = super().send(request, **kwargs)
        response.read()
        note_exchange(request, response, body)  # images sent and served, for the reports' image pairs
        self.exchanges.append((request, response))
        del self.exchanges[:-50]
        return response

    def forget(self) -> None:
        self.exchanges.clear()
