"""One mock server's settings and state, reachable from every request through the ASGI scope."""

from __future__ import annotations

import importlib
import logging
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from image_api_contracts import APIS, ApiProfile
from mockserver.apis.signing import UrlSigner
from mockserver.asgi import Receive, Scope, Send
from mockserver.layers.journal import open_journal
from mockserver.layers.reply_cache import ReplyCache
from mockserver.mounts import MountPoints
from mockserver.request_state import CURRENT_SCOPE, MOCK_CONTEXT
from mockserver.state.blobs import BlobStore
from mockserver.state.settings import Settings

if TYPE_CHECKING:
    from mockserver.layers.prefer import Behaviour


@dataclass
class MockContext:
    settings: Settings
    blobs: BlobStore = field(init=False)
    signer: UrlSigner = field(init=False)
    apis: dict = field(init=False)  # name -> handler object (mockserver.apis.*)
    behaviour: Behaviour | None = field(default=None, init=False)  # POST /__mock__/behaviour
    replies: object = field(init=False)  # a ReplyCache, or None when the settings turn it off
    # Api -> asyncio.Lock (mockserver.layers.atomic)
    write_locks: dict = field(default_factory=dict, init=False)
    journal: object = field(init=False)  # a mockserver.layers.journal store, or None with journal_size 0

    def __post_init__(self):
        self.blobs = BlobStore(self.settings.max_store_bytes)
        self.signer = UrlSigner(self.settings.signing_key, self.settings.url_ttl_seconds)
        cache_bytes = self.settings.reply_cache_bytes
        self.replies = ReplyCache(cache_bytes) if cache_bytes else None
        self.journal = open_journal(self.settings)
        self.apis = {}
        for name in self.settings.apis:
            self.apis[name] = self.make_handler(name)
        self.mounts = MountPoints(tuple(self.apis), self.settings.prefixed)

    def make_handler(self, name: str):
        """A new handler of that API (mockserver.apis.*) on this context: every served API has one; a store
        migrated from an older schema makes one for each API it holds, served here or not."""
        module_name, cls_name = APIS[name].handler.split(":")
        return getattr(importlib.import_module(f"mockserver.apis.{module_name}"), cls_name)(self)

    def info(self, name: str) -> ApiProfile:
        return APIS[name]

    def api_for_path(self, path: str) -> str | None:
        """The API whose mount point holds ``path`` (longest match first)."""
        return self.mounts.api_for_path(path)

    def reset(self) -> None:
        self.behaviour = None
        self.blobs.clear()
        for api in self.apis.values():
            api.reset()
        if self.journal is not None:
            try:
                self.journal.clear()
            except sqlite3.Error as exc:  # a full disk: the journal is a diagnostic, the reset goes on
                logging.getLogger("mockserver").warning("mockserver: journal not cleared: %s", exc)

    def state_changed(self, *apis: str) -> None:
        """Records of these APIs changed outside a request (reset, fixtures, a reload): drop kept replies."""
        if self.replies is not None:
            self.replies.bump(*apis)

    def dump(self) -> dict:
        return {name: api.dump() for name, api in self.apis.items()}


class ContextMiddleware:
    """Puts the context where security handlers and mock routes find it (its place: mockserver.stack)."""

    def __init__(self, app, ctx: MockContext):
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope[MOCK_CONTEXT] = self.ctx
            CURRENT_SCOPE.set(scope)
        await self.app(scope, receive, send)
