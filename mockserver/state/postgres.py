"""``--store postgresql://...``: one state in PostgreSQL for any number of mock processes, on any hosts.

As under ``--state-dir`` (``mockserver.state.durable``), the handlers keep their records in memory and
that memory is a cache of the database:

- every API has one row in ``api_state`` (its scalars and the version of its last write), one row per
  record in ``records`` and its uploaded bytes in ``blobs`` (``bytea``), every row stamped with the
  version that wrote it (one sequence, ``versions``; a deletion leaves a tombstone:
  mockserver.state.postgres_schema, mockserver.state.rows); the server-wide forced behaviour is one more
  ``api_state`` row (``BEHAVIOUR``), the request journal a table, the URL-signing key a ``meta`` value, so
  replicas behind one proxy sign and verify the same URLs;
- before every request a process reads the versions (one short query) and, of the APIs whose version
  moved, loads only the record and blob rows above the version it holds: so a read on any process sees
  every write any process acknowledged before it, and the reply cache, keyed on the versions, never serves
  a reply from before it;
- a write takes, inside its transaction, PostgreSQL's advisory lock of each API it may change, always in
  one order (``pg_advisory_xact_lock``: released by the commit or rollback, or by the server when a
  process dies), reloads what others committed, records what it changes in its APIs' undo logs, runs with
  its answer held back, stores the rows of the records it touched and its bytes, commits, and only then
  answers. A 5xx, an exception or a failed commit rolls back and undoes the write in memory from its undo
  log (the behaviour, which keeps none, is marked stale and reloaded).

The database down or hung: connect and statement timeouts bound every wait, the request gets a 503 in
the API's own error format, the connections are dropped, and the next request connects again.
``psycopg`` (the ``postgresql`` extra) is imported only here, only for ``--store``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
import zlib

import orjson

from mockserver.exceptions import MockError
from mockserver.layers.prefer import Behaviour
from mockserver.state.blobs import Blob, FileBlobStore, StoredBlob
from mockserver.state.fixtures import load_seed_data
from mockserver.state.postgres_schema import (
    API_ROW,
    BEHAVIOUR,
    BLOBS_SINCE,
    LIVE_BLOBS,
    LIVE_RECORDS,
    PURGED_THROUGH,
    RECORDS_SINCE,
    SCHEMA_VERSION,
    UPSERT_API,
    migrate_from,
    next_version,
    purge_tombstones,
    write_rows,
    write_whole,
    write_whole_blocking,
)
from mockserver.state.rounds import SharedRounds
from mockserver.state.rows import apply_changed, changed_rows, load_whole, scalars_text
from mockserver.writes import UNSAFE_METHODS, apis_written_by

logger = logging.getLogger("mockserver")

JOURNAL = "__journal__"  # what DELETE /__mock__/requests writes (no row: the journal table)
CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_MS = 15_000  # a statement, or a wait for another process's lock, never lasts longer
NETWORK_GRACE_SECONDS = 5  # beyond the statement timeout: the server itself stopped answering
EXTRA_HINT = 'pip install "image-api-contracts[postgresql]"'

JOURNAL_TRIM_EVERY = 64  # entries between two deletions of those beyond --journal-size
# A round (mockserver.state.rounds): the journal entries waiting, inserted, and the versions, read.
ROUND_SQL = (
    "WITH added AS (INSERT INTO journal (json) SELECT unnest(%s::text[]) RETURNING id) "
    "SELECT api, version, (SELECT max(id) FROM added) FROM api_state"
)
MIGRATION_LOCK = 0x6D6F636B  # the advisory lock under which one process creates or migrates the schema


class StoreUnavailable(MockError):
    """The database cannot be reached, or did not answer in time: the request gets a 503."""


class NewerSchema(MockError):
    """The database was made by a newer mockserver: this one refuses it rather than misread it."""


def redacted(url: str) -> str:
    """The URL as logs and start-up lines show it: any password replaced by ``***``."""
    url = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
    return re.sub(r"(password=)[^&\s]*", r"\1***", url)


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise SystemExit(
            f"mockserver: --store postgresql://... needs the psycopg driver: {EXTRA_HINT}"
        ) from None
    return psycopg


def api_lock_key(name: str) -> int:
    """A stable 32-bit advisory-lock key per API (every process computes the same one)."""
    return zlib.crc32(f"mockserver:{name}".encode())


def _connect_options() -> dict:
    return {
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={STATEMENT_TIMEOUT_MS}"
        f" -c idle_in_transaction_session_timeout={STATEMENT_TIMEOUT_MS * 4}",
        "application_name": f"mockserver-{os.getpid()}",
    }


class DatabaseBlobStore(FileBlobStore):
    """Committed bytes come from the ``blobs`` table and are held in this process's memory (loaded as they
    change); a request's puts and deletes wait in ``pending`` until its transaction commits."""

    def __init__(self, max_bytes: int | None = None):
        super().__init__(directory=None, max_bytes=max_bytes)
        self.cached: dict[str, Blob] = {}

    def get(self, key: str) -> Blob | None:
        if key in self.pending:
            return self.pending[key]
        return self.cached.get(key)

    def load_rows(self, api: str, rows, whole: bool) -> None:
        """Committed bytes of one API: ``rows`` (key, version, content type, size, data or None when
        deleted) are all it has when ``whole``, else the rows that moved since this process last loaded."""
        if whole:
            self.forget_api(api)
        written, deleted = {}, []
        for key, version, content_type, size, data in rows:
            if data is None:
                deleted.append(key)
                self.cached.pop(key, None)
            else:
                written[key] = StoredBlob(str(version), content_type, size)
                self.cached[key] = Blob(bytes(data), content_type)
        self.apply(written, deleted)

    def forget_api(self, api: str) -> None:
        prefix = f"{api}/"
        gone = [k for k in self.index if k.startswith(prefix)]
        for key in gone:
            self.cached.pop(key, None)
        self.apply({}, gone)


class PostgresState:
    """One process's view of the database, and what of it this process has loaded."""

    def __init__(self, ctx, url: str):
        self.ctx = ctx
        self.url = url
        self.where = redacted(url)
        self.psycopg = _psycopg()
        ctx.blobs = DatabaseBlobStore(ctx.settings.max_store_bytes)
        self.versions: dict[str, int] = {}  # api (or BEHAVIOUR) -> the version this process has loaded
        self.reader = None  # autocommit: the rounds (journal inserts, version checks) and the reloads
        self.writer = None  # one write transaction at a time
        self.journal_reader = None  # GET /__mock__/requests (mockserver.state.postgres_journal)
        self.stale: set[str] = set()  # names whose memory may not be what the database has: reloaded whole
        self.scalars: dict[str, str] = {}  # api -> its scalars row as last written here
        self.recording: dict[str, object] = {}  # api -> the undo log of the write under way
        self.lock: asyncio.Lock | None = None
        self.rounds = SharedRounds(self._round)
        self.journal_outbox: list[str] = []  # entries for the next round (mockserver.state.postgres_journal)
        self.journal_size = ctx.settings.journal_size
        started = time.perf_counter()
        self.origin = self._open()
        self.open_seconds = time.perf_counter() - started

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.ctx.apis, BEHAVIOUR)

    def summary(self) -> str:
        what = {"new": "new state", "seeded": "new state with seed data"}
        return (
            f"{what.get(self.origin, 'state restored')} in {self.where} "
            f"({len(self.ctx.blobs)} files, opened in {self.open_seconds * 1000:.0f} ms)"
        )

    # -- opening (blocking: before the server serves) -----------------------------------------------------
    def _open(self) -> str:
        psycopg = self.psycopg
        try:
            db = psycopg.connect(self.url, autocommit=True, **_connect_options())
        except psycopg.Error as exc:
            raise SystemExit(f"mockserver: cannot reach the store {self.where}: {_reason(exc)}") from None
        try:
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                self._migrate(db)
                origin = "restored"
                if self._meta(db, "initialised") is None:
                    origin = self._first_fill(db)
                key = self._meta(db, "signing_key")
                if key is None:
                    key = self.ctx.signer.key.hex() if self.ctx.settings.signing_key else os.urandom(32).hex()
                    db.execute("INSERT INTO meta VALUES ('signing_key', %s)", (key,))
                self.ctx.signer.key = bytes.fromhex(key)  # every replica signs and verifies alike
            self._load_all_blocking(db)
        except NewerSchema as exc:
            raise SystemExit(str(exc)) from None
        except psycopg.Error as exc:
            raise SystemExit(f"mockserver: cannot open the store {self.where}: {_reason(exc)}") from None
        finally:
            db.close()
        return origin

    def _migrate(self, db) -> None:
        db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        found = int(self._meta(db, "schema_version") or 0)
        if found > SCHEMA_VERSION:
            raise NewerSchema(
                f"mockserver: the store {self.where} has schema version {found}, made by a newer mockserver; "
                f"this one knows versions up to {SCHEMA_VERSION}: upgrade it (pip install -U "
                "image-api-contracts), or point --store at another database"
            )
        migrate_from(db, found, self.ctx)
        db.execute(
            "INSERT INTO meta VALUES ('schema_version', %s) ON CONFLICT (name) DO UPDATE SET value = %s",
            (str(SCHEMA_VERSION), str(SCHEMA_VERSION)),
        )

    def _first_fill(self, db) -> str:
        origin = "new"
        if self.ctx.settings.seed_data:
            load_seed_data(self.ctx, self.ctx.settings.seed_data)
            origin = "seeded"
        version = next_version(db)
        for name, api in self.ctx.apis.items():
            write_whole_blocking(db, name, api, version)
        db.execute(
            "INSERT INTO api_state (api, version, json, rewritten) VALUES (%s, %s, %s, %s)",
            (BEHAVIOUR, version, self._behaviour_text(), version),
        )
        for key, blob in self.ctx.blobs.pending.items():
            if blob is not None:
                db.execute(
                    "INSERT INTO blobs VALUES (%s, %s, %s, %s, %s, %s)",
                    (key, key.split("/", 1)[0], version, blob.content_type, len(blob.data), blob.data),
                )
        db.execute("INSERT INTO meta VALUES ('initialised', '1')")
        return origin

    @staticmethod
    def _meta(db, name: str) -> str | None:
        row = db.execute("SELECT value FROM meta WHERE name = %s", (name,)).fetchone()
        return row[0] if row else None

    def _load_all_blocking(self, db) -> None:
        rows = db.execute("SELECT api, version, rewritten, json FROM api_state").fetchall()
        for name, version, _, text in rows:
            if name not in self.names:
                continue
            if name == BEHAVIOUR:
                self._restore_behaviour(version, text)
                continue
            records = db.execute(LIVE_RECORDS, (name,)).fetchall()
            blobs = db.execute(LIVE_BLOBS, (name,)).fetchall()
            self._load_whole(name, version, text, records, blobs)

    # -- connections ------------------------------------------------------------------------------------
    async def connection(self, which: str):
        conn = getattr(self, which)
        if conn is None or conn.closed or conn.broken:
            try:
                conn = await self.psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, **_connect_options()
                )
            except (self.psycopg.Error, OSError) as exc:
                raise StoreUnavailable(_reason(exc)) from None
            setattr(self, which, conn)
        return conn

    async def drop_connections(self) -> None:
        """After a failure: the next request connects again (and reloads what it may have missed)."""
        for which in ("reader", "writer", "journal_reader"):
            conn = getattr(self, which)
            setattr(self, which, None)
            if conn is not None:
                with contextlib.suppress(Exception):  # a dead connection may fail to close: dropped anyway
                    await asyncio.wait_for(conn.close(), NETWORK_GRACE_SECONDS)

    async def guarded(self, operation):
        """``await operation()`` bounded in time, any database failure raised as ``StoreUnavailable``."""
        try:
            return await asyncio.wait_for(operation(), STATEMENT_TIMEOUT_MS / 1000 + NETWORK_GRACE_SECONDS)
        except StoreUnavailable:
            await self.drop_connections()
            raise
        except (self.psycopg.Error, OSError, TimeoutError) as exc:
            await self.drop_connections()
            raise StoreUnavailable(_reason(exc)) from None

    async def close(self) -> None:
        await self.drop_connections()

    # -- loading what others committed -------------------------------------------------------------------
    def write_lock(self) -> asyncio.Lock:
        """Orders this process's database work: one write at a time, and no reload while one runs."""
        if self.lock is None:
            self.lock = asyncio.Lock()  # made on the serving loop
        return self.lock

    async def fresh(self) -> None:
        """Return once a round that started after this call has stored the journal entries waiting and
        reloaded what any process committed (``SharedRounds``: one round serves every caller waiting)."""
        await self.rounds.wait()

    async def _round(self) -> None:
        async with self.write_lock():
            await self.guarded(self._journal_and_versions)

    async def _journal_and_versions(self) -> None:
        """One statement: the journal entries waiting are inserted, and the versions read."""
        entries, self.journal_outbox = self.journal_outbox, []
        conn = await self.connection("reader")
        try:
            cursor = await conn.execute(ROUND_SQL, (entries,))
            rows = await cursor.fetchall()
        except BaseException:
            if entries:
                logger.warning("mockserver: %d request journal entries were not recorded", len(entries))
            raise
        last = rows[0][2] if rows else None
        trim = last is not None and (last % JOURNAL_TRIM_EVERY < len(entries) or last <= self.journal_size)
        if entries and trim:  # now and then, the entries beyond --journal-size go
            await conn.execute("DELETE FROM journal WHERE id <= %s", (last - self.journal_size,))
        await self._reload_moved(conn, [(name, version) for name, version, _ in rows])

    async def _load(self, conn) -> None:
        cursor = await conn.execute("SELECT api, version FROM api_state")
        await self._reload_moved(conn, await cursor.fetchall())

    async def _reload_moved(self, conn, versions) -> None:
        """Each API whose version moved: whole when this process has not loaded it, or it was replaced
        whole since (a reset), else the rows (records and blobs) above the version this process holds."""
        moved = [
            name
            for name, version in versions
            if name in self.names and (self.versions.get(name) != version or name in self.stale)
        ]
        purged = 0
        if moved:
            row = await (await conn.execute(PURGED_THROUGH)).fetchone()
            purged = int(row[0]) if row else 0
        for name in moved:
            version, rewritten, text = await (await conn.execute(API_ROW, (name,))).fetchone()
            if name == BEHAVIOUR:
                self._restore_behaviour(version, text)
                continue
            had = -1 if name in self.stale else self.versions.get(name, -1)
            if had < 0 or rewritten > had or had < purged:  # the tombstones it missed may be gone
                records = await (await conn.execute(LIVE_RECORDS, (name,))).fetchall()
                blobs = await (await conn.execute(LIVE_BLOBS, (name,))).fetchall()
                self._load_whole(name, version, text, records, blobs)
                continue
            records = await (await conn.execute(RECORDS_SINCE, (name, had))).fetchall()
            blobs = await (await conn.execute(BLOBS_SINCE, (name, had))).fetchall()
            apply_changed(self.ctx.apis[name], text, records)
            self.ctx.blobs.load_rows(name, blobs, whole=False)
            self.versions[name] = version

    def _load_whole(self, name: str, version: int, scalars: str, records, blobs) -> None:
        load_whole(self.ctx.apis[name], scalars, records, f"the store ({name})")
        self.ctx.blobs.load_rows(name, blobs, whole=True)
        self.versions[name] = version
        self.stale.discard(name)

    def _restore_behaviour(self, version: int, text: str) -> None:
        state = orjson.loads(text)
        self.ctx.behaviour = Behaviour(**state) if state else None
        self.versions[BEHAVIOUR] = version
        self.stale.discard(BEHAVIOUR)

    # -- one write ---------------------------------------------------------------------------------------
    async def begin(self, apis: tuple[str, ...]) -> None:
        """Take each API's advisory lock (in one order: no two processes wait on each other), start from
        the latest commit, then record what the write changes in each of its APIs (their undo logs)."""
        await self.guarded(lambda: self._begin(apis))
        self.recording = {name: self.ctx.apis[name].snapshot() for name in apis if name in self.ctx.apis}

    async def _begin(self, apis: tuple[str, ...]) -> None:
        conn = await self.connection("writer")
        await conn.execute("BEGIN")
        for name in sorted(apis):
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (api_lock_key(name),))
        await self._load(conn)

    def _behaviour_text(self) -> str:
        behaviour = self.ctx.behaviour
        return orjson.dumps(behaviour.as_json() if behaviour else None).decode()

    async def commit(self, apis: tuple[str, ...]) -> None:
        """Store the records the write touched (worked out on the loop: no handler runs meanwhile), its
        bytes, and commit; then the write stands in memory too."""
        changes = dict(self.ctx.blobs.pending)
        with_bytes = {_api_of(key) for key in changes}
        changed = {}
        for name, snapshot in self.recording.items():
            rows, scalars = changed_rows(self.ctx.apis[name], snapshot), scalars_text(self.ctx.apis[name])
            if rows is None or rows or name in with_bytes or scalars != self.scalars.get(name):
                changed[name] = (rows, scalars)
        behaviour = self._behaviour_text() if BEHAVIOUR in apis else None
        clear_journal = getattr(self.ctx.journal, "clear_requested", False)
        version = await self.guarded(lambda: self._store(changed, behaviour, changes, clear_journal))
        written = {}
        for key, blob in changes.items():
            if blob is not None:
                written[key] = StoredBlob(str(version), blob.content_type, len(blob.data))
                self.ctx.blobs.cached[key] = blob
        deleted = [key for key, blob in changes.items() if blob is None]
        for key in deleted:
            self.ctx.blobs.cached.pop(key, None)
        self.ctx.blobs.apply(written, deleted)
        for name, (_, scalars) in changed.items():
            self.versions[name] = version
            self.scalars[name] = scalars
        if behaviour is not None:
            self.versions[BEHAVIOUR] = version
        if clear_journal:
            self.ctx.journal.cleared()
        self._settle()

    async def _store(self, changed, behaviour, changes, clear_journal: bool) -> int:
        conn = self.writer
        cursor = await conn.execute("SELECT nextval('versions')")
        version = (await cursor.fetchone())[0]
        async with conn.cursor() as cursor:
            deleted = [(version, key) for key, blob in changes.items() if blob is None]
            if deleted:  # a tombstone: other processes learn that the bytes went
                await cursor.executemany(
                    "UPDATE blobs SET version = %s, size = 0, data = NULL WHERE key = %s", deleted
                )
            written = [
                (key, _api_of(key), version, blob.content_type, len(blob.data), blob.data)
                for key, blob in changes.items()
                if blob is not None
            ]
            if written:
                await cursor.executemany(
                    "INSERT INTO blobs VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET "
                    "api = EXCLUDED.api, version = EXCLUDED.version, content_type = EXCLUDED.content_type, "
                    "size = EXCLUDED.size, data = EXCLUDED.data",
                    written,
                )
            if clear_journal:
                await cursor.execute("DELETE FROM journal")
        # after the bytes: a reset's rewrite then also drops the tombstones its deletions just left
        for name, (rows, scalars) in changed.items():
            if rows is None:
                await write_whole(conn, name, self.ctx.apis[name], version)
            else:
                await write_rows(conn, name, rows, scalars, version)
        if behaviour is not None:
            await conn.execute(UPSERT_API, (BEHAVIOUR, version, behaviour, version))
        await purge_tombstones(conn, version)
        await conn.execute("COMMIT")
        return version

    def _settle(self) -> None:
        recording, self.recording = self.recording, {}
        for name, snapshot in recording.items():
            self.ctx.apis[name].settle(snapshot)

    async def rollback(self, apis: tuple[str, ...]) -> None:
        """Forget the request: its transaction, its pending bytes, and its APIs' in-memory changes (undone
        from their undo logs; the behaviour, which keeps none, is marked stale: the next request, under the
        same lock, reloads it from the database first)."""
        self.ctx.blobs.discard_pending()
        recording, self.recording = self.recording, {}
        for name, snapshot in recording.items():
            self.ctx.apis[name].rollback(snapshot)
        if BEHAVIOUR in apis:
            self.stale.add(BEHAVIOUR)
        self.ctx.state_changed(*(name for name in apis if name in self.ctx.apis))
        if getattr(self.ctx.journal, "clear_requested", False):
            self.ctx.journal.clear_requested = False
        conn = self.writer
        if conn is not None and not conn.closed:
            try:
                await asyncio.wait_for(conn.execute("ROLLBACK"), NETWORK_GRACE_SECONDS)
            except Exception:
                await self.drop_connections()

    # -- which requests write what ------------------------------------------------------------------------
    def apis_written_by(self, scope) -> tuple[str, ...]:
        """The rows a request may change (none for a read): its APIs' (mockserver.writes), and the
        behaviour's and the journal's rows for the controls that change those."""
        if scope["method"] in UNSAFE_METHODS:
            path = scope["path"]
            if path == "/__mock__/reset":
                return (*self.ctx.apis, BEHAVIOUR, JOURNAL)
            if path == "/__mock__/behaviour":
                return (BEHAVIOUR,)
            if path == "/__mock__/requests":
                return (JOURNAL,)
        return apis_written_by(self.ctx, scope)


def _api_of(key: str) -> str:
    """Blob keys start with their API's name (``evotor/...``): its version stamps them."""
    return key.split("/", 1)[0]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "the database did not answer in time"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text
