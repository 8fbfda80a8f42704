"""The request journal behind ``GET /__mock__/requests``: what the mock received, and what the contract said.

Credentials are never kept: the values of headers, query fields and JSON/form body fields whose names look
like one (``CREDENTIAL_NAME``: token, key, secret, signature, password, session, auth, cookie, CSRF) read
``[redacted]`` (``Bearer [redacted]`` for an Authorization scheme).

A frontend's end-to-end test asks the mock what the page sent ("exactly one 300x300 PNG, with the token";
"never a DELETE"). Each entry holds the request (credentials redacted), a summary of its body (media type,
size, SHA-256, and the parsed fields of JSON and form bodies), the response's status and media type, and
the contract verdict that ``mockserver.verdict`` took from Connexion's own security and request validation.

The store keeps the last ``--journal-size`` entries (0: no journal). In memory by default; under
``--state-dir`` in ``<dir>/journal.sqlite3``, which every ``--workers`` process appends to and reads, with
``synchronous=OFF``: the journal is a diagnostic, so it must not cost an fsync per request.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import sqlite3
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl

import orjson

from .context import shared
from .images import decoded_facts
from .verdict import EXCHANGE, contract_verdict, refusal_message

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
        entry.fields["id"] = self._next_id
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
            if before is None or entry.fields["id"] < before:
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
        entry.fields["id"] = cursor.lastrowid
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


class BadFilter(ValueError):
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


class Exchange:
    """What the layers of the mock learn about one request; ``mockserver.verdict`` fills the contract part."""

    __slots__ = ("api", "authenticated", "operation", "refusal", "routed", "started", "status", "validated")

    def __init__(self, api: str | None = None):
        self.started = time.time()
        self.api = api
        self.operation: str | None = None
        self.routed = False  # Connexion matched an operation of the spec
        self.authenticated = False  # past Connexion's security
        self.validated = False  # past Connexion's request validation
        self.refusal: Exception | None = None  # what Connexion or a handler raised
        self.status = 0


def iso_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def redacted_headers(raw: list[tuple[bytes, bytes]], secret_headers: frozenset[str]) -> dict[str, str]:
    """The request headers (lower-case names), credentials replaced: ``Bearer [redacted]``."""
    headers: dict[str, str] = {}
    for name_b, value_b in raw:
        name, value = name_b.decode("latin-1").lower(), value_b.decode("latin-1")
        if name in secret_headers:
            scheme, _, rest = value.partition(" ")
            value = f"{scheme} {REDACTED}" if rest and name != "cookie" else REDACTED
        elif is_credential(name):
            value = REDACTED
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def query_fields(query_string: bytes) -> dict[str, list[str]]:
    """The query's fields; credential-looking ones (``access_token``, a URL's ``signature``) redacted."""
    fields = parse_qs(query_string.decode("latin-1"), keep_blank_values=True)
    return {
        name: [REDACTED] * len(values) if is_credential(name) else values for name, values in fields.items()
    }


async def body_summary(
    content_type: str, size: int, sha256: str, data: bytes | None, complete: bool, form=None
) -> dict | None:
    """Media type, size and SHA-256 of the body; for JSON and form bodies, their fields (and files).
    ``data`` is None when the body was too big to keep for parsing; ``form`` is the multipart form the
    mock's validator parsed for this request, when it did (``mockserver.forms``), read instead of the
    bytes: an upload's body is parsed once."""
    media_type = content_type.split(";", 1)[0].strip().lower() or None
    if not size and not media_type:
        return None
    summary = {
        "media_type": media_type,
        "size": size,  # the bytes the mock read
        "sha256": sha256 if complete else None,
        "complete": complete,  # false: refused before the mock read the whole body
        "fields": None,
        "files": None,
    }
    if not complete or data is None or not media_type:
        return summary
    try:
        if media_type == "application/json" or media_type.endswith("+json"):
            summary["fields"] = _shortened(orjson.loads(data)) if size <= PREVIEW_PARSE_BYTES else None
        elif media_type == "application/x-www-form-urlencoded" and size <= PREVIEW_PARSE_BYTES:
            summary["fields"] = _shortened(_grouped(parse_qsl(data.decode("utf-8"), keep_blank_values=True)))
        elif media_type == "multipart/form-data":
            parts = await _form_parts(form) if form is not None else None
            summary["fields"], summary["files"] = parts or await _multipart(content_type, data)
    except Exception:  # a malformed body is the request's to have; its summary just has no fields
        summary["fields"] = summary["files"] = None
    summary["fields"] = redacted_fields(summary["fields"])
    return summary


def _grouped(pairs) -> dict:
    """One value per name, a list for a repeated name (``cloudinary[colors][]``)."""
    fields: dict = {}
    for key, value in pairs:
        if key in fields:
            previous = fields[key]
            fields[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[key] = value
    return fields


def _shortened(value, depth: int = 0):
    """A bounded preview: long strings cut, ``PREVIEW_ITEMS`` items per container, ``PREVIEW_DEPTH``
    levels; what is left out is counted (``"…": "950 more items"``)."""
    if isinstance(value, str) and len(value) > LONG_TEXT:
        return f"{value[:64]}… ({len(value)} characters)"
    if isinstance(value, dict | list) and depth >= PREVIEW_DEPTH:
        return f"… ({len(value)} items, nested too deep to keep)"
    if isinstance(value, dict):
        kept = {k[:LONG_TEXT]: _shortened(v, depth + 1) for k, v in list(value.items())[:PREVIEW_ITEMS]}
        if len(value) > PREVIEW_ITEMS:
            kept["…"] = f"{len(value) - PREVIEW_ITEMS} more fields"
        return kept
    if isinstance(value, list):
        kept = [_shortened(v, depth + 1) for v in value[:PREVIEW_ITEMS]]
        if len(value) > PREVIEW_ITEMS:
            kept.append(f"… {len(value) - PREVIEW_ITEMS} more items")
        return kept
    return value


async def _multipart(content_type: str, data: bytes) -> tuple[dict, dict]:
    """Starlette's parser (python-multipart): text fields as text, file parts as facts about the file.
    A body cut off before its closing boundary is malformed (python-multipart would keep its whole parts)."""
    from python_multipart.multipart import parse_options_header
    from starlette.datastructures import Headers
    from starlette.formparsers import MultiPartParser

    boundary = parse_options_header(content_type)[1].get(b"boundary", b"")
    if not boundary or not data.rstrip().endswith(b"--" + boundary + b"--"):
        raise ValueError("the multipart body has no closing boundary")

    async def stream():
        yield data

    parser = MultiPartParser(Headers({"content-type": content_type}), stream())
    try:
        return await _parts_of(await parser.parse())
    finally:  # every part's temporary file, parsed or not (Starlette leaves them open on errors)
        for file in parser._files_to_close_on_error:
            file.close()


async def _form_parts(form) -> tuple[dict, dict] | None:
    """The fields and file facts of a form already parsed; None when a part's file is no longer open."""
    try:
        return await _parts_of(form)
    except ValueError:  # "I/O operation on closed file"
        return None


async def _parts_of(form) -> tuple[dict, dict]:
    """Text fields as text, file parts as facts about the file (read from its start)."""
    from starlette.datastructures import UploadFile

    texts, files = [], []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if len(files) >= PREVIEW_ITEMS:
                continue
            await value.seek(0)  # a handler may have read it
            files.append((name, _file_facts(value.filename, value.content_type, await value.read())))
        else:
            texts.append((name, _shortened(value)))
    return _shortened(_grouped(texts)), _grouped(files)


def _file_facts(filename: str | None, media_type: str | None, data: bytes) -> dict:
    facts = {
        "filename": filename,
        "media_type": media_type,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "image": None,
    }
    known = decoded_facts(data)  # what the handler's decode found, when it decoded these bytes
    if known is not None:
        facts["image"] = {"format": known.format, "width": known.width, "height": known.height}
        return facts
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:  # the header only: no decoding
            facts["image"] = {"format": img.format, "width": img.size[0], "height": img.size[1]}
    except Exception:
        pass  # not an image Pillow knows
    return facts


# -- typed entries, for Python callers (the pytest plugin) -------------------------------------------------


@dataclass(frozen=True)
class FilePart:
    filename: str | None
    media_type: str | None
    size: int
    sha256: str
    format: str | None = None  # Pillow's name ("PNG") when the part is an image
    width: int | None = None
    height: int | None = None

    @classmethod
    def from_json(cls, raw: dict) -> FilePart:
        image = raw.get("image") or {}
        return cls(raw["filename"], raw["media_type"], raw["size"], raw["sha256"], **image)

    def __str__(self) -> str:
        image = f" {self.format} {self.width}x{self.height}" if self.format else ""
        return f"<file {self.filename!r} {self.media_type}{image}, {self.size} bytes>"


@dataclass(frozen=True)
class Body:
    media_type: str | None
    size: int  # the bytes the mock read
    sha256: str | None  # None when the mock did not read the whole body (refused before it)
    complete: bool
    fields: object  # the parsed JSON, or {name: value | [values]} of a form; None if not parsed
    files: dict  # multipart file parts: {name: FilePart | [FilePart]}

    @classmethod
    def from_json(cls, raw: dict) -> Body:
        files = {
            name: [FilePart.from_json(p) for p in part]
            if isinstance(part, list)
            else FilePart.from_json(part)
            for name, part in (raw.get("files") or {}).items()
        }
        return cls(raw["media_type"], raw["size"], raw["sha256"], raw["complete"], raw["fields"], files)


@dataclass(frozen=True)
class RequestEntry:
    """One journal entry (``GET /__mock__/requests``), typed; ``raw`` keeps the JSON as served."""

    id: int
    time: str
    api: str | None
    operation: str | None
    method: str
    path: str
    query: dict
    headers: dict
    body: Body | None
    status: int
    response_media_type: str | None
    error: str | None  # the mock's own refusal of a request that honoured the spec (a 409, a 400 …)
    verdict: str  # "honoured", "broken" (see rule and messages) or "unjudged" (no spec describes it)
    rule: str | None
    messages: tuple[str, ...]
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, raw: dict) -> RequestEntry:
        contract, response = raw["contract"], raw["response"]
        return cls(
            id=raw["id"],
            time=raw["time"],
            api=raw["api"],
            operation=raw["operation"],
            method=raw["method"],
            path=raw["path"],
            query=raw["query"],
            headers=raw["headers"],
            body=Body.from_json(raw["body"]) if raw["body"] else None,
            status=response["status"],
            response_media_type=response["media_type"],
            error=response.get("error"),
            verdict=contract["verdict"],
            rule=contract["rule"],
            messages=tuple(contract["messages"]),
            raw=raw,
        )

    @property
    def honoured(self) -> bool:
        return self.verdict == "honoured"

    def describe(self) -> str:
        """One readable line: ``#3 POST /evotor/… (createImage) -> 200 application/json; honoured``."""
        query = "?" + "&".join(f"{k}={v}" for k, vs in self.query.items() for v in vs) if self.query else ""
        verdict = self.verdict if self.rule is None else f"{self.verdict} {self.rule}"
        line = (
            f"#{self.id} {self.method} {self.path}{query} ({self.operation or 'no operation'}) "
            f"-> {self.status} {self.response_media_type or ''}".rstrip()
            + (f" ({self.error})" if self.error else "")
            + f"; {verdict}"
        )
        if self.messages and not self.honoured:
            line += ": " + "; ".join(self.messages)
        if self.body is not None:
            line += f"\n      body: {self.body.media_type} {self.body.size} bytes"
            if isinstance(self.body.fields, dict) and self.body.fields:
                line += " " + ", ".join(f"{k}={v!r}" for k, v in list(self.body.fields.items())[:8])
            for name, part in self.body.files.items():
                parts = part if isinstance(part, list) else [part]
                line += ", " + ", ".join(f"{name}={p}" for p in parts)
        return line


# -- recording ----------------------------------------------------------------------------------------------

SPEC_DOCUMENTS = ("/openapi.json", "/openapi.yaml")


class Recording:
    """One entry as recorded: what needs the request's bytes or its Exchange is worked out at once; the
    time, the query, the redacted headers and the media type only when the journal is read."""

    __slots__ = ("_raw", "_rendered", "cost", "fields")

    def __init__(self, fields: dict, started: float, scope: dict, response_headers, secret_headers):
        self.fields = fields
        query, headers = scope.get("query_string", b""), scope["headers"]
        body = fields["body"]
        self.cost = (  # bytes, about: what MemoryJournal's cap counts
            ENTRY_OVERHEAD_BYTES
            + len(query)
            + sum(len(n) + len(v) + 100 for n, v in headers)
            + (len(orjson.dumps(body)) * 3 if body else 0)  # a parsed value takes ~3x its JSON
            + sum(len(m) for m in fields["contract"]["messages"])
        )
        self._raw = (
            started,
            scope.get("query_string", b""),
            scope["headers"],
            response_headers,
            secret_headers,
        )
        self._rendered: dict | None = None

    def render(self) -> dict:
        if self._rendered is None:
            started, query_string, headers, response_headers, secret_headers = self._raw
            fields = self.fields
            response = {"status": fields["status"], "media_type": _media_type(response_headers)}
            if fields["error"] is not None:
                response["error"] = fields["error"]
            self._rendered = {
                "id": fields["id"],
                "time": iso_time(started),
                "api": fields["api"],
                "operation": fields["operation"],
                "method": fields["method"],
                "path": fields["path"],
                "query": query_fields(query_string),
                "headers": redacted_headers(headers, secret_headers),
                "body": fields["body"],
                "response": response,
                "contract": fields["contract"],
                "duration_ms": fields["duration_ms"],
            }
            self._raw = None  # the rendering is all that is kept
        return self._rendered


def _media_type(headers) -> str | None:
    for name, value in headers or ():
        if name.lower() == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip()
    return None


class _BodyTap:
    """The request body as the app reads it: size and SHA-256, and the bytes up to the parse limit.

    What the app never read (a request refused before its body, one over the mock's limit) is not read
    here either: a client may be waiting for the answer before it sends the rest."""

    def __init__(self, receive, limit: int = PARSE_LIMIT_BYTES):
        self._receive = receive
        self.limit = limit
        self.digest = hashlib.sha256()
        self.kept = bytearray()
        self.size = 0
        self.done = False

    async def receive(self):
        message = await self._receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            self.digest.update(chunk)
            self.size += len(chunk)
            if self.size <= self.limit:
                self.kept.extend(chunk)
            self.done = not message.get("more_body", False)
        return message

    async def summary(self, scope) -> dict | None:
        headers = scope["headers"]
        content_type = next((v.decode("latin-1") for k, v in headers if k.lower() == b"content-type"), "")
        data = bytes(self.kept) if self.size <= self.limit else None
        form = (shared(scope) or {}).get("parsed_form")
        return await body_summary(content_type, self.size, self.digest.hexdigest(), data, self.done, form)


def _parse_limit(headers) -> int:
    """Multipart bodies are parsed into files; JSON and forms, into memory: those are kept for less."""
    for name, value in headers:
        if name.lower() == b"content-type" and value.lower().startswith(b"multipart/"):
            return PARSE_LIMIT_BYTES
    return PREVIEW_PARSE_BYTES


def _has_body(headers) -> bool:
    for name, value in headers:
        name = name.lower()
        if (name == b"content-length" and value.strip() not in (b"", b"0")) or name == b"transfer-encoding":
            return True
    return False


class JournalMiddleware:
    """Outermost layer: one entry per request to an API or to a file URL, written before the response's
    last byte leaves, so a client that saw its answer finds it in the journal. CORS preflights, the
    ``/__mock__/`` controls, Swagger UI and the spec documents are not recorded. A request without a
    body costs a few dictionary entries; the rendering waits until someone reads the journal."""

    def __init__(self, app, ctx):
        self.app = app
        self.ctx = ctx
        self.secret_headers = CREDENTIAL_HEADERS | _api_key_headers(ctx)
        self.base_paths = {api: ctx.info(api).base_path(ctx.settings.prefixed) for api in ctx.apis}
        self._apis_of: dict[str, str | None] = {}  # path -> API: the same paths come again and again

    def _api_of(self, scope) -> str | None:
        """The API a recorded request belongs to, or None when it is not recorded."""
        path = scope.get("path", "")
        try:
            return self._apis_of[path]
        except KeyError:
            if len(path) > 512:  # only short paths are kept: the memo is bounded in bytes, not just count
                return self._find_api(path)
            if len(self._apis_of) >= 4096:
                self._apis_of.clear()
            api = self._apis_of[path] = self._find_api(path)
            return api

    def _find_api(self, path: str) -> str | None:
        if path.startswith("/__mock__/"):
            parts = path.split("/")
            return parts[3] if path.startswith("/__mock__/files/") and len(parts) > 3 else None
        api = self.ctx.api_for_path(path) if path != "/" else None
        if api is None:
            return None
        relative = path[len(self.base_paths[api]) :]
        if relative in SPEC_DOCUMENTS or relative == "/ui" or relative.startswith("/ui/"):
            return None
        return api

    async def __call__(self, scope, receive, send):
        journal = self.ctx.journal
        if journal is None or scope["type"] != "http":
            return await self.app(scope, receive, send)
        api = self._api_of(scope)
        if api is None or _preflight(scope):
            return await self.app(scope, receive, send)
        exchange = scope[EXCHANGE] = Exchange(api)
        tap = _BodyTap(receive, _parse_limit(scope["headers"])) if _has_body(scope["headers"]) else None
        response_headers = None

        async def journal_send(message):
            nonlocal response_headers
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                response_headers = message.get("headers")
            elif message["type"] == "http.response.body" and not message.get("more_body") and exchange.status:
                body = await tap.summary(scope) if tap is not None else None
                self._record(journal, scope, exchange, body, response_headers)
                exchange.status = 0  # recorded
            await send(message)

        await self.app(scope, tap.receive if tap is not None else receive, journal_send)

    def _record(self, journal, scope, exchange, body, response_headers) -> None:
        method, path = scope["method"], scope["path"]
        refused = exchange.routed and exchange.validated and exchange.refusal is not None
        fields = {
            "id": 0,  # the store numbers it
            "api": exchange.api,
            "operation": exchange.operation,
            "method": method,
            "path": path,
            "body": body,
            "status": exchange.status,
            # the mock's own refusal of a request that passed the spec (a 409, an image of the wrong size)
            "error": refusal_message(exchange.refusal) if refused else None,
            "contract": contract_verdict(exchange, self.ctx, method, path),
            "duration_ms": round((time.time() - exchange.started) * 1000, 1),
        }
        entry = Recording(fields, exchange.started, scope, response_headers, self.secret_headers)
        try:
            journal.append(entry)
        except sqlite3.Error as exc:  # the journal is a diagnostic: never the reason a request fails
            logger.warning("mockserver: the request journal could not record %s %s: %s", method, path, exc)


def _preflight(scope) -> bool:
    if scope["method"] != "OPTIONS":
        return False
    names = {name.lower() for name, _ in scope.get("headers", [])}
    return b"origin" in names and b"access-control-request-method" in names


def _api_key_headers(ctx) -> frozenset[str]:
    """Header names of the specs' apiKey schemes (evotor's X-Authorization): credentials to redact."""
    names = set()
    for api in ctx.apis:
        schemes = ctx.info(api).spec.get("components", {}).get("securitySchemes", {})
        for scheme in schemes.values():
            if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                names.add(scheme["name"].lower())
    return frozenset(names)
