"""Per-record rows: how the durable stores (``--state-dir``, ``--store``) keep an API, so that a write
stores only the records it touched and another process loads only the rows that moved.

An API is kept as one small row of its scalars (``BaseApi.row_scalars``: counters) and one row per record,
keyed by (api, container, key): the container is the name ``dump()`` gives the record's list, the key the
record's key in it, as JSON text. Every row carries the version of the commit that last wrote it, and a
``seq`` that orders the records as ``dump()`` lists them (upload order): it is set when a record is first
written and kept when it is rewritten. A deleted record leaves a tombstone (its ``json`` NULL, the
deleting version), so a process that has loaded up to version V reloads exactly the rows above V.
Tombstones are purged once old (:data:`TOMBSTONE_HORIZON`); a process that has not loaded since reloads
its APIs whole.

A write knows what it touched from the undo log it records (``BaseApi.snapshot``, mockserver.state.undo):
the keys changed in the API's stored containers. A write that replaced a whole container (a reset, a
restore, a fixture load) cannot say; the API's rows are then rewritten wholesale and its row's
``rewritten`` version set, which tells other processes to reload that API whole.

Rows hold the JSON ``dump()`` would hold (orjson), never pickles: a store stays readable by the next
version of the mock and by a person with ``sqlite3`` or ``psql``.
"""

from __future__ import annotations

import typing as t

import orjson

from mockserver.state.persistence import restore_or_skip

Row = tuple[str, str, str | None]  # (container, key as JSON text, record as JSON text; None: deleted)
SEQ_STEP = 1 << 32  # seq = version * SEQ_STEP + the row's place in its write: unique, in write order
# Tombstones older than this many commits are purged (every PURGE_EVERY commits); a process that has not
# loaded since before the purge reloads the API whole: the store does not grow with the deletes made.
TOMBSTONE_HORIZON = 4096
PURGE_EVERY = 256


def purge_horizon(version: int) -> int | None:
    """The version through which tombstones go at this commit; None: not at this one."""
    return version - TOMBSTONE_HORIZON if version % PURGE_EVERY == 0 and version > TOMBSTONE_HORIZON else None


def key_text(key) -> str:
    return orjson.dumps(key).decode()


def key_value(text: str):
    """A key as the API keeps it (JSON arrays were tuples)."""
    value = orjson.loads(text)
    return tuple(value) if isinstance(value, list) else value


def _text(value) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def changed_rows(api, snapshot) -> list[Row] | None:
    """The rows of the records the write recorded in ``snapshot`` touched, as they now are; None when it
    replaced a whole container (then :func:`all_rows` are stored)."""
    touched = api.touched_records(snapshot.entries or [])
    if touched is None:
        return None
    return [(container, key_text(key), _text(api.record_row(container, key))) for container, key in touched]


def all_rows(api) -> list[Row]:
    return [(container, key_text(key), _text(value)) for container, key, value in api.record_rows()]


def scalars_text(api) -> str:
    return orjson.dumps(api.row_scalars()).decode()


def seq_of(version: int, place: int) -> int:
    return version * SEQ_STEP + place


def load_whole(api, scalars: str, rows: t.Iterable[tuple[str, str]], source: str) -> None:
    """The API from all its live rows (``(container, json)`` in seq order) and its scalars row."""
    containers: dict[str, list] = {}
    for container, text in rows:
        containers.setdefault(container, []).append(orjson.loads(text))
    restore_or_skip(api, api.state_of_rows(orjson.loads(scalars or "{}"), containers), source)


def apply_changed(api, scalars: str, rows: t.Iterable[tuple[str, str, str | None]]) -> None:
    """Rows another process wrote since this one last loaded (``(container, key, json or None)`` in seq
    order) applied to the API's records and indexes, a container at a time in the API's order; the
    replies and encoded forms kept of those records are dropped."""
    order = {name: i for i, name in enumerate(api.stored_rows())}
    changes = sorted(
        (
            (container, key_value(key), None if text is None else orjson.loads(text))
            for container, key, text in rows
        ),
        key=lambda change: order.get(change[0], 0),
    )
    api.apply_rows(orjson.loads(scalars or "{}"), changes)
    if api.records is not None:
        for _, key, _ in changes:
            api.records.forget(key)
    api.ctx.state_changed(api.name)
