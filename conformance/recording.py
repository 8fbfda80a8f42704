"""An httpx client that remembers its exchanges, so a failing check can be replayed as a curl command."""

from __future__ import annotations

import shlex

import httpx

SECRET_HEADERS = {"authorization", "x-authorization"}


def as_curl(request: httpx.Request, mask_secrets: bool = True) -> str:
    parts = ["curl", "-X", request.method]
    for name, value in request.headers.items():
        if name.lower() in {
            "host",
            "content-length",
            "accept-encoding",
            "connection",
            "user-agent",
            "accept",
        }:
            continue
        if mask_secrets and name.lower() in SECRET_HEADERS:
            value = "$TOKEN" if name.lower() == "x-authorization" else value.split(" ")[0] + " $TOKEN"
        parts += ["-H", f"{name}: {value}"]
    body = request.content
    if body:
        try:
            text = body.decode("utf-8")
            printable = text.isprintable() or all(c.isprintable() or c in "\r\n\t" for c in text)
        except UnicodeDecodeError:
            printable = False
        if printable and len(text) <= 2000:
            parts += ["--data-raw", text]
        else:
            parts += ["--data-binary", f"@body-{len(body)}-bytes.bin"]
    parts.append(str(request.url))
    return shlex.join(parts)


class RecordingClient(httpx.Client):
    """``exchanges`` holds the (request, response) pairs since the last ``forget()``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    def send(self, request, **kwargs):
        request.read()  # multipart bodies stream; keep the bytes for the curl replay
        response = super().send(request, **kwargs)
        response.read()
        self.exchanges.append((request, response))
        del self.exchanges[:-50]
        return response

    def forget(self) -> None:
        self.exchanges.clear()

    def last_curl(self) -> str | None:
        return as_curl(self.exchanges[-1][0]) if self.exchanges else None
