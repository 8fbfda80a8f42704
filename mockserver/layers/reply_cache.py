"""Replies to safe reads kept as the bytes already sent, until the API's state changes.

Each API has a state version, bumped on every change of its records: a non-safe request routed to it
(``StateVersionMiddleware``, which also covers the presigned PUTs under ``/__mock__/files/<api>/``), a
reset, a fixture load, and a reload from the database under ``--state-dir`` (so another worker's write
invalidates this worker's replies). A GET's reply is kept under the API's version, the request's method,
path, query string, scheme and every header (the origin in file URLs, the credentials, ``Accept``) and the
current second (signed URLs carry an expiry computed from the clock), and replayed without calling the
handler, encoding or validating again.

``ReplyCacheMiddleware`` sits inside Connexion after its security and request validation and before its
response validation: a request that fails authentication or validation never reaches it, and a reply is
kept only once the response validator has let it through. Requests with ``Prefer:`` are never served
from it, nor kept.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from mockserver.asgi import Receive, Scope, Send
from mockserver.operations import routed_operation
from mockserver.request_state import MOCK_CONTEXT
from mockserver.writes import apis_written_by


def now_second() -> int:
    """The clock's second, part of every key (tests pin it to prove that only a change invalidates)."""
    return int(time.time())


ENTRY_OVERHEAD_BYTES = 4500  # an entry's own Python objects (measured with tracemalloc: ~4.5 KB)
HEADER_OVERHEAD_BYTES = 130  # each header pair in a key or a reply, beyond its bytes (measured)


def entry_cost(key: tuple, start: dict, body: bytes) -> int:
    """What an entry really holds: the reply's body and headers, and its key (which holds the request's
    path, query and headers), with Python's per-object overhead."""
    headers = (*key[-1], *start.get("headers", ()))
    return (
        ENTRY_OVERHEAD_BYTES
        + len(body)
        + len(key[4])
        + len(key[5])
        + sum(len(name) + len(value) + HEADER_OVERHEAD_BYTES for name, value in headers)
    )


class ReplyCache:
    """Per-API state versions, and an LRU of encoded replies bounded by what its entries hold in bytes
    (keys and overhead included); entries that can no longer be served are dropped first.

    No kind of reply takes the whole cache: the large ones (over ``max_bytes // LARGE_SHARE_OF_BOUND``
    each, 256 KiB at the default 32 MiB; a listing of 1,000 images is 365 KB) are at most
    ``MAX_LARGE_REPLIES`` and together hold at most ``max_bytes // 4``, the size of the largest reply
    kept at all. A run of distinct large replies (a client busting the cache with a fresh query
    parameter on every read, many pages of big listings) then recycles the buffers of the last two,
    least recently used first, instead of evicting every small, often repeated reply; and each new reply
    is written into memory the processor still holds. Keeping them all cost an uncached 1,000-image
    listing a tenth of its time in memory traffic alone; keeping a quarter of the cache of them (22 such
    listings) still cost it about 3 µs of its 85 in process more than keeping two. Two are what a burst
    of one large read needs (a page whose effects run twice, a few clients reading one listing at once):
    a kept reply serves only within its second and its API's state version, and the reads after a
    write drop the older ones anyway."""

    LARGE_SHARE_OF_BOUND = 128  # an entry over this fraction of the bound is a large one
    MAX_LARGE_REPLIES = 2

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.large_entry_bytes = max_bytes // self.LARGE_SHARE_OF_BOUND
        self.max_large_bytes = max_bytes // 4
        self.versions: dict[str, int] = {}
        self._entries: OrderedDict[tuple, tuple[dict, bytes, int]] = OrderedDict()  # (start, body, cost)
        self._large: OrderedDict[tuple, int] = OrderedDict()  # the large entries' keys -> cost, LRU first
        self._bytes = 0
        self._large_bytes = 0

    def bump(self, *apis: str) -> None:
        """The named APIs' state changed: their kept replies are no longer served."""
        for api in apis:
            self.versions[api] = self.versions.get(api, 0) + 1

    def key(self, api: str, scope) -> tuple:
        return (
            api,
            self.versions.get(api, 0),
            now_second(),
            scope["method"],
            scope["path"],
            scope.get("query_string", b""),
            scope.get("scheme", "http"),
            scope.get("root_path", ""),
            tuple(scope.get("headers", ())),
        )

    def get(self, key: tuple) -> tuple[dict, bytes] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        if entry[2] > self.large_entry_bytes:
            self._large.move_to_end(key)
        return entry[0], entry[1]

    def put(self, key: tuple, start: dict, body: bytes) -> None:
        cost = entry_cost(key, start, body)
        if cost > self.max_bytes // 4:
            return
        self._forget(key)
        self._drop_unservable(key[2])
        self._entries[key] = (start, body, cost)
        self._bytes += cost
        if cost > self.large_entry_bytes:
            self._large[key] = cost
            self._large_bytes += cost
            while self._large_bytes > self.max_large_bytes or len(self._large) > self.MAX_LARGE_REPLIES:
                self._forget(next(iter(self._large)))
        while self._bytes > self.max_bytes:
            self._forget(next(iter(self._entries)))

    def _forget(self, key: tuple) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[2]
            if self._large.pop(key, None) is not None:
                self._large_bytes -= entry[2]

    def _drop_unservable(self, second: int) -> None:
        """Entries of an earlier second or of an API's earlier version can never be served again: the
        oldest come first, so they go from the front until one that still can be."""
        entries = self._entries
        while entries:
            key = next(iter(entries))
            api, version, kept_second = key[:3]
            if kept_second == second and version == self.versions.get(api, 0):
                break
            self._forget(key)

    @property
    def held_bytes(self) -> int:
        return self._bytes

    @property
    def held_large_bytes(self) -> int:
        return self._large_bytes

    def __len__(self) -> int:
        return len(self._entries)


class ReplyCacheMiddleware:
    """In Connexion's stack between request validation and response validation (see the module doc)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = scope.get(MOCK_CONTEXT)
        cache: ReplyCache | None = getattr(ctx, "replies", None)
        if cache is None or scope["type"] != "http" or scope["method"] != "GET" or _has_prefer(scope):
            return await self.app(scope, receive, send)
        routed = routed_operation(scope)
        if routed is None:
            return await self.app(scope, receive, send)
        key = cache.key(routed[0], scope)
        entry = cache.get(key)
        if entry is not None:
            start, body = entry
            await send(_copy(start))  # outer layers (CORS) add headers to the message they are given
            await send({"type": "http.response.body", "body": body})
            return
        start: dict | None = None
        chunks: list[bytes] = []

        async def keeping_send(message):
            nonlocal start
            if message["type"] == "http.response.start":
                start = _copy(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and start is not None and start["status"] == 200:
                    cache.put(key, start, b"".join(chunks))
            await send(message)

        await self.app(scope, receive, keeping_send)


class StateVersionMiddleware:
    """Around the whole mock: a non-safe request bumps the version of the API(s) it may change as its
    answer starts (the handler is done, so the change is made) and again once it is over (whatever its
    outcome). Bumping only at the end left a window: while the answer was still being written, a client
    that had read it could get a reply kept from before the change."""

    def __init__(self, app, ctx):
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        apis = apis_written_by(self.ctx, scope) if scope["type"] == "http" else ()
        if not apis:
            return await self.app(scope, receive, send)

        async def bumping_send(message):
            if message["type"] == "http.response.start":
                self.ctx.state_changed(*apis)
            await send(message)

        try:
            await self.app(scope, receive, bumping_send)
        finally:
            self.ctx.state_changed(*apis)


def _copy(start: dict) -> dict:
    return {**start, "headers": list(start.get("headers", ()))}


def _has_prefer(scope) -> bool:
    return any(name == b"prefer" for name, _ in scope.get("headers", ()))
