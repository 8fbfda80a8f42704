"""The tables of ``--store postgresql://...`` (mockserver.state.postgres), its numbered migrations, and the
statements that write one API's rows (mockserver.state.rows).

Schema 1 kept each API as one ``api_state`` row holding its whole ``dump()``, so every write rewrote all of
its API's records. Schema 2 keeps ``api_state`` for each API's scalars and versions (``rewritten``: the
version that last replaced it whole) and one ``records`` row per record; a deleted record or blob leaves a
tombstone (``json`` / ``data`` NULL) stamped with the deleting version; one sequence, ``versions``, numbers
every commit. Migrating 1 -> 2 converts each API's old row into its records, through a handler of that API.
"""

from __future__ import annotations

import logging

import orjson

from mockserver.state.persistence import restore_or_skip
from mockserver.state.rows import all_rows, purge_horizon, scalars_text, seq_of

logger = logging.getLogger("mockserver")

SCHEMA_VERSION = 2
BEHAVIOUR = "__behaviour__"  # the api_state row of POST /__mock__/behaviour

SCHEMA_1 = """
    CREATE TABLE api_state (api TEXT PRIMARY KEY, version BIGINT NOT NULL, json TEXT NOT NULL);
    CREATE TABLE blobs (
        key TEXT PRIMARY KEY, api TEXT NOT NULL, version BIGINT NOT NULL,
        content_type TEXT NOT NULL, size INTEGER NOT NULL, data BYTEA NOT NULL
    );
    CREATE INDEX blobs_api_version ON blobs (api, version);
    CREATE TABLE journal (id BIGSERIAL PRIMARY KEY, json TEXT NOT NULL);
"""
SCHEMA_2 = """
    ALTER TABLE api_state ADD COLUMN rewritten BIGINT NOT NULL DEFAULT 0;
    CREATE TABLE records (
        api TEXT NOT NULL, container TEXT NOT NULL, key TEXT NOT NULL,
        version BIGINT NOT NULL, seq BIGINT NOT NULL, json TEXT,
        PRIMARY KEY (api, container, key)
    );
    CREATE INDEX records_api_version ON records (api, version);
    CREATE INDEX records_api_seq ON records (api, seq);
    CREATE INDEX records_tombstones ON records (version) WHERE json IS NULL;
    CREATE INDEX blobs_tombstones ON blobs (version) WHERE data IS NULL;
    ALTER TABLE blobs ALTER COLUMN data DROP NOT NULL;
    CREATE SEQUENCE versions;
"""
UPSERT_RECORD = (
    "INSERT INTO records VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (api, container, key) DO UPDATE SET "
    "version = EXCLUDED.version, json = EXCLUDED.json, "
    "seq = CASE WHEN records.json IS NULL THEN EXCLUDED.seq ELSE records.seq END"
)
UPSERT_API = (
    "INSERT INTO api_state (api, version, json, rewritten) VALUES (%s, %s, %s, %s) ON CONFLICT (api) DO "
    "UPDATE SET version = EXCLUDED.version, json = EXCLUDED.json, "
    "rewritten = GREATEST(api_state.rewritten, EXCLUDED.rewritten)"
)
LIVE_RECORDS = "SELECT container, json FROM records WHERE api = %s AND json IS NOT NULL ORDER BY seq"
LIVE_BLOBS = "SELECT key, version, content_type, size, data FROM blobs WHERE api = %s AND data IS NOT NULL"
RECORDS_SINCE = "SELECT container, key, json FROM records WHERE api = %s AND version > %s ORDER BY seq"
BLOBS_SINCE = "SELECT key, version, content_type, size, data FROM blobs WHERE api = %s AND version > %s"
PURGED_THROUGH = "SELECT value FROM meta WHERE name = 'purged_through'"
API_ROW = "SELECT version, rewritten, json FROM api_state WHERE api = %s"
COPY_RECORDS = "COPY records (api, container, key, version, seq, json) FROM STDIN"


def migrate_from(db, found: int, ctx) -> None:
    """Every step from schema ``found`` to :data:`SCHEMA_VERSION`, on a blocking connection inside the
    opening transaction."""
    if found < 1:
        db.execute(SCHEMA_1)
        _migrated(1)
    if found < 2:
        db.execute(SCHEMA_2)
        _whole_dumps_to_records(db, ctx)
        _migrated(2)


def _migrated(version: int) -> None:
    logger.info("mockserver: the store's schema migrated from version %d to %d", version - 1, version)


def _whole_dumps_to_records(db, ctx) -> None:
    """Schema 1 -> 2: each API's dump becomes its records' rows and its scalars, at a new version; the
    sequence starts above every version schema 1 handed out (its blob rows keep theirs)."""
    db.execute(
        "SELECT setval('versions', GREATEST(1, (SELECT max(version) FROM api_state), "
        "(SELECT max(version) FROM blobs)))"
    )
    for name, text in db.execute("SELECT api, json FROM api_state WHERE api <> %s", (BEHAVIOUR,)).fetchall():
        try:
            api = ctx.apis.get(name) or ctx.make_handler(name)
        except KeyError:
            logger.warning("mockserver: the store holds records of an unknown API %r, left as they are", name)
            continue
        restore_or_skip(api, orjson.loads(text), f"the store ({name})")
        write_whole_blocking(db, name, api, next_version(db))


def next_version(db) -> int:
    return db.execute("SELECT nextval('versions')").fetchone()[0]


def write_whole_blocking(db, name: str, api, version: int) -> None:
    """Every row of the API anew (a first fill, a migration), on a blocking connection."""
    db.execute("DELETE FROM records WHERE api = %s", (name,))
    with db.cursor().copy(COPY_RECORDS) as copy:
        for i, (container, key, text) in enumerate(all_rows(api)):
            copy.write_row((name, container, key, version, seq_of(version, i), text))
    db.execute(UPSERT_API, (name, version, scalars_text(api), version))


async def write_whole(conn, name: str, api, version: int) -> None:
    """Every row of the API anew (a reset, a restore, a fixture load): O(records), through COPY. The
    tombstones of its records and blobs go: whoever has not loaded this version reloads the API whole."""
    await conn.execute("DELETE FROM records WHERE api = %s", (name,))
    await conn.execute("DELETE FROM blobs WHERE api = %s AND data IS NULL", (name,))
    async with conn.cursor() as cursor, cursor.copy(COPY_RECORDS) as copy:
        for i, (container, key, text) in enumerate(all_rows(api)):
            await copy.write_row((name, container, key, version, seq_of(version, i), text))
    await conn.execute(UPSERT_API, (name, version, scalars_text(api), version))


async def purge_tombstones(conn, version: int) -> None:
    """Now and then, tombstones older than the horizon go (mockserver.state.rows)."""
    horizon = purge_horizon(version)
    if horizon is not None:
        await conn.execute("DELETE FROM records WHERE json IS NULL AND version <= %s", (horizon,))
        await conn.execute("DELETE FROM blobs WHERE data IS NULL AND version <= %s", (horizon,))
        await conn.execute(
            "INSERT INTO meta VALUES ('purged_through', %s) ON CONFLICT (name) DO UPDATE SET value = "
            "GREATEST(meta.value::bigint, EXCLUDED.value::bigint)::text",
            (str(horizon),),
        )


async def write_rows(conn, name: str, rows, scalars: str, version: int) -> None:
    """The rows one write touched (a tombstone for each record it deleted) and the API's own row."""
    if rows:
        async with conn.cursor() as cursor:
            await cursor.executemany(
                UPSERT_RECORD,
                [(name, c, key, version, seq_of(version, i), text) for i, (c, key, text) in enumerate(rows)],
            )
    await conn.execute(UPSERT_API, (name, version, scalars, 0))
