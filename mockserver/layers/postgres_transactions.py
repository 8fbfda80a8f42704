"""The transaction layer under ``--store postgresql://...`` (its place: ``mockserver.stack``).

Every request first brings this process up to date with what any process committed; a write then runs
inside one database transaction holding its APIs' advisory locks, with its answer held back until the
commit (``mockserver.state.postgres``). In this process one write runs at a time
(``PostgresState.write_lock``: the loop never blocks on the network, and a write's memory is never reloaded
under it), and one version check serves every read waiting for it (``PostgresState.fresh``). The
database unreachable or too slow: a 503 in the API's own error format, and the next request tries again,
so the mock recovers by itself when the database returns.
"""

from __future__ import annotations

import logging
import os

from mockserver.asgi import (
    Receive,
    Scope,
    Send,
    adding_header,
    held_status,
)
from mockserver.errors import error_messages
from mockserver.layers.before_locks import ready_for_the_lock
from mockserver.layers.transactions import WORKER_HEADER
from mockserver.state.postgres import PostgresState, StoreUnavailable

logger = logging.getLogger("mockserver")


class PostgresMiddleware:
    """Each response carries the process's pid in ``X-Mock-Worker`` (as under ``--state-dir``)."""

    def __init__(self, app, state: PostgresState):
        self.app = app
        self.state = state
        self.worker = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        send = adding_header(send, WORKER_HEADER, self.worker)
        apis = self.state.apis_written_by(scope)
        if not apis:
            try:
                await self.state.fresh()  # one round serves every read waiting for it
                if scope["method"] == "GET" and scope["path"] == "/__mock__/requests":
                    await self._refresh_journal()
            except StoreUnavailable as exc:
                return await _send_all(send, self._unavailable(scope, exc))
            return await self.app(scope, receive, send)
        receive = await ready_for_the_lock(scope, receive, self.state.ctx)
        if receive is None:
            return  # the client went away before sending its request
        async with self.state.write_lock():
            held, error = await self._attempt(scope, receive, apis)
        await _send_all(send, held)
        if error is not None:
            raise error

    async def _refresh_journal(self) -> None:
        journal = self.state.ctx.journal
        if journal is not None and hasattr(journal, "refresh"):
            await journal.refresh()

    async def _attempt(self, scope, receive, apis) -> tuple[list[dict], Exception | None]:
        held: list[dict] = []

        async def hold(message):
            held.append(message)

        try:
            await self.state.begin(apis)
        except StoreUnavailable as exc:
            await self.state.rollback(apis)
            return self._unavailable(scope, exc), None
        try:
            await self.app(scope, receive, hold)
        except Exception as exc:
            await self.state.rollback(apis)
            return held, exc
        if held_status(held) >= 500:
            await self.state.rollback(apis)
            return held, None
        try:
            await self.state.commit(apis)
        except StoreUnavailable as exc:
            await self.state.rollback(apis)
            return self._unavailable(scope, exc, wrote=True), None
        return held, None

    def _unavailable(self, scope, exc: StoreUnavailable, wrote: bool = False) -> list[dict]:
        """A 503 in the API's own error format (the mock's for its own routes)."""
        logger.warning("mockserver: the store %s is unavailable: %s", self.state.where, exc)
        path = scope["path"]
        api = None if path == "/" or path.startswith("/__mock__/") else self.state.ctx.api_for_path(path)
        kept = "nothing of this request was kept; " if wrote else ""
        message = f"the mock's database is unavailable ({exc}); {kept}retry shortly"
        return error_messages(api or "__mock__", 503, message, headers=((b"retry-after", b"1"),))


async def _send_all(send, messages: list[dict]) -> None:
    for message in messages:
        await send(message)
