"""Parameter and response validation with compiled schemas: Connexion's checks, at a fraction of the cost.

Connexion builds a new ``jsonschema`` validator for every parameter and response and walks the schema in
Python; on a list of 20 images that was two thirds of the mock's time per request. Here each schema is
translated once from OpenAPI 3.0 to JSON Schema draft 4 (``nullable`` -> a ``"null"`` type, ``writeOnly``
-> forbidden, as Connexion's response validator treats them) and compiled with ``jsonschema-rs`` (already
installed for Schemathesis). A value the compiled schema rejects is handed to Connexion's own validator,
which has the last word and writes the error message; so a verdict can only differ where ``jsonschema-rs``
is more lenient than ``jsonschema`` (no such case is known for the specs' keywords and formats).
"""

from __future__ import annotations

from collections import OrderedDict

import jsonschema_rs
import orjson
from connexion.exceptions import NonConformingResponseBody
from connexion.lifecycle import ConnexionRequest
from connexion.validators import JSONResponseBodyValidator, ParameterValidator

from .fastjson import encoded_from
from .gate import Refused, check_integer, check_text
from .parameters import keep_parsed
from .records import accepting_stand_ins, with_stand_ins

_NOT_SCHEMA_KEYS = frozenset({"example", "examples", "enum", "default", "const"})
_CACHE_SIZE = 4096


def openapi_to_jsonschema(node):
    """A copy of an OpenAPI 3.0 schema in draft 4 terms, as Connexion's response validator reads it."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("writeOnly") is True or node.get("x-writeOnly") is True:
        return {"not": {}}
    out = {
        key: value if key in _NOT_SCHEMA_KEYS else openapi_to_jsonschema(value) for key, value in node.items()
    }
    if node.get("nullable") is True or node.get("x-nullable") is True:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"] if "null" not in types else types
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


class _CompiledSchemas:
    """Schema object -> compiled validator. The entry holds the schema, so its ``id`` stays its own."""

    def __init__(self, size: int = _CACHE_SIZE, transform=lambda schema: schema):
        self.size = size
        self.transform = transform
        self._entries: OrderedDict[int, tuple[dict, object]] = OrderedDict()

    def get(self, schema: dict):
        entry = self._entries.get(id(schema))
        if entry is not None and entry[0] is schema:
            self._entries.move_to_end(id(schema))
            return entry[1]
        compiled = jsonschema_rs.Draft4Validator(
            openapi_to_jsonschema(self.transform(schema)), validate_formats=True
        )
        self._entries[id(schema)] = (schema, compiled)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return compiled


COMPILED = _CompiledSchemas()
REPLIES = _CompiledSchemas(transform=accepting_stand_ins)  # records already validated (mockserver.records)


class CompiledJSONResponseValidator(JSONResponseBodyValidator):
    """Connexion's JSON response validator, with the compiled schema as the fast path."""

    _wire: bytes | None = None  # set when the value checked is the one encoded, not the bytes parsed

    def _parse(self, stream):
        chunks = [chunk for chunk in stream if chunk]  # the start message counts as an empty chunk
        if not chunks:
            return None
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        value = encoded_from(body)
        if value is not None:
            self._wire = body
            return value
        return self._loads(body)

    @staticmethod
    def _loads(body: bytes):
        try:
            return orjson.loads(body)  # UTF-8, as every JSON body the mock writes
        except orjson.JSONDecodeError as exc:
            raise NonConformingResponseBody(str(exc)) from exc

    def _validate(self, body) -> None:
        if self._wire is not None:  # the value encoded: its records stand in by their schema's token
            if REPLIES.get(self._schema).is_valid(with_stand_ins(body)):
                return
            body = self._loads(self._wire)  # a verdict against the value: judge the bytes on the wire
        compiled = COMPILED.get(self._schema)
        if compiled.is_valid(body):
            return
        super()._validate(body)  # raises with Connexion's message, or accepts what jsonschema accepts


class CompiledParameterValidator(ParameterValidator):
    """Connexion's parameter validator, with the compiled schema as the fast path for present values;
    integers beyond their range and lone surrogates are refused here too (``mockserver.gate``). What it
    parsed is kept for the handler's decorator (``mockserver.parameters``)."""

    def validate(self, scope):
        request = ConnexionRequest(scope, uri_parser=self.uri_parser)
        self.validate_request(request)
        keep_parsed(scope, request)

    @staticmethod
    def validate_parameter(parameter_type, value, param, param_name=None):
        schema = param.get("schema", param)
        if value is not None:
            where = f"the {parameter_type} parameter {param.get('name', param_name)!r}"
            refused = _refused(value, schema, where)
            if refused is not None:
                return refused  # Connexion's way: the message of a 400
            if COMPILED.get(schema).is_valid(value):
                return None
        return ParameterValidator.validate_parameter(parameter_type, value, param, param_name)


def _refused(value, schema: dict, where: str) -> str | None:
    items = schema.get("items", {}) if isinstance(value, list) else schema
    try:
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                check_text(item, where)
            elif isinstance(item, int) and not isinstance(item, bool):
                check_integer(item, where, items)
    except Refused as exc:
        return str(exc)
    return None
