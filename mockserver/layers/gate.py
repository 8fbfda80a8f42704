"""One gate for the text and numbers every API reads: what passes it can be stored, encoded
and read back, so no request can leave an API answering 500 on its reads.

- Text is UTF-8, whatever a request's ``charset`` names (JSON, forms and multipart alike): the parameter is
  dropped here, before Connexion's validators and the handlers' parsers read the body. Bytes that are not
  UTF-8, in a body, a part's name or file name, a query string or a path, get 400 (specs/README.md).
- No string holds a lone surrogate (JSON's ``"\\ud800"`` escape is the one way one gets in): 400.
- Integers fit the range the spec gives: ``format: int32`` its range, any other integer the int64 range
  (the specs' decision where a seed says only "integer"): 400 beyond. Floats where an integer is due are
  refused by the schemas already (draft 4: ``1.0`` is no integer).
- Numbers are finite: Python's ``json`` reads ``NaN`` and ``Infinity``, which JSON has not.

The gate is called from the validation layer (``mockserver.connexion_ext.forms``,
``mockserver.connexion_ext.compiled_schemas``) and
``GateMiddleware``; errors come back in the API's own format through ``ApiError``.
"""

from __future__ import annotations

import math
import re
from urllib.parse import unquote_to_bytes

from mockserver.asgi import Receive, Scope, Send, send_response
from mockserver.errors import error_response
from mockserver.exceptions import MockError
from mockserver.operations import routed_operation

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
_SURROGATE = re.compile("[\ud800-\udfff]")
_TEXT_TYPES = ("application/json", "multipart/form-data", "application/x-www-form-urlencoded")
_CHARSET = re.compile(rb";\s*charset\s*=\s*(\"[^\"]*\"|[^;]*)", re.IGNORECASE)


class Refused(MockError, ValueError):
    """A value the gate does not let in; the message says which and why."""


def integer_range(schema: dict | None) -> tuple[int, int]:
    return INT32 if (schema or {}).get("format") == "int32" else INT64


def check_text(text: str, where: str) -> None:
    match = _SURROGATE.search(text)
    if match:
        code = f"U+{ord(match.group()):04X}"
        raise Refused(f"{where} holds a lone surrogate ({code}), which is not Unicode text")


def check_integer(value: int, where: str, schema: dict | None = None) -> None:
    low, high = integer_range(schema)
    if not low <= value <= high:
        bits = "32" if (low, high) == INT32 else "64"
        raise Refused(f"{where} is {value}, beyond the {bits}-bit integer range [{low}, {high}]")


_UNTYPED = object()  # a position the request schema does not describe (an extra property's value)


def _child(schema, key=None, index=None):
    if schema is None or schema is _UNTYPED:
        return schema
    if index is not None:
        return schema.get("items", _UNTYPED)
    properties = schema.get("properties", {})
    if key in properties:
        return properties[key]
    extra = schema.get("additionalProperties", True)
    return extra if isinstance(extra, dict) else _UNTYPED


def check_value(value, where: str = "the body", schema: dict | None = None) -> None:
    """Every string (keys too) and number in a parsed JSON value; iterative, as the value may nest deep.
    With the request's ``schema``, an integer is held to a range only where the schema types it: a value
    the schema does not describe (an extra property the seed allows) is not stored, so any number is fine
    there; text is checked everywhere."""
    stack = [(value, where, schema)]
    while stack:
        node, path, at = stack.pop()
        if isinstance(node, str):
            check_text(node, path)
        elif isinstance(node, bool) or node is None:
            continue
        elif isinstance(node, int):
            if at is not _UNTYPED:
                check_integer(node, path, at)
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise Refused(f"{path} is {node}, not a finite number")
        elif isinstance(node, dict):
            for key, item in node.items():
                check_text(key, f"a key of {path}")
                stack.append((item, f"{path}.{key}", _child(at, key=key)))
        elif isinstance(node, list):
            stack.extend((item, f"{path}[{i}]", _child(at, index=i)) for i, item in enumerate(node))


def utf8(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(f"{where} is not UTF-8 text (byte {data[exc.start]:#04x} at {exc.start})") from None


def check_raw_url(scope) -> None:
    """The path and the query string, percent-decoded, must be UTF-8 (Starlette would turn what is not
    into U+FFFD silently, so a client would read back other text than it sent).

    Where nothing is escaped, decoding changes no byte, and UTF-8 text split at ``&`` (ASCII) is UTF-8
    in every piece, so the raw bytes are judged whole; only a refusal is worked out pair by pair (its
    message names the byte's place in its pair)."""
    raw_path = scope.get("raw_path") or scope.get("path", "").encode()
    utf8(raw_path if b"%" not in raw_path else unquote_to_bytes(raw_path), "the path")
    query = scope.get("query_string", b"")
    if query:
        if b"%" not in query:
            try:
                query.decode("utf-8")
                return
            except UnicodeDecodeError:
                pass
        for pair in query.split(b"&"):
            utf8(unquote_to_bytes(pair.replace(b"+", b" ")), "the query string")


def without_charset(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]] | None:
    """The headers with the ``charset`` parameter dropped from a JSON/form/multipart Content-Type
    (None when there is none to drop)."""
    for i, (name, value) in enumerate(headers):
        if name.lower() == b"content-type" and b"charset" in value.lower():
            kind = value.split(b";")[0].strip().lower().decode("latin-1")
            if kind in _TEXT_TYPES or kind.endswith("+json"):
                return [*headers[:i], (name, _CHARSET.sub(b"", value)), *headers[i + 1 :]]
    return None


class GateMiddleware:
    """Inside Connexion, after routing and before validation: the URL check and the charset rule."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        routed = routed_operation(scope) if scope["type"] == "http" else None
        if routed is None:
            return await self.app(scope, receive, send)
        try:
            check_raw_url(scope)
        except Refused as exc:
            return await send_response(error_response(routed[0], 400, str(exc)), send)
        headers = without_charset(scope.get("headers", []))
        if headers is not None:
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


def repaired(value) -> tuple[object, list[str]]:
    """``value`` (parsed JSON of old stored state) with what the gate would now refuse made storable:
    a lone surrogate becomes U+FFFD, an integer beyond int64 the nearest int64; and what was changed."""
    changes: list[str] = []

    def fix(node, path):
        if isinstance(node, str):
            if _SURROGATE.search(node):
                changes.append(f"{path}: lone surrogate(s) replaced by U+FFFD")
                return _SURROGATE.sub("\ufffd", node)
            return node
        if isinstance(node, int) and not isinstance(node, bool) and not INT64[0] <= node <= INT64[1]:
            changes.append(f"{path}: {node} clamped to the int64 range")
            return min(max(node, INT64[0]), INT64[1])
        if isinstance(node, dict):
            return {fix(k, f"{path} key"): fix(v, f"{path}.{k}") for k, v in node.items()}
        if isinstance(node, list):
            return [fix(item, f"{path}[{i}]") for i, item in enumerate(node)]
        return node

    return fix(value, "$"), changes
