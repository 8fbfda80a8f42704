"""One journal entry: the request as received (credentials redacted, body summarised), and the lazy
``Recording`` that renders it only when someone reads the journal."""

from __future__ import annotations

import hashlib
import io
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs, parse_qsl

import orjson

from mockserver.connexion_ext.lean_validation import content_type_of
from mockserver.connexion_ext.multipart import parsed_multipart
from mockserver.images import decoded_facts
from mockserver.layers import verdict
from mockserver.layers.journal.store import (
    ENTRY_OVERHEAD_BYTES,
    LONG_TEXT,
    PREVIEW_DEPTH,
    PREVIEW_ITEMS,
    PREVIEW_PARSE_BYTES,
    REDACTED,
    is_credential,
    redacted_fields,
)

logger = logging.getLogger("mockserver")


class Exchange:
    """What the layers of the mock learn about one request; ``mockserver.layers.verdict`` fills the contract
    part."""

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
    mock's validator parsed for this request, when it did (``mockserver.connexion_ext.forms``), read instead
    of the
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
    async with parsed_multipart(content_type, data) as form:
        return await _parts_of(form)


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
    time, the query, the redacted headers, the media type and an honoured request's verdict only when the
    journal is read.

    An entry outlives the next thousand requests, and what it holds is touched again, by then cold in the
    processor's caches, when it is dropped to make room: so it holds little. Its fields are slots, not a
    dict; of the answer's headers it keeps the ``Content-Type`` value, not the list; an honoured request
    (every check passed: ``contract`` None) gets its verdict object only when read. With the request's
    own header list that is about a dozen objects where there were three dozen."""

    __slots__ = (
        "_rendered",
        "api",
        "body",
        "content_type",
        "contract",
        "cost",
        "duration_ms",
        "error",
        "headers",
        "id",
        "method",
        "operation",
        "path",
        "query",
        "secret_headers",
        "started",
        "status",
    )

    def __init__(
        self,
        exchange,
        scope: dict,
        body: dict | None,
        contract: dict | None,
        error: str | None,
        response_headers,
        secret_headers,
    ):
        self.id = 0  # the store numbers it
        self.started = exchange.started
        self.api, self.operation, self.status = exchange.api, exchange.operation, exchange.status
        self.method, self.path = scope["method"], scope["path"]
        self.query, self.headers = scope.get("query_string", b""), scope["headers"]
        self.body, self.contract, self.error = body, contract, error
        self.duration_ms = round((time.time() - exchange.started) * 1000, 1)
        self.content_type = content_type_of(response_headers or ())
        self.secret_headers = secret_headers
        self.cost = (  # bytes, about: what MemoryJournal's cap counts
            ENTRY_OVERHEAD_BYTES
            + len(self.query)
            + sum(len(n) + len(v) + 100 for n, v in self.headers)
            + (len(orjson.dumps(body)) * 3 if body else 0)  # a parsed value takes ~3x its JSON
            + (sum(len(m) for m in contract["messages"]) if contract else 0)
            + (len(error) if error else 0)
        )
        self._rendered: dict | None = None

    def render(self) -> dict:
        if self._rendered is None:
            response = {"status": self.status, "media_type": _media_type_of(self.content_type)}
            if self.error is not None:
                response["error"] = self.error
            self._rendered = {
                "id": self.id,
                "time": iso_time(self.started),
                "api": self.api,
                "operation": self.operation,
                "method": self.method,
                "path": self.path,
                "query": query_fields(self.query),
                "headers": redacted_headers(self.headers, self.secret_headers),
                "body": self.body,
                "response": response,
                "contract": self.contract if self.contract is not None else verdict.honoured_verdict(),
                "duration_ms": self.duration_ms,
            }
            self.query = self.headers = self.body = self.contract = None  # the rendering is all that is kept
        return self._rendered


def _media_type_of(content_type: str | None) -> str | None:
    return None if content_type is None else content_type.split(";", 1)[0].strip()
