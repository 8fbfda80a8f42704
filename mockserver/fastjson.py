"""JSON replies encoded by orjson: Connexion's ``Jsonifier`` with a C encoder that writes bytes directly."""

from __future__ import annotations

import decimal

import orjson
from connexion.jsonifier import Jsonifier

_OPTIONS = orjson.OPT_NON_STR_KEYS


def _default(value):
    """What orjson leaves out and Connexion's encoder handles (datetime and UUID orjson does itself)."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class OrjsonJsonifier(Jsonifier):
    def dumps(self, data, **kwargs) -> bytes:
        return orjson.dumps(data, default=_default, option=_OPTIONS)

    def loads(self, data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return data.decode() if isinstance(data, bytes) else data
