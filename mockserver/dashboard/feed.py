"""The journal's push feed: ``GET /__mock__/requests/feed`` is a stream of server-sent events, one
``request`` event per new journal entry (``id:`` the entry id, ``data:`` the entry as
``GET /__mock__/requests`` shows it), with that route's filters.

What it keeps true:

- **No cost to the APIs while no feed is open.** The journal calls its watchers after each append; the
  hub is one of them only while a feed is open, so with none the request path pays a loop over an empty
  list. An open feed is woken, not polling: entries are rendered and sent after the request's answer
  went out, and a burst is sent as one batch (``BATCH_SECONDS``).
- **It resumes.** A reconnecting client sends ``Last-Event-ID`` (or ``?since=<id>``) and gets what it
  missed; without either, the feed starts with the next request.
- **It never holds up the mock's shutdown.** uvicorn's graceful stop waits for open responses, and a feed
  never ends by itself: the first feed chains a handler before uvicorn's own for SIGINT and SIGTERM that
  ends every feed at once (a server run in a thread, ``mockserver.testing``, ends them itself). A feed
  also ends after ``FEED_SECONDS`` (the client reconnects), so a server that is told neither waits at
  most that long.
- Under ``--workers``, other processes' entries reach the feed through the shared store, read every
  ``POLL_SECONDS``; under ``--store``, the journal's table is read again before each look, so every
  replica's entries reach it.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import weakref

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from mockserver.errors import ApiError
from mockserver.layers.journal import BadFilter, matcher

BATCH_SECONDS = 0.05  # a burst of requests is one write to the page
POLL_SECONDS = 1.0  # how often the store is read without a wake-up (other workers' entries)
KEEP_ALIVE_SECONDS = 15.0  # a comment line, so proxies and the browser keep the stream open
FEED_SECONDS = 300.0  # then the feed ends and the client reconnects where it stopped
RETRY_MS = 1000  # the client's reconnection delay


class FeedHub:
    """The open feeds of one journal, woken by its appends."""

    def __init__(self, journal):
        self.journal = journal
        self.waiters: set[asyncio.Event] = set()
        self.closed = False  # the server is stopping: open feeds end, new ones end at once

    def wake(self) -> None:
        for waiter in self.waiters:
            waiter.set()

    def close(self) -> None:
        self.closed = True
        self.wake()

    def subscribe(self) -> asyncio.Event:
        waiter = asyncio.Event()
        if not self.waiters:
            self.journal.watchers.append(self.wake)
        self.waiters.add(waiter)
        return waiter

    def unsubscribe(self, waiter: asyncio.Event) -> None:
        self.waiters.discard(waiter)
        if not self.waiters and self.wake in self.journal.watchers:
            self.journal.watchers.remove(self.wake)


_HUBS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_chained_signals: set[int] = set()


def hub_of(journal) -> FeedHub:
    hub = _HUBS.get(journal)
    if hub is None:
        hub = _HUBS[journal] = FeedHub(journal)
    return hub


def close_feeds(journal) -> None:
    """End the feeds of one journal within ``POLL_SECONDS``: its server is stopping. Called from another
    thread (``mockserver.testing`` stops servers that run in a thread, where no signal tells the
    feeds), so it only raises the flag each feed reads when its wait times out."""
    if journal is not None:
        hub_of(journal).closed = True


def close_all_feeds() -> None:
    """End every open feed of this process (SIGINT or SIGTERM: the process is stopping)."""
    for hub in list(_HUBS.values()):
        hub.close()


def _end_feeds_on_exit_signals() -> None:
    """Chain ``close_all_feeds`` before the handlers uvicorn installed for SIGINT and SIGTERM (signal
    handlers can only be set from the main thread: a server in another thread has no signals to chain)."""
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signum in _chained_signals:
            continue
        previous = signal.getsignal(signum)
        if not callable(previous):  # the default: the process ends anyway
            continue

        def chained(number, frame, previous=previous):
            loop.call_soon_threadsafe(close_all_feeds)
            previous(number, frame)

        signal.signal(signum, chained)
        _chained_signals.add(signum)


async def _reread(journal) -> None:
    """A journal kept in a database every replica writes (``--store``) is read again before each look."""
    refresh = getattr(journal, "refresh", None)
    if refresh is not None:
        await refresh()


def _newest_id(journal) -> int:
    return next((entry["id"] for entry in journal.newest_first()), 0)


def _entries_after(journal, last_id: int) -> list[dict]:
    fresh = []
    for entry in journal.newest_first():
        if entry["id"] <= last_id:
            break
        fresh.append(entry)
    fresh.reverse()
    return fresh


def _event(entry: dict) -> bytes:
    return b"id: %d\nevent: request\ndata: %s\n\n" % (entry["id"], orjson.dumps(entry))


async def request_events(journal, keep, last_id: int):
    """The stream: new entries after ``last_id`` that ``keep`` accepts, until the feed ends."""
    hub = hub_of(journal)
    waiter = hub.subscribe()
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        started = quiet_since = time.monotonic()
        while not hub.closed and time.monotonic() - started < FEED_SECONDS:
            waiter.clear()
            await _reread(journal)
            fresh = _entries_after(journal, last_id)
            if fresh:
                last_id = fresh[-1]["id"]
                chunk = b"".join(_event(entry) for entry in fresh if keep(entry))
                if chunk:
                    yield chunk
                    quiet_since = time.monotonic()
            if time.monotonic() - quiet_since >= KEEP_ALIVE_SECONDS:
                yield b": keep-alive\n\n"
                quiet_since = time.monotonic()
            try:
                await asyncio.wait_for(waiter.wait(), POLL_SECONDS)
            except TimeoutError:
                continue
            await asyncio.sleep(BATCH_SECONDS)
    finally:
        hub.unsubscribe(waiter)


async def feed(request: Request) -> Response:
    """``GET /__mock__/requests/feed``: ``text/event-stream`` of the journal's new entries."""
    journal = request.scope["mockserver"].journal
    if journal is None:
        raise ApiError(404, "the request journal is off (mockserver --journal-size 0)")
    params = dict(request.query_params)
    since = params.pop("since", None) or request.headers.get("last-event-id")
    if since is not None and not since.isdigit():
        raise ApiError(400, f"since must be an entry id (the feed's Last-Event-ID), not {since!r}")
    try:
        keep = matcher(params)
    except BadFilter as exc:
        raise ApiError(400, str(exc)) from exc
    _end_feeds_on_exit_signals()
    await _reread(journal)
    last_id = int(since) if since is not None else _newest_id(journal)
    return StreamingResponse(
        request_events(journal, keep, last_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
