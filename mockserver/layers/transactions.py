"""``--state-dir``'s transaction layer: each write runs under SQLite's write lock with its answer held back,
and is answered only once committed (the store itself: mockserver.state.durable)."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import sqlite3

from mockserver.asgi import (
    Receive,
    Scope,
    Send,
    adding_header,
    held_status,
)
from mockserver.errors import error_messages
from mockserver.layers.before_locks import ready_for_the_lock
from mockserver.state.durable import DurableState

logger = logging.getLogger("mockserver")
WORKER_HEADER = b"x-mock-worker"  # the pid of the process that answered: tells workers and replicas apart


class DurableMiddleware:
    """The transaction layer under ``--state-dir`` (its place: mockserver.stack): see the module
    docstring. Every response carries the worker's pid in ``X-Mock-Worker``, so clients (and tests) can
    tell the workers apart."""

    def __init__(self, app, state: DurableState):
        self.app = app
        self.state = state
        self.lock: asyncio.Lock | None = None  # made on the serving loop; orders this process's requests
        self.worker = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.lock is None:
            self.lock = asyncio.Lock()
        send = adding_header(send, WORKER_HEADER, self.worker)
        apis = self.state.apis_written_by(scope)
        if not apis:
            async with self.lock:
                self.state.sync()
            return await self.app(scope, receive, send)
        receive = await ready_for_the_lock(scope, receive, self.state.ctx)
        if receive is None:
            return  # the client went away before sending its request
        async with self.lock:
            retry = _frees_space(scope)
            held, error, full = await self._attempt(_fresh(scope) if retry else scope, receive, apis)
            if full and retry and self.state.release_reserve():
                # A delete or a reset frees space, but must first write its own commit: the reserve kept
                # for this is released, and the request runs again (it has no body to replay; the routers
                # rewrite the scope they are given, so each run gets its own).
                held, error, full = await self._attempt(_fresh(scope), _no_body, apis)
            if not full and error is None:
                self.state.keep_reserve()  # space was freed (or never short): keep some for next time
        for message in held:
            await send(message)
        if error is not None:
            raise error

    async def _attempt(self, scope, receive, apis) -> tuple[list[dict], Exception | None, bool]:
        """One run of a write under the lock: the messages to send, the app's exception, and whether the
        commit failed because the disk is full."""
        held: list[dict] = []

        async def hold(message):
            held.append(message)

        try:
            await self.state.begin(apis)
        except sqlite3.Error:  # e.g. another process held the write lock past the busy timeout
            return _unavailable(apis, "the mock's state is busy; retry"), None, False
        try:
            await self.app(scope, receive, hold)
        except Exception as exc:
            self.state.rollback(apis)
            return held, exc, False
        if held_status(held) >= 500:
            self.state.rollback(apis)
            return held, None, False
        try:
            await self.state.commit(apis)
        except Exception as exc:
            self.state.rollback(apis)
            if disk_full(exc):
                logger.warning("mockserver: the disk of %s is full: %s", self.state.dir, exc)
                message = (
                    f"the disk of the mock's state ({self.state.dir}) is full, so nothing was kept; "
                    "DELETE images or POST /__mock__/reset to free space"
                )
                return _unavailable(apis, message), None, True
            logger.warning("mockserver: a change could not be stored: %s", exc)
            return _unavailable(apis, "the mock could not store this change; nothing was kept"), None, False
        return held, None, False


def disk_full(exc: BaseException) -> bool:
    """SQLite's SQLITE_FULL, or ENOSPC/EDQUOT from writing a file."""
    if isinstance(exc, sqlite3.OperationalError):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def _frees_space(scope) -> bool:
    return scope["method"] == "DELETE" or scope["path"] == "/__mock__/reset"


def _fresh(scope) -> dict:
    extensions = {name: dict(value) for name, value in scope.get("extensions", {}).items()}
    return {**scope, "extensions": extensions}


async def _no_body():
    return {"type": "http.request", "body": b"", "more_body": False}


def _unavailable(apis: tuple[str, ...], message: str) -> list[dict]:
    """A 503 in the API's own error format (the mock's for ``/__mock__/reset`` and ``fixtures``)."""
    return error_messages(apis[0] if len(apis) == 1 else "__mock__", 503, message)
