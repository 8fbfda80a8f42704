"""``--state-dir``: records in SQLite (WAL), bytes in files, committed before the client hears of a write.

The handlers keep their records in memory, as in the default mode; this module makes that memory a cache
of the database. Around every request, ``DurableMiddleware`` (mockserver.layers.transactions):

- brings the process up to date if another process committed since it last looked (``PRAGMA
  data_version`` costs one call when nothing changed; then only the rows above the version this process
  has seen are loaded: mockserver.state.rows);
- for a write (POST, PUT, PATCH, DELETE to an API, or to ``/__mock__/reset|fixtures|files``) takes SQLite's
  write lock (``BEGIN IMMEDIATE``: one writer across all worker processes), records what the write changes
  in its APIs' undo logs, runs the request with its response held back, writes the new blob files and
  fsyncs them, stores the rows of the records it touched and the blob rows, commits, and only then sends
  the response: a write costs what it touched, not what the store holds. A 5xx, an exception or a failed
  commit rolls back and undoes the write in memory from its undo log, so memory never keeps what the
  database does not have.

One sequence numbers the commits (``meta.version``; one writer at a time): each row carries the version
that last wrote it, and a deleted record or blob leaves a tombstone row (``records.json`` NULL,
``deleted_blobs``), so what moved since version V is the rows above V.

So a ``kill -9`` loses only requests that were not yet answered, and ``--workers N`` processes see one
state: each write starts from the latest commit, and each request first loads what others committed.
``synchronous=FULL`` plus the fsync of each blob file also make acknowledged writes survive an OS crash
or power loss (not required for ``kill -9``, where the page cache survives; it costs a few ms per write).

Blob files are named ``<sha256 of key>-<random>``: written once, never rewritten, so a row always names
complete bytes; a replaced or deleted file is unlinked after the commit, and files that no row names
(a crash between writing and committing) are removed when a process opens the directory.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import sqlite3
import time
from pathlib import Path

from mockserver.state.blobs import Blob, FileBlobStore, StoredBlob
from mockserver.state.durable_schema import SCHEMA, migrate
from mockserver.state.fixtures import load_seed_data
from mockserver.state.persistence import load_snapshot, retire_snapshot, signing_key
from mockserver.state.rows import (
    all_rows,
    apply_changed,
    changed_rows,
    load_whole,
    purge_horizon,
    scalars_text,
    seq_of,
)
from mockserver.writes import apis_written_by

logger = logging.getLogger("mockserver")

DB_FILE = "state.sqlite3"
BLOB_DIR = "blobs"
RESERVE_FILE = "reserve"  # space kept back for the commit of a delete or a reset on a full disk
RESERVE_BYTES = 1024 * 1024
BUSY_TIMEOUT_SECONDS = 30  # a writer waits this long for another process's transaction

UPSERT_RECORD = (
    "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (api, container, key) DO UPDATE SET "
    "version = excluded.version, json = excluded.json, "
    "seq = CASE WHEN records.json IS NULL THEN excluded.seq ELSE records.seq END"
)


class DurableState:
    """One process's connection to ``<state-dir>/state.sqlite3``, and what of it this process has loaded."""

    def __init__(self, ctx, state_dir: Path):
        self.ctx = ctx
        self.dir = Path(state_dir)
        self.blob_dir = self.dir / BLOB_DIR
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(
            self.dir / DB_FILE, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_SECONDS
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        ctx.blobs = FileBlobStore(self.blob_dir, ctx.settings.max_store_bytes)
        if ctx.settings.signing_key is None:  # URLs signed before a restart stay valid after it
            ctx.signer.key = signing_key(self.dir)
        self.seen = -1  # every commit up to this version is loaded here (one writer: one sequence)
        self.scalars: dict[str, str] = {}  # api -> its scalars row as last loaded or written
        self.recording: dict[str, object] = {}  # api -> the undo log of the write under way
        self.data_version = -1
        self.keep_reserve()
        started = time.perf_counter()
        self.origin = self._open()  # "new", "seeded", "imported" (an old state.json) or "restored"
        self.open_seconds = time.perf_counter() - started

    def summary(self) -> str:
        what = {"new": "new state", "seeded": "new state with seed data", "imported": "state.json imported"}
        return (
            f"{what.get(self.origin, 'state restored')} in {self.dir} "
            f"({len(self.ctx.blobs)} files, opened in {self.open_seconds * 1000:.0f} ms)"
        )

    def close(self) -> None:
        self.db.close()

    # -- opening ---------------------------------------------------------------------------------------
    def _open(self) -> str:
        """Under the write lock: a store of the previous schema is migrated; the first process on an empty
        database fills it (from an old snapshot, else ``--seed-data``); every process then loads it and
        removes files that no row names."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            migrate(self.db, self.ctx, self._write_whole)
            origin = "restored"
            if not self._meta("initialised"):
                origin = self._first_fill()
                version = self._next_version()
                for name in self.ctx.apis:
                    self._write_whole(name, version)
                self._store_blobs(dict(self.ctx.blobs.pending), version, created=[])
                self._set_meta("version", version)
                self._set_meta("initialised", 1)
            self._load(force=True)
            self._collect_garbage()
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        if origin == "imported":
            retire_snapshot(self.dir)
        return origin

    def _first_fill(self) -> str:
        if load_snapshot(self.ctx, self.dir):
            return "imported"
        if self.ctx.settings.seed_data:
            load_seed_data(self.ctx, self.ctx.settings.seed_data)
            return "seeded"
        return "new"

    def _collect_garbage(self) -> None:
        named = {row[0] for row in self.db.execute("SELECT file FROM blobs")}
        for path in self.blob_dir.iterdir():
            if path.name not in named:
                path.unlink(missing_ok=True)

    def _meta(self, name: str) -> int | None:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, name: str, value: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    def _next_version(self) -> int:
        return (self._meta("version") or 0) + 1

    # -- loading what others committed -------------------------------------------------------------------
    def sync(self) -> None:
        """Reload what another connection committed since this one last looked (cheap when nothing did)."""
        data_version = self.db.execute("PRAGMA data_version").fetchone()[0]
        if data_version == self.data_version:
            return
        if self.db.in_transaction:
            self._load()
        else:
            self.db.execute("BEGIN")  # one snapshot for the records and the blob index
            try:
                self._load()
            finally:
                self.db.execute("COMMIT")
        self.data_version = data_version

    def _load(self, force: bool = False) -> None:
        """The rows above the version this process has seen: an API rewritten since then whole, any other
        by its changed rows; the blob index likewise."""
        version = self._meta("version") or 0
        if not force and version == self.seen:
            return
        if self.seen < (self._meta("purged_through") or 0):
            force = True  # tombstones this process has not seen are gone: every API is reloaded whole
        seen = -1 if force else self.seen
        moved = self.db.execute("SELECT api, rewritten, json FROM apis WHERE version > ?", (seen,)).fetchall()
        for name, rewritten, scalars in moved:
            api = self.ctx.apis.get(name)
            if api is None:
                continue
            if rewritten > seen:
                rows = self.db.execute(
                    "SELECT container, json FROM records WHERE api = ? AND json IS NOT NULL ORDER BY seq",
                    (name,),
                )
                load_whole(api, scalars, rows, f"{DB_FILE} ({name})")
            else:
                rows = self.db.execute(
                    "SELECT container, key, json FROM records WHERE api = ? AND version > ? ORDER BY seq",
                    (name, seen),
                ).fetchall()
                apply_changed(api, scalars, rows)
            self.scalars[name] = scalars
        if seen < 0:
            rows = self.db.execute("SELECT key, file, content_type, size FROM blobs")
            self.ctx.blobs.load_index({key: StoredBlob(f, ct, size) for key, f, ct, size in rows})
        else:
            rows = self.db.execute(
                "SELECT key, file, content_type, size FROM blobs WHERE version > ?", (seen,)
            ).fetchall()
            gone = self.db.execute("SELECT key FROM deleted_blobs WHERE version > ?", (seen,)).fetchall()
            gone = [key for (key,) in gone]
            self.ctx.blobs.apply({key: StoredBlob(f, ct, size) for key, f, ct, size in rows}, gone)
        self.seen = version

    # -- one write ---------------------------------------------------------------------------------------
    async def begin(self, apis: tuple[str, ...] = ()) -> None:
        """Take the cross-process write lock (waiting in a thread), start from the latest commit, then
        record what the write changes in each of its APIs (their undo logs: what the commit stores)."""
        await asyncio.to_thread(self.db.execute, "BEGIN IMMEDIATE")
        try:
            self.sync()
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.recording = {name: self.ctx.apis[name].snapshot() for name in apis if name in self.ctx.apis}

    async def commit(self, apis: tuple[str, ...]) -> None:
        """Store the records the write touched (on the loop: no handler runs meanwhile), its blobs, and
        commit (in a thread); then the write stands in memory too."""
        version = self._next_version()
        changed = {name: self._changed(name) for name in apis if name in self.recording}
        changes = dict(self.ctx.blobs.pending)
        stored = await asyncio.to_thread(self._store_and_commit, changed, changes, version)
        written, deleted, replaced = stored
        self.seen = version
        for name, (_, scalars) in changed.items():
            self.scalars[name] = scalars
        self.ctx.blobs.apply(written, deleted)
        for file in replaced:
            (self.blob_dir / file).unlink(missing_ok=True)
        self._settle()

    def _changed(self, name: str):
        api = self.ctx.apis[name]
        return changed_rows(api, self.recording[name]), scalars_text(api)

    def _store_and_commit(self, changed, changes, version: int):
        created: list[str] = []
        try:
            for name, (rows, scalars) in changed.items():
                if rows is None:
                    self._write_whole(name, version)
                elif rows or scalars != self.scalars.get(name):
                    self._write_rows(name, rows, scalars, version)
            result = self._store_blobs(changes, version, created)
            self._purge_tombstones(version)
            self._set_meta("version", version)
            self.db.execute("COMMIT")
        except BaseException:
            for name in created:  # no committed row names them
                (self.blob_dir / name).unlink(missing_ok=True)
            raise
        return result

    def _purge_tombstones(self, version: int) -> None:
        horizon = purge_horizon(version)
        if horizon is not None:
            self.db.execute("DELETE FROM records WHERE json IS NULL AND version <= ?", (horizon,))
            self.db.execute("DELETE FROM deleted_blobs WHERE version <= ?", (horizon,))
            self._set_meta("purged_through", horizon)

    def _write_rows(self, name: str, rows: list, scalars: str, version: int) -> None:
        self.db.executemany(
            UPSERT_RECORD,
            [(name, c, key, version, seq_of(version, i), text) for i, (c, key, text) in enumerate(rows)],
        )
        self.db.execute(
            "INSERT INTO apis VALUES (?, ?, 0, ?) ON CONFLICT (api) DO UPDATE SET "
            "version = excluded.version, json = excluded.json",
            (name, version, scalars),
        )

    def _write_whole(self, name: str, version: int, api=None) -> None:
        """Every row of the API anew (a reset, a restore, a fixture load, a migration): O(records)."""
        api = api or self.ctx.apis[name]
        scalars = scalars_text(api)
        self.db.execute("DELETE FROM records WHERE api = ?", (name,))
        self.db.executemany(
            "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)",
            [(name, c, key, version, seq_of(version, i), t) for i, (c, key, t) in enumerate(all_rows(api))],
        )
        self.db.execute("INSERT OR REPLACE INTO apis VALUES (?, ?, ?, ?)", (name, version, version, scalars))
        self.scalars[name] = scalars

    def _store_blobs(self, changes: dict[str, Blob | None], version: int, created: list[str]):
        """Inside the transaction: files first (fsynced), then the rows that name them; ``created`` lists
        the new files as they are made, for the caller to remove if the commit fails."""
        new = {key: blob for key, blob in changes.items() if blob is not None}
        written = {key: self._write_file(key, blob, created) for key, blob in new.items()}
        if written:
            fd = os.open(self.blob_dir, os.O_RDONLY)
            try:
                os.fsync(fd)  # the new names themselves survive an OS crash
            finally:
                os.close(fd)
        index = self.ctx.blobs.index
        replaced = [index[key].file for key in changes if key in index]
        deleted = [key for key, blob in changes.items() if blob is None]
        self.db.executemany("DELETE FROM blobs WHERE key = ?", [(key,) for key in deleted])
        self.db.executemany(
            "INSERT OR REPLACE INTO deleted_blobs VALUES (?, ?)", [(k, version) for k in deleted]
        )
        self.db.executemany("DELETE FROM deleted_blobs WHERE key = ?", [(key,) for key in written])
        self.db.executemany(
            "INSERT OR REPLACE INTO blobs VALUES (?, ?, ?, ?, ?)",
            [(key, s.file, s.content_type, s.size, version) for key, s in written.items()],
        )
        return written, deleted, replaced

    def _write_file(self, key: str, blob: Blob, created: list[str]) -> StoredBlob:
        name = f"{hashlib.sha256(key.encode()).hexdigest()}-{secrets.token_hex(8)}"
        created.append(name)
        with open(self.blob_dir / name, "xb") as f:
            f.write(blob.data)
            f.flush()
            os.fsync(f.fileno())
        return StoredBlob(name, blob.content_type, len(blob.data))

    def _settle(self) -> None:
        recording, self.recording = self.recording, {}
        for name, snapshot in recording.items():
            self.ctx.apis[name].settle(snapshot)

    # -- a full disk ---------------------------------------------------------------------------------
    def keep_reserve(self) -> None:
        """A file of ``RESERVE_BYTES`` kept in the state directory while there is room for it: on a full
        disk it is released so that a delete or a reset can commit (and so free space)."""
        path = self.dir / RESERVE_FILE
        try:
            if path.stat().st_size >= RESERVE_BYTES:
                return
        except FileNotFoundError:
            pass
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(fd, 0, RESERVE_BYTES)
            finally:
                os.close(fd)
        except OSError:
            path.unlink(missing_ok=True)  # no room yet: try again after the next write

    def release_reserve(self) -> bool:
        path = self.dir / RESERVE_FILE
        if not path.exists():
            return False
        path.unlink(missing_ok=True)
        logger.warning("mockserver: released the %d-byte reserve in %s for a delete", RESERVE_BYTES, self.dir)
        return True

    def rollback(self, apis: tuple[str, ...]) -> None:
        """Forget the request: the transaction, its pending bytes, and its APIs' in-memory changes (undone
        from their undo logs: what the write touched, not the whole store)."""
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")
        self.ctx.blobs.discard_pending()
        recording, self.recording = self.recording, {}
        for name, snapshot in recording.items():
            self.ctx.apis[name].rollback(snapshot)
        self.ctx.state_changed(*recording)

    # -- which requests write what ------------------------------------------------------------------------
    def apis_written_by(self, scope) -> tuple[str, ...]:
        """The APIs whose records a request may change (none for a read): mockserver.writes."""
        return apis_written_by(self.ctx, scope)
