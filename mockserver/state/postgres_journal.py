"""The request journal under ``--store postgresql://...``: one table every mock process appends to and reads.

``append`` is called as an answer goes out (``mockserver.layers.journal``); the entry is written by
``flush``, which the journal layer awaits before the answer's last bytes leave, so an entry is in the
database before the client can ask any replica for it. ``GET /__mock__/requests`` reads the last
``--journal-size`` entries once per request (``refresh``, awaited by the store's layer); a clear
(``DELETE /__mock__/requests``, a reset) is part of that request's transaction. Failures are logged and
never fail the request: the journal is a diagnostic.
"""

from __future__ import annotations

import logging

import orjson

from mockserver.state.rounds import SharedRounds

logger = logging.getLogger("mockserver")

TRIM_EVERY = 64  # entries between two deletions of the ones beyond the journal's size


class PostgresJournal:
    def __init__(self, size: int, state):
        self.size = size
        self.state = state
        self.outbox: list[bytes] = []
        self.loaded: list[dict] = []
        self.clear_requested = False
        self.inserts = SharedRounds(self._insert_outbox)

    def append(self, entry) -> None:
        self.outbox.append(orjson.dumps(entry.render()))

    async def flush(self) -> None:
        """Return once this process's entries appended so far are in the database (or failed to be)."""
        if self.outbox:
            await self.inserts.wait()

    async def _insert_outbox(self) -> None:
        """One insert for every entry waiting (a round of ``inserts``)."""
        rows, self.outbox = [raw.decode() for raw in self.outbox], []
        if not rows:
            return
        try:
            await self.state.guarded(lambda: self._insert(rows))
        except Exception as exc:
            logger.warning("mockserver: the request journal could not record %d entries: %s", len(rows), exc)

    async def _insert(self, rows) -> None:
        conn = await self.state.connection("journaler")
        cursor = await conn.execute(
            "WITH added AS (INSERT INTO journal (json) SELECT unnest(%s::text[]) RETURNING id) "
            "SELECT max(id) FROM added",
            (rows,),
        )
        (last,) = await cursor.fetchone()
        if last % TRIM_EVERY < len(rows) or last <= self.size:  # trim now and then
            await conn.execute("DELETE FROM journal WHERE id <= %s", (last - self.size,))

    async def refresh(self) -> None:
        """Read the last ``size`` entries, for this request's ``entries()``."""
        await self.flush()
        self.loaded = await self.state.guarded(self._select)

    async def _select(self) -> list[dict]:
        conn = await self.state.connection("journaler")
        cursor = await conn.execute("SELECT id, json FROM journal ORDER BY id DESC LIMIT %s", (self.size,))
        return [{**orjson.loads(raw), "id": row_id} for row_id, raw in reversed(await cursor.fetchall())]

    def entries(self) -> list[dict]:
        return self.loaded

    def clear(self) -> None:
        """Cleared by the commit of the request that asks (its transaction: ``PostgresState.commit``)."""
        self.outbox.clear()
        self.loaded = []
        self.clear_requested = True

    def cleared(self) -> None:
        self.clear_requested = False
