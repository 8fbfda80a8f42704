"""The request journal under ``--store postgresql://...``: one table every mock process appends to and reads.

``append`` is called as an answer goes out (``mockserver.layers.journal``); the entry waits in the store's
outbox for the next round (``PostgresState.fresh``: one statement inserts every entry waiting and reads
the state versions), which the journal layer awaits before the answer's last bytes leave, so an entry is
in the database before the client can ask any replica for it. ``GET /__mock__/requests`` reads the last
``--journal-size`` entries once per request (``refresh``, awaited by the store's layer); a clear
(``DELETE /__mock__/requests``, a reset) is part of that request's transaction. Failures are logged and
never fail the request: the journal is a diagnostic.
"""

from __future__ import annotations

import logging

import orjson

logger = logging.getLogger("mockserver")


class PostgresJournal:
    def __init__(self, size: int, state):
        self.size = size
        self.state = state
        self.loaded: list[dict] = []
        self.clear_requested = False
        self.watchers: list = []  # called after this process's appends (the dashboard's feed)

    def append(self, entry) -> None:
        self.state.journal_outbox.append(orjson.dumps(entry.render()).decode())
        for watch in self.watchers:
            watch()

    async def flush(self) -> None:
        """Return once this process's entries appended so far are in the database (or failed to be)."""
        if not self.state.journal_outbox:
            return
        try:
            await self.state.fresh()
        except Exception as exc:  # logged by the round with the count of entries lost
            logger.debug("mockserver: the request journal round failed: %s", exc)

    async def refresh(self) -> None:
        """Read the last ``size`` entries, for this request's ``entries()``."""
        await self.flush()
        self.loaded = await self.state.guarded(self._select)

    async def _select(self) -> list[dict]:
        conn = await self.state.connection("journal_reader")
        cursor = await conn.execute("SELECT id, json FROM journal ORDER BY id DESC LIMIT %s", (self.size,))
        return [{**orjson.loads(raw), "id": row_id} for row_id, raw in reversed(await cursor.fetchall())]

    def entries(self) -> list[dict]:
        return self.loaded

    def newest_first(self, before: int | None = None):
        """What the last ``refresh`` read, from the newest back, only ids below ``before`` (the journal's
        pages and the dashboard's feed)."""
        for entry in reversed(self.loaded):
            if before is None or entry["id"] < before:
                yield entry

    def clear(self) -> None:
        """Cleared by the commit of the request that asks (its transaction: ``PostgresState.commit``)."""
        self.state.journal_outbox.clear()
        self.loaded = []
        self.clear_requested = True

    def cleared(self) -> None:
        self.clear_requested = False
