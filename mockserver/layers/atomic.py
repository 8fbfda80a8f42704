"""Writes are atomic in memory too: a request that ends in a 5xx (or an exception) leaves no trace.

Under ``--state-dir`` the database transaction gives this (``mockserver.state.durable``). In memory,
``AtomicWriteMiddleware`` takes, for each API a write may change, a lock, starts recording what the write
changes in the records (``BaseApi.snapshot``: an undo log of the keys touched and their old values, so a
write costs the same at 100 records as at 100,000) and journals the bytes the write replaces; it runs the
request with its answer held back, and on a 5xx puts both back before the answer goes out, so no other
request ever sees the trace either. The lock orders the writes of one API (an undo replayed after another
write had landed would lose that one); the body is read before it is taken, so a slow client holds up no
one. Reads take no lock.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.formparsers import MultiPartException

from mockserver.asgi import Receive, Scope, Send, held_status
from mockserver.layers.before_locks import ready_for_the_lock
from mockserver.request_state import MOCK_CONTEXT
from mockserver.writes import apis_written_by


class AtomicWriteMiddleware:
    """Inside Connexion after its security (a request refused there is not read, nor waits for a lock),
    and around the mock's own routes (reset, fixtures, the presigned PUTs)."""

    def __init__(self, app, ctx=None):
        self.app = app
        self.ctx = ctx  # None: the request's own (Connexion builds its middlewares without it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = self.ctx or scope.get(MOCK_CONTEXT)
        apis = apis_written_by(ctx, scope) if scope["type"] == "http" and ctx is not None else ()
        if not apis or ctx.settings.state_dir or ctx.settings.store:  # there the transaction does this
            return await self.app(scope, receive, send)
        receive = await ready_for_the_lock(scope, receive, ctx)
        if receive is None:
            return  # the client went away before sending its request
        held: list[dict] = []

        async def hold(message):
            held.append(message)

        async with contextlib.AsyncExitStack() as stack:
            for name in sorted(apis):  # always in one order: no two writes wait on each other
                await stack.enter_async_context(ctx.write_locks.setdefault(name, asyncio.Lock()))
            snapshots = {name: ctx.apis[name].snapshot() for name in apis}
            journal = ctx.blobs.start_journal(apis)
            try:
                await self.app(scope, receive, hold)
            except BaseException as exc:
                if _refusal(exc):  # a 4xx on its way out: the handlers check before they change
                    _settle(ctx, snapshots, journal)
                    raise
                _undo(ctx, snapshots, journal)
                if _complete(held):  # Starlette writes its 500, then raises: the answer goes out
                    for message in held:
                        await send(message)
                raise
            if held_status(held) >= 500:
                _undo(ctx, snapshots, journal)
            else:
                _settle(ctx, snapshots, journal)
        for message in held:
            await send(message)


def _undo(ctx, snapshots: dict, journal) -> None:
    ctx.blobs.undo_journal(journal)
    for name, snapshot in snapshots.items():
        ctx.apis[name].rollback(snapshot)
    ctx.state_changed(*snapshots)


def _settle(ctx, snapshots: dict, journal) -> None:
    ctx.blobs.end_journal(journal)
    for name, snapshot in snapshots.items():
        ctx.apis[name].settle(snapshot)


def _refusal(exc: BaseException) -> bool:
    """An exception that Connexion's error handler (outside this layer) turns into a 4xx."""
    status = getattr(exc, "status", None) or getattr(exc, "status_code", None)
    return isinstance(exc, MultiPartException) or (isinstance(status, int) and 400 <= status < 500)


def _complete(messages: list[dict]) -> bool:
    last = messages[-1] if messages else {}
    return last.get("type") == "http.response.body" and not last.get("more_body", False)
