"""JSON replies encoded by orjson: Connexion's ``Jsonifier`` with a C encoder that writes bytes directly.

It also remembers, for the request being served, which value it encoded into which bytes object: the
response validator then checks that value instead of parsing the bytes back (on a 1,000-record listing
the parse cost more than the encoding).
"""

from __future__ import annotations

import decimal

import orjson
from connexion.jsonifier import Jsonifier

from mockserver.request_state import LAST_ENCODED
from mockserver.state.records import Encoded

_OPTIONS = orjson.OPT_NON_STR_KEYS


def _default(value):
    """What orjson leaves out and Connexion's encoder handles (datetime and UUID orjson does itself), and
    records already encoded (``mockserver.state.records``)."""
    if type(value) is Encoded:
        return value.fragment
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class OrjsonJsonifier(Jsonifier):
    def dumps(self, data, **kwargs) -> bytes:
        encoded = orjson.dumps(data, default=_default, option=_OPTIONS)
        LAST_ENCODED.set((encoded, data))
        return encoded

    def loads(self, data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return data.decode() if isinstance(data, bytes) else data


def encoded_from(body: bytes) -> object | None:
    """The value this very bytes object was encoded from in the current request, else None."""
    last = LAST_ENCODED.get()
    return last[1] if last is not None and last[0] is body else None
