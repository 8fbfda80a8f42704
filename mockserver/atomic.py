"""Writes are atomic in memory too: a request that ends in a 5xx (or an exception) leaves no trace.

Under ``--state-dir`` the database transaction gives this (``mockserver.durable``). In memory,
``AtomicWriteMiddleware`` takes, for each API a write may change, a lock and a snapshot of the records
(``BaseApi.snapshot``: copies of the indexes, or the whole ``dump()`` where records change in place), and
journals the bytes the write replaces; it runs the request with its answer held back, and on a 5xx puts
both back before the answer goes out, so no other request ever sees the trace either. The lock orders the
writes of one API (a snapshot restored after another write had landed would lose that one); the body is
read before it is taken, so a slow client holds up no one. Reads take no lock.
"""

from __future__ import annotations

import asyncio
import contextlib

from .durable import _buffered, _declared_length, _status
from .reply_cache import apis_written_by


class AtomicWriteMiddleware:
    def __init__(self, app, ctx):
        self.app = app
        self.ctx = ctx
        self.locks: dict[str, asyncio.Lock] = {}  # made on the serving loop, one per API

    async def __call__(self, scope, receive, send):
        apis = apis_written_by(self.ctx, scope) if scope["type"] == "http" else ()
        if not apis:
            return await self.app(scope, receive, send)
        limit = self.ctx.settings.max_body_bytes
        if _declared_length(scope) <= limit:  # beyond: the body-limit middleware answers 413 unread
            receive = await _buffered(receive, limit)
            if receive is None:
                return  # the client went away before sending its request
        held: list[dict] = []

        async def hold(message):
            held.append(message)

        async with contextlib.AsyncExitStack() as stack:
            for name in sorted(apis):  # always in one order: no two writes wait on each other
                await stack.enter_async_context(self.locks.setdefault(name, asyncio.Lock()))
            snapshots = {name: self.ctx.apis[name].snapshot() for name in apis}
            journal = self.ctx.blobs.start_journal(apis)
            try:
                await self.app(scope, receive, hold)
            except BaseException:
                self._undo(snapshots, journal)
                if _complete(held):  # Starlette writes its 500, then raises: the answer goes out
                    for message in held:
                        await send(message)
                raise
            if _status(held) >= 500:
                self._undo(snapshots, journal)
            else:
                self.ctx.blobs.end_journal(journal)
        for message in held:
            await send(message)

    def _undo(self, snapshots: dict, journal) -> None:
        self.ctx.blobs.undo_journal(journal)
        for name, snapshot in snapshots.items():
            self.ctx.apis[name].rollback(snapshot)
        self.ctx.state_changed(*snapshots)


def _complete(messages: list[dict]) -> bool:
    last = messages[-1] if messages else {}
    return last.get("type") == "http.response.body" and not last.get("more_body", False)
