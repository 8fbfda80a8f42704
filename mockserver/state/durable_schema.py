"""The tables of ``<state-dir>/state.sqlite3`` (mockserver.state.durable), and the migration of a store that
an earlier version made.

Schema 1 kept each API as one ``api_state`` row holding its whole ``dump()``, so every write rewrote all
of its API's records. Schema 2 keeps one row per record (mockserver.state.rows): ``apis`` holds each
API's scalars and versions, ``records`` its records, ``blobs`` and ``deleted_blobs`` which bytes each
version wrote or deleted. A schema-1 store is converted when a process opens it, inside the transaction
that opens it: each old row is read (repaired where orjson refuses it), restored into a handler of its
API, written out as per-record rows, and the old table dropped; a store made by a newer version is refused.
"""

from __future__ import annotations

import json
import logging

import orjson

from mockserver.layers.gate import repaired
from mockserver.state.persistence import log_repairs, restore_or_skip

logger = logging.getLogger("mockserver")

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS apis (
    api TEXT PRIMARY KEY, version INTEGER NOT NULL, rewritten INTEGER NOT NULL, json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    api TEXT NOT NULL, container TEXT NOT NULL, key TEXT NOT NULL,
    version INTEGER NOT NULL, seq INTEGER NOT NULL, json TEXT,
    PRIMARY KEY (api, container, key)
);
CREATE INDEX IF NOT EXISTS records_version ON records (api, version);
CREATE INDEX IF NOT EXISTS records_seq ON records (api, seq);
CREATE INDEX IF NOT EXISTS records_tombstones ON records (version) WHERE json IS NULL;
CREATE TABLE IF NOT EXISTS blobs (
    key TEXT PRIMARY KEY, file TEXT NOT NULL, content_type TEXT NOT NULL, size INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS deleted_blobs (key TEXT PRIMARY KEY, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
DB_NAME = "state.sqlite3"


def migrate(db, ctx, write_whole) -> None:
    """Inside the opening transaction: bring the tables to :data:`SCHEMA_VERSION`.
    ``write_whole(name, version, api)`` stores one API's rows."""
    row = db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    found = row[0] if row else 0
    if found > SCHEMA_VERSION:
        raise SystemExit(
            f"mockserver: {DB_NAME} has schema version {found}, made by a newer mockserver; this one knows "
            f"versions up to {SCHEMA_VERSION}: upgrade it (pip install -U image-api-contracts), or use "
            "another --state-dir"
        )
    columns = {column[1] for column in db.execute("PRAGMA table_info(blobs)")}
    if "version" not in columns:
        db.execute("ALTER TABLE blobs ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
    db.execute("CREATE INDEX IF NOT EXISTS blobs_version ON blobs (version)")
    db.execute("CREATE INDEX IF NOT EXISTS deleted_blobs_version ON deleted_blobs (version)")
    old = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'api_state'").fetchone()
    if old is not None:
        _from_whole_dumps(db, ctx, write_whole)
    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))


def _from_whole_dumps(db, ctx, write_whole) -> None:
    """Schema 1 -> 2: each API's ``api_state`` row becomes its per-record rows, at one new version."""
    row = db.execute("SELECT value FROM meta WHERE name = 'version'").fetchone()
    version = (row[0] if row else 0) + 1
    for name, text in db.execute("SELECT api, json FROM api_state").fetchall():
        try:
            api = ctx.apis.get(name) or ctx.make_handler(name)
        except KeyError:
            logger.warning("mockserver: %s holds records of an unknown API %r, dropped", DB_NAME, name)
            continue
        restore_or_skip(api, stored_state(text, name), f"{DB_NAME} ({name})")
        write_whole(name, version, api)
    db.execute("DROP TABLE api_state")
    db.execute("DELETE FROM meta WHERE name = 'blobs_version'")
    db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (version,))
    logger.info("mockserver: %s migrated to per-record rows (schema %d)", DB_NAME, SCHEMA_VERSION)


def stored_state(text: str, name: str):
    """A stored dump as JSON; rows older versions wrote may hold what orjson refuses (a ``\\ud800``
    escape, an integer beyond int64): read with ``json`` and repaired then."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        state, changes = repaired(json.loads(text))
    except ValueError as exc:
        logger.warning("mockserver: the %s row of %s is not JSON (%s); it starts empty", name, DB_NAME, exc)
        return {}
    log_repairs(f"{DB_NAME} ({name})", changes)
    return state
