"""``--state-dir``: records and bytes written on shutdown, read back on start-up.

A snapshot, not a journal: a graceful stop (Ctrl-C, SIGTERM) keeps everything; a crash loses what
changed since the last start. The format is plain JSON plus one file per blob, so it can be inspected.
"""

from __future__ import annotations

import hashlib
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


def save_state(ctx, state_dir: Path) -> None:
    blob_dir = state_dir / "blobs"
    blob_dir.mkdir(parents=True, exist_ok=True)
    index = {}
    for key, blob in ctx.blobs.items():
        name = hashlib.sha256(key.encode()).hexdigest()
        target = blob_dir / name
        if not target.exists() or target.stat().st_size != len(blob.data):
            _atomic_write(target, blob.data)
        index[key] = {"file": name, "content_type": blob.content_type}
    for stale in set(p.name for p in blob_dir.iterdir()) - {v["file"] for v in index.values()}:
        (blob_dir / stale).unlink()
    state = {"version": 1, "apis": ctx.dump(), "blobs": index}
    _atomic_write(state_dir / STATE_FILE, json.dumps(state).encode())


def load_state(ctx, state_dir: Path) -> bool:
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
