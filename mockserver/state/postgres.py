"""``--store postgresql://...``: one state in PostgreSQL for any number of mock processes, on any hosts.

As under ``--state-dir`` (``mockserver.state.durable``), the handlers keep their records in memory and
that memory is a cache of the database:

- every API has one row in ``api_state`` (its ``dump()`` and a version) and its uploaded bytes in
  ``blobs`` (``bytea``, each row stamped with the API version that wrote it); the server-wide forced
  behaviour is one more row (``BEHAVIOUR``), the request journal a table, the URL-signing key a ``meta``
  value, so replicas behind one proxy sign and verify the same URLs;
- before every request a process reads the versions (one short query) and reloads only the APIs whose
  version moved, and of their bytes only the rows newer than it holds: so a read on any process sees every
  write any process acknowledged before it, and the reply cache, keyed on the versions, never serves a
  reply from before it;
- a write takes, inside its transaction, PostgreSQL's advisory lock of each API it may change, always in
  one order (``pg_advisory_xact_lock``: released by the commit or rollback, or by the server when a
  process dies), reloads what others committed, runs with its answer held back, stores the new dumps and
  bytes, commits, and only then answers. A 5xx, an exception or a failed commit rolls back and marks those
  APIs stale, so the next request reloads them from what the database has.

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
from mockserver.state.rounds import SharedRounds
from mockserver.writes import UNSAFE_METHODS, apis_written_by

logger = logging.getLogger("mockserver")

SCHEMA_VERSION = 1
BEHAVIOUR = "__behaviour__"  # the api_state row of POST /__mock__/behaviour
JOURNAL = "__journal__"  # what DELETE /__mock__/requests writes (no row: the journal table)
CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_MS = 15_000  # a statement, or a wait for another process's lock, never lasts longer
NETWORK_GRACE_SECONDS = 5  # beyond the statement timeout: the server itself stopped answering
EXTRA_HINT = 'pip install "image-api-contracts[postgresql]"'

# Each entry migrates the schema from its index to the next version, in one transaction.
MIGRATIONS = (
    """
    CREATE TABLE api_state (api TEXT PRIMARY KEY, version BIGINT NOT NULL, json TEXT NOT NULL);
    CREATE TABLE blobs (
        key TEXT PRIMARY KEY, api TEXT NOT NULL, version BIGINT NOT NULL,
        content_type TEXT NOT NULL, size INTEGER NOT NULL, data BYTEA NOT NULL
    );
    CREATE INDEX blobs_api_version ON blobs (api, version);
    CREATE TABLE journal (id BIGSERIAL PRIMARY KEY, json TEXT NOT NULL);
    """,
)
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

    def replace_api(self, api: str, keys: set[str], rows) -> None:
        """The committed bytes of one API: ``keys`` all it has, ``rows`` those this process lacked."""
        prefix = f"{api}/"
        for key in [k for k in self.index if k.startswith(prefix) and k not in keys]:
            del self.index[key]
            self.cached.pop(key, None)
        for key, version, content_type, size, data in rows:
            self.index[key] = StoredBlob(str(version), content_type, size)
            self.cached[key] = Blob(bytes(data), content_type)
        self.pending = {}
        self.used_bytes = sum(s.size for s in self.index.values())

    def forget_api(self, api: str) -> None:
        prefix = f"{api}/"
        for key in [k for k in self.index if k.startswith(prefix)]:
            del self.index[key]
            self.cached.pop(key, None)
        self.discard_pending()


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
        self.stale: set[str] = set()
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
        for version in range(found, SCHEMA_VERSION):
            db.execute(MIGRATIONS[version])
            logger.info("mockserver: the store's schema migrated from version %d to %d", version, version + 1)
        db.execute(
            "INSERT INTO meta VALUES ('schema_version', %s) ON CONFLICT (name) DO UPDATE SET value = %s",
            (str(SCHEMA_VERSION), str(SCHEMA_VERSION)),
        )

    def _first_fill(self, db) -> str:
        origin = "new"
        if self.ctx.settings.seed_data:
            load_seed_data(self.ctx, self.ctx.settings.seed_data)
            origin = "seeded"
        for name in self.names:
            db.execute("INSERT INTO api_state VALUES (%s, 1, %s)", (name, self._dump(name)))
        for key, blob in self.ctx.blobs.pending.items():
            if blob is not None:
                db.execute(
                    "INSERT INTO blobs VALUES (%s, %s, 1, %s, %s, %s)",
                    (key, key.split("/", 1)[0], blob.content_type, len(blob.data), blob.data),
                )
        db.execute("INSERT INTO meta VALUES ('initialised', '1')")
        return origin

    @staticmethod
    def _meta(db, name: str) -> str | None:
        row = db.execute("SELECT value FROM meta WHERE name = %s", (name,)).fetchone()
        return row[0] if row else None

    def _load_all_blocking(self, db) -> None:
        for name, version, text in db.execute("SELECT api, version, json FROM api_state").fetchall():
            if name in self.names:
                self._restore(name, version, text)
                keys = {k for (k,) in db.execute("SELECT key FROM blobs WHERE api = %s", (name,))}
                rows = db.execute(
                    "SELECT key, version, content_type, size, data FROM blobs WHERE api = %s", (name,)
                ).fetchall()
                self._replace_blobs(name, keys, rows)

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
        moved = [
            name
            for name, version in versions
            if name in self.names and (self.versions.get(name) != version or name in self.stale)
        ]
        for name in moved:
            cursor = await conn.execute("SELECT version, json FROM api_state WHERE api = %s", (name,))
            version, text = await cursor.fetchone()
            if name == BEHAVIOUR:
                self._restore(name, version, text)
                continue
            had = -1 if name in self.stale else self.versions.get(name, -1)
            keys_cursor = await conn.execute("SELECT key FROM blobs WHERE api = %s", (name,))
            keys = {key for (key,) in await keys_cursor.fetchall()}
            rows_cursor = await conn.execute(
                "SELECT key, version, content_type, size, data FROM blobs WHERE api = %s AND version > %s",
                (name, had),
            )
            rows = await rows_cursor.fetchall()
            if had < 0:
                self.ctx.blobs.forget_api(name)
            self._restore(name, version, text)
            self._replace_blobs(name, keys, rows)
            self.ctx.state_changed(name)

    def _restore(self, name: str, version: int, text: str) -> None:
        from mockserver.state.persistence import restore_or_skip

        state = orjson.loads(text)
        if name == BEHAVIOUR:
            self.ctx.behaviour = Behaviour(**state) if state else None
        else:
            restore_or_skip(self.ctx.apis[name], state, f"the store ({name})")
        self.versions[name] = version
        self.stale.discard(name)

    def _replace_blobs(self, name: str, keys: set[str], rows) -> None:
        self.ctx.blobs.replace_api(name, keys, rows)

    # -- one write ---------------------------------------------------------------------------------------
    async def begin(self, apis: tuple[str, ...]) -> None:
        """Take each API's advisory lock (in one order: no two processes wait on each other), then start
        from the latest commit."""
        await self.guarded(lambda: self._begin(apis))

    async def _begin(self, apis: tuple[str, ...]) -> None:
        conn = await self.connection("writer")
        await conn.execute("BEGIN")
        for name in sorted(apis):
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (api_lock_key(name),))
        await self._load(conn)

    def _dump(self, name: str) -> str:
        if name == BEHAVIOUR:
            behaviour = self.ctx.behaviour
            return orjson.dumps(behaviour.as_json() if behaviour else None).decode()
        return orjson.dumps(self.ctx.apis[name].dump()).decode()

    async def commit(self, apis: tuple[str, ...]) -> None:
        rows = [(name, self._dump(name)) for name in apis if name in self.names]  # on the loop
        changes = dict(self.ctx.blobs.pending)
        clear_journal = getattr(self.ctx.journal, "clear_requested", False)
        versions = await self.guarded(lambda: self._store(rows, changes, clear_journal))
        written = {}
        for key, blob in changes.items():
            if blob is not None:
                api = _api_of(key)
                written[key] = StoredBlob(str(versions[api]), blob.content_type, len(blob.data))
                self.ctx.blobs.cached[key] = blob
        deleted = [key for key, blob in changes.items() if blob is None]
        for key in deleted:
            self.ctx.blobs.cached.pop(key, None)
        self.ctx.blobs.apply(written, deleted)
        self.versions.update(versions)
        if clear_journal:
            self.ctx.journal.cleared()

    async def _store(self, rows, changes, clear_journal: bool) -> dict[str, int]:
        conn = self.writer
        versions: dict[str, int] = {}
        for name, text in rows:
            cursor = await conn.execute(
                "UPDATE api_state SET version = version + 1, json = %s WHERE api = %s RETURNING version",
                (text, name),
            )
            row = await cursor.fetchone()
            if row is None:
                await conn.execute("INSERT INTO api_state VALUES (%s, 1, %s)", (name, text))
                row = (1,)
            versions[name] = row[0]
        async with conn.cursor() as cursor:
            deleted = [(key,) for key, blob in changes.items() if blob is None]
            if deleted:
                await cursor.executemany("DELETE FROM blobs WHERE key = %s", deleted)
            written = [
                (key, _api_of(key), versions[_api_of(key)], blob.content_type, len(blob.data), blob.data)
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
        await conn.execute("COMMIT")
        return versions

    async def rollback(self, apis: tuple[str, ...]) -> None:
        """Forget the request: its transaction, its pending bytes, and its APIs' in-memory changes (marked
        stale: the next request, under the same lock, reloads them from the database first)."""
        self.ctx.blobs.discard_pending()
        self.stale.update(name for name in apis if name in self.names)
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

