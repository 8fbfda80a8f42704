"""Where journal entries are kept (memory, or SQLite under --state-dir), how credentials are redacted,
and how ``GET /__mock__/requests`` filters them."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections import deque
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from mockserver.exceptions import MockError

if TYPE_CHECKING:
    from mockserver.layers.journal.entries import Recording

logger = logging.getLogger("mockserver")

JOURNAL_FILE = "journal.sqlite3"
PARSE_LIMIT_BYTES = 8 * 1024 * 1024  # multipart bodies above this are hashed, not parsed
PREVIEW_PARSE_BYTES = 1024 * 1024  # JSON and form bodies above this are hashed, not parsed
LONG_TEXT = 256  # longer strings in parsed fields are shortened (a base64 image would fill the journal)
PREVIEW_ITEMS = 50  # items kept of each object or array in parsed fields (the rest counted)
PREVIEW_DEPTH = 8  # levels kept of nested parsed fields
ENTRY_OVERHEAD_BYTES = 1024  # what an entry costs beyond its headers, query and body summary
REDACTED = "[redacted]"
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-authorization"})
# Header, query and body field names that look like credentials: their values are never kept.
CREDENTIAL_NAME = re.compile(
    r"token|key|secret|signature|passw|session|auth|cookie|csrf|xsrf|credential", re.I
)


def is_credential(name: str) -> bool:
    return CREDENTIAL_NAME.search(name) is not None


def redacted_fields(value):
    """Parsed JSON or form fields with every value under a credential-looking name replaced."""
    if isinstance(value, dict):
        return {k: REDACTED if is_credential(k) else redacted_fields(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted_fields(v) for v in value]
    return value


# -- the stores ---------------------------------------------------------------------------------------------


class MemoryJournal:
    """The last ``size`` entries of this process, at most about ``max_bytes`` of them, kept as recorded
    and rendered when read."""

    def __init__(self, size: int, max_bytes: int = 64 * 2**20):
        self.size = size
        self.max_bytes = max_bytes
        self.held_bytes = 0
        self._entries: deque[Recording] = deque()
        self._next_id = 1
        self.watchers: list = []  # called with no argument after each append (the dashboard's feed)

    def append(self, entry: Recording) -> None:
        entry.id = self._next_id
        self._next_id += 1
        self._entries.append(entry)
        self.held_bytes += entry.cost
        while self._entries and (len(self._entries) > self.size or self.held_bytes > self.max_bytes):
            self.held_bytes -= self._entries.popleft().cost
        for watch in self.watchers:
            watch()

    def entries(self) -> list[dict]:
        return [entry.render() for entry in self._entries]

    def newest_first(self, before: int | None = None):
        """Entries from the newest back, only those with an id below ``before``: a page renders only
        the entries it reads."""
        for entry in list(reversed(self._entries)):
            if before is None or entry.id < before:
                yield entry.render()

    def clear(self) -> None:
        self._entries.clear()
        self.held_bytes = 0


class SqliteJournal:
    """The last ``size`` entries of every process sharing ``state_dir`` (ids ordered across them)."""

    def __init__(self, size: int, state_dir: Path):
        self.size = size
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(
            Path(state_dir) / JOURNAL_FILE, isolation_level=None, check_same_thread=False, timeout=30
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS journal (id INTEGER PRIMARY KEY AUTOINCREMENT, json BLOB)"
        )
        self.watchers: list = []  # called after this process's appends (other workers' are polled)

    def append(self, entry: Recording) -> None:
        # One statement: the id is assigned inside SQLite's write lock, so workers never share one.
        cursor = self.db.execute("INSERT INTO journal (json) VALUES (?)", (orjson.dumps(entry.render()),))
        entry.id = cursor.lastrowid
        if cursor.lastrowid % 64 == 0 or cursor.lastrowid <= self.size:  # trim now and then
            self.db.execute("DELETE FROM journal WHERE id <= ?", (cursor.lastrowid - self.size,))
        for watch in self.watchers:
            watch()

    def entries(self) -> list[dict]:
        rows = self.db.execute("SELECT id, json FROM journal ORDER BY id DESC LIMIT ?", (self.size,))
        return [{**orjson.loads(raw), "id": row_id} for row_id, raw in reversed(rows.fetchall())]

    def newest_first(self, before: int | None = None, chunk: int = 100):
        """Entries from the newest back, only those with an id below ``before``, read ``chunk`` rows at a
        time: a reader that stops early (a page, the feed's check for new entries) reads little."""
        query = "SELECT id, json FROM journal WHERE id < ? ORDER BY id DESC LIMIT ?"
        left, before = self.size, before or 2**62
        while left > 0:
            rows = self.db.execute(query, (before, min(chunk, left))).fetchall()
            for row_id, raw in rows:
                yield {**orjson.loads(raw), "id": row_id}
            if len(rows) < min(chunk, left):
                return
            left -= len(rows)
            before = rows[-1][0]

    def clear(self) -> None:
        self.db.execute("DELETE FROM journal")


def open_journal(settings) -> MemoryJournal | SqliteJournal | None:
    if settings.journal_size <= 0:
        return None
    if settings.state_dir:
        return SqliteJournal(settings.journal_size, settings.state_dir)
    return MemoryJournal(settings.journal_size, settings.journal_bytes)


# -- filters (GET /__mock__/requests?api=&operation=&method=&path=&status=&since=&verdict=) ---------------

FILTERS = ("api", "operation", "method", "path", "status", "since", "verdict")


class BadFilter(MockError, ValueError):
    pass


def matcher(params: dict[str, str]):
    """A predicate over entries. ``path`` may hold ``*`` wildcards; ``status`` is ``201`` or ``4xx``;
    ``since`` is an entry id (entries after it) or an ISO 8601 time (entries at or after it)."""
    unknown = set(params) - set(FILTERS)
    if unknown:
        raise BadFilter(f"unknown filter {sorted(unknown)[0]!r}; the filters are {', '.join(FILTERS)}")
    tests = []
    for key in ("api", "operation", "verdict"):
        if key in params:
            tests.append(_field_is(key, params[key]))
    if "method" in params:
        method = params["method"].upper()
        tests.append(lambda e: e["method"] == method)
    if "path" in params:
        pattern = params["path"]
        tests.append(lambda e: fnmatchcase(e["path"], pattern))
    if "status" in params:
        tests.append(_status_test(params["status"]))
    if "since" in params:
        tests.append(_since_test(params["since"]))
    return lambda entry: all(test(entry) for test in tests)


def _field_is(key, value):
    if key == "verdict":
        return lambda e: e["contract"]["verdict"] == value
    return lambda e: e[key] == value


def _status_test(value: str):
    if value.isdigit():
        return lambda e: e["response"]["status"] == int(value)
    if len(value) == 3 and value[0].isdigit() and value[1:].lower() == "xx":
        return lambda e: e["response"]["status"] // 100 == int(value[0])
    raise BadFilter(f"status must be a code (201) or a class (4xx), not {value!r}")


def _since_test(value: str):
    if value.isdigit():
        return lambda e: e["id"] > int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadFilter(f"since must be an entry id or an ISO 8601 time, not {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return lambda e: datetime.fromisoformat(e["time"].replace("Z", "+00:00")) >= moment


# -- one exchange, as it passes through the mock ------------------------------------------------------------
