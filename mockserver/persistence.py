"""``--state-dir`` files other than the database: the URL-signing key, and the JSON snapshot that earlier
versions wrote on shutdown (``state.json`` + ``blobs/<sha256 of key>``), imported once into the database.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

STATE_FILE = "state.json"
KEY_FILE = "signing.key"


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def signing_key(state_dir: Path) -> bytes:
    """Signed URLs handed out before a restart stay valid after it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / KEY_FILE
    if not path.exists():
        _atomic_write(path, os.urandom(32))
    return path.read_bytes()


def load_snapshot(ctx, state_dir: Path) -> bool:
    """Fill ``ctx`` from an old ``state.json`` if there is one; the caller stores it, then retires it."""
    path = state_dir / STATE_FILE
    if not path.exists():
        return False
    state = json.loads(path.read_text(encoding="utf-8"))
    ctx.reset()
    for key, meta in state.get("blobs", {}).items():
        ctx.blobs.put(key, (state_dir / "blobs" / meta["file"]).read_bytes(), meta["content_type"])
    for name, api_state in state.get("apis", {}).items():
        if name in ctx.apis:
            ctx.apis[name].restore(api_state)
    return True


def retire_snapshot(state_dir: Path) -> None:
    """Kept for inspection under another name, so it is never imported twice."""
    os.replace(state_dir / STATE_FILE, state_dir / (STATE_FILE + ".imported"))
