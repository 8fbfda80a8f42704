"""One mock server's settings: what the command line and ``create_app(**options)`` set.

Kept apart from the state they configure so that reading a default (the CLI's ``--help``) imports nothing
of Connexion.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from image_api_contracts import APIS

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
