"""``--state-dir`` files other than the database: the URL-signing key, and the JSON snapshot that earlier
versions wrote on shutdown (``state.json`` + ``blobs/<sha256 of key>``), imported once into the database.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from mockserver.layers.gate import repaired

logger = logging.getLogger("mockserver")

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
    """Fill ``ctx`` from an old ``state.json`` if there is one; the caller stores it, then retires it.

    Old data never stops the start: what the gate now refuses is repaired
    (``mockserver.layers.gate.repaired``),
    a missing blob file or an API state that cannot be restored is skipped; each with a log line."""
    path = state_dir / STATE_FILE
    if not path.exists():
        return False
    try:
        state = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except ValueError as exc:
        logger.warning("mockserver: %s is not JSON (%s); it is not imported", path, exc)
        return False
    state, changes = repaired(state if isinstance(state, dict) else {})
    log_repairs(str(path), changes)
    ctx.reset()
    for key, meta in (state.get("blobs") or {}).items():
        try:
            ctx.blobs.put(key, (state_dir / "blobs" / meta["file"]).read_bytes(), meta["content_type"])
        except (OSError, KeyError, TypeError) as exc:
            logger.warning("mockserver: %s: the file of %s is skipped (%s)", path, key, exc)
    for name, api_state in (state.get("apis") or {}).items():
        if name in ctx.apis:
            restore_or_skip(ctx.apis[name], api_state, str(path))
    return True


def log_repairs(source: str, changes: list[str]) -> None:
    if changes:
        shown = "; ".join(changes[:5]) + (f"; and {len(changes) - 5} more" if len(changes) > 5 else "")
        logger.warning("mockserver: repaired %d value(s) of %s: %s", len(changes), source, shown)


def restore_or_skip(api, state, source: str) -> bool:
    """``api.restore(state)``; when the state does not fit the API's records, the API starts empty."""
    try:
        api.restore(state)
        return True
    except Exception as exc:  # old data of any shape: the server must come up all the same
        api.reset()
        logger.warning(
            "mockserver: the %s state in %s is skipped, it cannot be restored (%s: %s)",
            api.name,
            source,
            type(exc).__name__,
            exc,
        )
        return False


def retire_snapshot(state_dir: Path) -> None:
    """Kept for inspection under another name, so it is never imported twice."""
    os.replace(state_dir / STATE_FILE, state_dir / (STATE_FILE + ".imported"))
