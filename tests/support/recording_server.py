"""A server that records the method of every request it receives, for the read-only proof.

Safe requests (GET, HEAD, OPTIONS) are passed on to the mock behind it, so read-only checks see real
answers and go as deep as they would against a deployment. Every other method is *accepted* at once with
a 2xx and a plausible body: a suite that sent a write would be told it succeeded and go on (to follow a
link, read the record back, delete it), so a write shows up here instead of hiding behind a 405.
"""

from __future__ import annotations

import collections
import json
import threading
import time

import httpx
import uvicorn

SAFE = ("GET", "HEAD", "OPTIONS")
_ACCEPTED = json.dumps(
    {"id": 1, "image_id": 1, "ImageId": "1", "name": "x", "url": "http://127.0.0.1/x", "tags": []}
).encode()


class RecordingServer:
    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.received: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self._lock = threading.Lock()
        config = uvicorn.Config(
            self._app, host="127.0.0.1", port=0, log_level="warning", access_log=False, interface="asgi3"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the recording server did not start")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def by_method(self) -> dict[str, int]:
        with self._lock:
            return dict(collections.Counter(method for method, _ in self.received))

    def unsafe(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(m, p) for m, p in self.received if m not in SAFE]

    def clear(self) -> None:
        with self._lock:
            self.received.clear()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    async def _app(self, scope, receive, send):
        if scope["type"] != "http":
            return
        method = scope["method"]
        raw = scope.get("raw_path") or scope["path"].encode()
        raw += b"?" + scope["query_string"] if scope["query_string"] else b""
        path = raw.decode("latin-1")
        with self._lock:
            self.received.append((method, path))
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if method in SAFE:
            headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k.lower() != b"host"]
            upstream = httpx.URL(self.upstream)
            url = upstream.copy_with(raw_path=upstream.raw_path.rstrip(b"/") + raw)  # bytes as received
            async with httpx.AsyncClient(timeout=30) as client:  # per request: no client outlives the loop
                answer = await client.request(method, url, headers=headers, content=body)
            status, content = answer.status_code, answer.content
            out = [
                (k.encode(), v.encode())
                for k, v in answer.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "content-encoding", "connection")
            ]
        else:
            status = 201 if method == "POST" else 200
            content, out = _ACCEPTED, [(b"content-type", b"application/json")]
        out.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else content})
