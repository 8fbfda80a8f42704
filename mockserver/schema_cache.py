"""OpenAPI 3.0 schemas compiled to jsonschema-rs validators, once per schema object."""

from __future__ import annotations

from collections import OrderedDict

import jsonschema_rs

_NOT_SCHEMA_KEYS = frozenset({"example", "examples", "enum", "default", "const"})
_CACHE_SIZE = 4096


def openapi_to_jsonschema(node, *, reply: bool = True):
    """A copy of an OpenAPI 3.0 schema in draft 4 terms, as Connexion's response validator reads it (or,
    with ``reply=False``, its request validator, which lets ``writeOnly`` through)."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(item, reply=reply) for item in node]
    if not isinstance(node, dict):
        return node
    if reply and (node.get("writeOnly") is True or node.get("x-writeOnly") is True):
        return {"not": {}}
    out = {
        key: value if key in _NOT_SCHEMA_KEYS else openapi_to_jsonschema(value, reply=reply)
        for key, value in node.items()
    }
    if node.get("nullable") is True or node.get("x-nullable") is True:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"] if "null" not in types else types
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


class CompiledSchemas:
    """Schema object -> compiled validator. The entry holds the schema, so its ``id`` stays its own."""

    def __init__(self, size: int = _CACHE_SIZE, transform=lambda schema: schema, reply: bool = True):
        self.size = size
        self.transform = transform
        self.reply = reply
        self._entries: OrderedDict[int, tuple[dict, object]] = OrderedDict()

    def get(self, schema: dict):
        entry = self._entries.get(id(schema))
        if entry is not None and entry[0] is schema:
            self._entries.move_to_end(id(schema))
            return entry[1]
        compiled = jsonschema_rs.Draft4Validator(
            openapi_to_jsonschema(self.transform(schema), reply=self.reply), validate_formats=True
        )
        self._entries[id(schema)] = (schema, compiled)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return compiled


COMPILED = CompiledSchemas()
