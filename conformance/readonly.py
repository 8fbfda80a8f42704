"""The last line of --read-only: for the length of a read-only run, every HTTP request the suite's
clients send (httpx for the checks, requests for Schemathesis) passes a gate that lets through only GET,
HEAD and OPTIONS. A check that would write is stopped before its request leaves the process, and its
rules read "not exercised" with the request it would have sent.

The layers above already keep to safe methods (Schemathesis' unexpected-method probes are off, unsafe
operations and ``@pytest.mark.writes`` checks are skipped); the gate keeps that true for whatever is added
later, and the read-only proof test (a server that records every method) checks the layers themselves.
"""

from __future__ import annotations

import contextlib
import threading

from .findings import NotExercised

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_lock = threading.Lock()
_depth = 0
_originals: dict = {}


class UnsafeRequestRefused(NotExercised):
    """A read-only run was about to send a request that may change server state."""

    def __init__(self, method: str, url: str):
        super().__init__("--read-only", f"read-only gate: refused to send {method} {url}")
        self.method = method


def _refuse_unsafe(method, url) -> None:
    method = (method.decode() if isinstance(method, bytes) else str(method)).upper()
    if method not in SAFE_METHODS:
        raise UnsafeRequestRefused(method, str(url))


def _install() -> None:
    import httpx
    import requests.adapters

    sync_send = _originals.setdefault("httpx", httpx.HTTPTransport.handle_request)
    async_send = _originals.setdefault("httpx-async", httpx.AsyncHTTPTransport.handle_async_request)
    requests_send = _originals.setdefault("requests", requests.adapters.HTTPAdapter.send)

    def handle_request(self, request):
        _refuse_unsafe(request.method, request.url)
        return sync_send(self, request)

    async def handle_async_request(self, request):
        _refuse_unsafe(request.method, request.url)
        return await async_send(self, request)

    def send(self, request, *args, **kwargs):
        _refuse_unsafe(request.method, request.url)
        return requests_send(self, request, *args, **kwargs)

    httpx.HTTPTransport.handle_request = handle_request
    httpx.AsyncHTTPTransport.handle_async_request = handle_async_request
    requests.adapters.HTTPAdapter.send = send


def _uninstall() -> None:
    import httpx
    import requests.adapters

    httpx.HTTPTransport.handle_request = _originals.pop("httpx")
    httpx.AsyncHTTPTransport.handle_async_request = _originals.pop("httpx-async")
    requests.adapters.HTTPAdapter.send = _originals.pop("requests")


@contextlib.contextmanager
def safe_methods_only(enabled: bool = True):
    """While active (and ``enabled``), no unsafe request leaves the process through httpx or requests."""
    global _depth
    if not enabled:
        yield
        return
    with _lock:
        if _depth == 0:
            _install()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _uninstall()
