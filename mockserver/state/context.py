"""One mock server's settings and state, reachable from every request through the ASGI scope."""

from __future__ import annotations

import importlib
import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from image_api_contracts import APIS, ApiProfile
from mockserver.apis.signing import UrlSigner
from mockserver.layers.journal import open_journal
from mockserver.layers.reply_cache import ReplyCache
from mockserver.request_state import CURRENT_SCOPE, MOCK_CONTEXT
from mockserver.state.blobs import BlobStore

if TYPE_CHECKING:
    from mockserver.layers.prefer import Behaviour

DEFAULT_MAX_BODY_BYTES = 25 * 1024 * 1024
DEFAULT_REPLY_CACHE_BYTES = 32 * 1024 * 1024
DEFAULT_JOURNAL_SIZE = 1000
DEFAULT_JOURNAL_BYTES = 64 * 2**20


@dataclass
class Settings:
    apis: tuple[str, ...] = tuple(APIS)
    prefixed: bool = True  # all APIs under /<name>/; False: one API at its real paths
    jwt_secret: str | None = None
    max_store_bytes: int | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    seed_data: Path | None = None
    state_dir: Path | None = None
    store: str | None = None  # postgresql://...: the state of every process pointed at it (state.postgres)
    validate_responses: bool = True
    signing_key: bytes | None = None
    url_ttl_seconds: int = 900
    reply_cache_bytes: int = DEFAULT_REPLY_CACHE_BYTES  # 0: every read runs its handler
    journal_size: int = DEFAULT_JOURNAL_SIZE  # requests kept for GET /__mock__/requests; 0: no journal
    journal_bytes: int = DEFAULT_JOURNAL_BYTES  # and at most about this much memory of them
    public_url: str | None = None  # origin of every URL the mock hands out (else the request's own)
    # Beyond loopback and --public-url's ("*": anyone); mockserver.layers.guard
    allow_origins: tuple[str, ...] = ()
    allow_hosts: tuple[str, ...] = ()  # beyond localhost, *.localhost, IP literals, --public-url's host
    trust_proxy: bool = False  # believe X-Forwarded-Host (a proxy in front sets it)
    control_token: str | None = None  # /__mock__/* controls need it in X-Mock-Token
    freeze_heap: bool = False  # the server process: gc.freeze() once the app is built (mockserver.app)


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
            module_name, cls_name = APIS[name].handler.split(":")
            cls = getattr(importlib.import_module(f"mockserver.apis.{module_name}"), cls_name)
            self.apis[name] = cls(self)
        self._by_base_path = sorted(
            ((APIS[n].base_path(self.settings.prefixed), n) for n in self.apis), key=lambda p: -len(p[0])
        )

    def info(self, name: str) -> ApiProfile:
        return APIS[name]

    def api_for_path(self, path: str) -> str | None:
        """The API whose mount point holds ``path`` (longest match first)."""
        for base, name in self._by_base_path:
            if (
                path == base
                or path.startswith(base + "/")
                or (base == "" and not path.startswith("/__mock__"))
            ):
                return name
        return None

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

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            scope[MOCK_CONTEXT] = self.ctx
            CURRENT_SCOPE.set(scope)
        await self.app(scope, receive, send)
