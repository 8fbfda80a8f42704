"""Records validated and encoded once, when written: a listing joins their bytes.

Rebuilding every record's dict, encoding it and validating it again on every read made a listing's cost
the whole page's Python work; a 1,000-record ``GetAllImages`` spent 2.5 ms of its 3.7 ms there. Here a
handler asks a :class:`RecordCodec` for a record's :class:`Encoded` form: the dict is built and checked
against the record's component schema (compiled with ``jsonschema-rs``) when the record is created or
changed, and its JSON kept as an ``orjson.Fragment`` that the jsonifier embeds as it is.

A record's shape that breaks its schema is refused where it is made: :class:`RecordShapeError` is a 500
in the API's own format, and the write that made it is undone (``mockserver.layers.atomic``).

Response validation stays on. The validator (``mockserver.connexion_ext.compiled_schemas``) replaces each
``Encoded`` by
a stand-in token naming its schema, and a non-empty listing of them (``EncodedList``) by one list token,
and checks the reply against the response schema in which every node equal to a registered record schema
also accepts that token, and every array of such records without length or uniqueness constraints the
list token: the envelope, the status, the headers, the page meta and each listing's place are still
judged on every reply, at a cost independent of the listing's length; a record is not judged twice.
Anything the fast path rejects is judged again from the bytes on the wire, by Connexion.
"""

from __future__ import annotations

import secrets

import orjson

from image_api_contracts import resolve_refs
from mockserver.errors import ApiError
from mockserver.schema_cache import COMPILED

# Random per process: no value a client sent (and a handler wrongly put in a record's place) can pass for one
_TOKEN_PREFIX = f"mockserver-record-{secrets.token_hex(16)}:"
_SCHEMAS: dict[str, dict] = {}  # stand-in token -> the record schema (OpenAPI 3.0, $refs resolved)
_LIST = "[]"  # a record token with this suffix stands for a non-empty list of such records
_COUNTED = ("minItems", "maxItems", "uniqueItems", "contains")  # arrays whose items must be seen one by one


class RecordShapeError(ApiError):
    """The mock built a record its own spec forbids: a bug in a handler, never the client's fault."""

    def __init__(self, schema_name: str, detail: str):
        super().__init__(500, f"the mock built a {schema_name} record that breaks the spec: {detail}")


class Encoded:
    """A record's JSON, already validated against the schema its ``token`` names: its ``json`` bytes and
    the ``fragment`` that embeds them (the same bytes object) in a reply."""

    __slots__ = ("fragment", "json", "token")

    def __init__(self, token: str, json_bytes: bytes):
        self.token = token
        self.json = json_bytes
        self.fragment = orjson.Fragment(json_bytes)


class RecordCodec:
    """One component schema of one API, and the encoded form of each of its records.

    ALL-06: a record whose shape its schema would refuse is refused where it is made (RecordShapeError),
    and the write is undone, so every read after an accepted write still answers a valid 2xx.

    ``encoded(key, fingerprint, build)`` returns the record's ``Encoded`` kept under ``key`` while its
    ``fingerprint`` is unchanged (the record itself, where records are replaced rather than changed in
    place, and what of the request goes in: the origin of file URLs, the second of a signed URL's
    expiry); otherwise ``build()`` makes the dict,
    which is validated and encoded (``kept`` maps each key to its ``(fingerprint, Encoded)``, for a
    listing's loop to look up without a call per record). ``forget`` drops what a deleted record or a
    reset leaves behind.

    A listing of every record (image-upload's ``GetAllImages``) also keeps, per origin, a
    :class:`ListingView`: the records' JSON in the listing's order, joined in blocks. The handler owns
    its order: it appends a new record only to a view that held every other record (:meth:`extend_view`)
    and rebuilds a view whose length differs from its records'; ``forget`` removes a key from every view,
    so a view is always its records' listing with some keys missing, and one as long as the records is
    exactly their listing. Views belong to one records container: another one (a reset, a restore) drops
    them.
    """

    MAX_VIEWS = 4  # origins whose listing view is kept (most often one: the host a frontend uses)

    def __init__(self, api_name: str, spec: dict, schema_name: str):
        self.schema_name = schema_name
        self.token = f"{_TOKEN_PREFIX}{api_name}/{schema_name}"
        schema = resolve_refs(spec["components"]["schemas"][schema_name], spec)
        _SCHEMAS[self.token] = schema
        self._validator = COMPILED.get(schema)
        self.kept: dict = {}
        self.views: dict[str, ListingView] = {}  # origin -> its listing of the records
        self._views_of: object = None  # the records container the views list

    def encoded(self, key, fingerprint, build) -> Encoded:
        kept = self.kept.get(key)
        if kept is not None and (kept[0] is fingerprint or kept[0] == fingerprint):  # identity: no __eq__
            return kept[1]
        value = build()
        if not self._validator.is_valid(value):
            errors = "; ".join(error.message for error in self._validator.iter_errors(value))
            raise RecordShapeError(self.schema_name, errors)
        # orjson's bytes keep the 4 KiB buffer they were written in: a copy of the right size is kept
        encoded = Encoded(self.token, bytes(memoryview(orjson.dumps(value))))
        self.kept[key] = (fingerprint, encoded)
        return encoded

    def forget(self, key=None) -> None:
        if key is None:
            self.kept.clear()
            self.views.clear()
        else:
            self.kept.pop(key, None)
            for view in self.views.values():
                view.discard(key)

    def view(self, origin: str, records) -> ListingView | None:
        """The listing view of ``records`` for ``origin`` when it holds every record, else None."""
        view = self.views.get(origin) if self._views_of is records else None
        return view if view is not None and len(view) == len(records) else None

    def keep_view(self, origin: str, records, view: ListingView) -> None:
        """Keep a listing view of ``records`` just built in their order (the oldest origin's goes beyond
        :attr:`MAX_VIEWS`)."""
        if self._views_of is not records:
            self.views.clear()
            self._views_of = records
        self.views.pop(origin, None)
        if len(self.views) >= self.MAX_VIEWS:
            del self.views[next(iter(self.views))]
        self.views[origin] = view

    def extend_view(self, origin: str, records, key, encoded: Encoded) -> None:
        """A record just added at the end of ``records``: into the view that held every other one; a
        view missing some records stays as it is (and is rebuilt at the next listing)."""
        view = self.views.get(origin) if self._views_of is records else None
        if view is not None and len(view) == len(records) - 1 and key not in view:
            view.append(key, encoded)

    def __len__(self) -> int:
        return len(self.kept)


class _Block:
    """Up to :attr:`ListingView.BLOCK` consecutive records of a listing: their JSON by key, in order, and
    (once a listing asked for it, until one of them goes or one joins) those bytes joined by commas."""

    __slots__ = ("joined", "parts")

    def __init__(self):
        self.parts: dict = {}  # key -> the record's JSON bytes (``Encoded.json``, not copied)
        self.joined: orjson.Fragment | None = None


class ListingView:
    """One origin's listing of a records container, in the listing's order, kept as blocks of up to
    ``BLOCK`` records whose JSON is joined by commas once and reused until the block changes.

    orjson writes a list's items separated by commas, so a list of such joined fragments is written as
    the listing itself, byte for byte. A 1,000-record listing hands orjson 16 fragments of contiguous
    bytes instead of 1,000 records scattered over the heap (in process, 15 µs of copying became 4 µs),
    and its handler takes 16 steps, not 1,000. A block is never empty (an empty fragment would leave two
    commas side by side). What it costs: each listed record's bytes are kept twice while its block is
    joined, once per origin whose view is kept. A write stays independent of the listing's length:
    an append touches the last block, a removal its own block (and the block list, one entry per
    ``BLOCK`` records, when that block empties). Blocks thinned by removals are regrouped by the next
    listing, which reads every record anyway.
    """

    BLOCK = 64
    __slots__ = ("_block_of", "_blocks")

    def __init__(self, items=()):
        """``items``: ``(key, Encoded)`` pairs in the listing's order."""
        self._blocks: list[_Block] = []
        self._block_of: dict = {}  # key -> its block
        for key, encoded in items:
            self._add(key, encoded.json)

    def __len__(self) -> int:
        return len(self._block_of)

    def __contains__(self, key) -> bool:
        return key in self._block_of

    def keys(self) -> list:
        """The records' keys, in the listing's order."""
        return [key for block in self._blocks for key in block.parts]

    def append(self, key, encoded: Encoded) -> None:
        """A record at the end of the listing (a key already listed is first removed)."""
        self.discard(key)
        self._add(key, encoded.json)

    def discard(self, key) -> None:
        """The record under ``key`` leaves the listing, if it is in it."""
        block = self._block_of.pop(key, None)
        if block is None:
            return
        del block.parts[key]
        block.joined = None
        if not block.parts:
            self._blocks.remove(block)

    def fragments(self) -> list:
        """The listing as joined fragments, one per block, in order: what orjson writes as its records."""
        if len(self._blocks) > 2 * (len(self._block_of) // self.BLOCK) + 2:
            self._regroup()
        fragments = []
        for block in self._blocks:
            joined = block.joined
            if joined is None:
                joined = block.joined = orjson.Fragment(b",".join(block.parts.values()))
            fragments.append(joined)
        return fragments

    def _add(self, key, json_bytes: bytes) -> None:
        blocks = self._blocks
        if blocks and len(blocks[-1].parts) < self.BLOCK:
            block = blocks[-1]
            block.joined = None
        else:
            block = _Block()
            blocks.append(block)
        block.parts[key] = json_bytes
        self._block_of[key] = block

    def _regroup(self) -> None:
        """Full blocks again, in the same order, after removals left many of them thin."""
        parts = [item for block in self._blocks for item in block.parts.items()]
        self._blocks.clear()
        self._block_of.clear()
        for key, json_bytes in parts:
            self._add(key, json_bytes)


class EncodedList(list):
    """A listing's records as ``orjson.Fragment`` s made by one codec: one record each, or a
    :class:`ListingView`'s blocks of several joined by commas (orjson writes a list subclass as a list,
    and a fragment as its bytes, with no call back into Python per record). Its length is the number of
    fragments, not of records."""

    __slots__ = ("token",)

    def __init__(self, codec: RecordCodec, encoded=()):
        super().__init__(e.fragment for e in encoded)
        self.token = codec.token

    @classmethod
    def of_fragments(cls, codec: RecordCodec, fragments: list) -> EncodedList:
        """From fragments of the records (``Encoded.fragment``, or ``ListingView.fragments()``)."""
        listing = cls(codec)
        listing.extend(fragments)
        return listing


def with_stand_ins(value):
    """A copy of the reply value with each encoded record replaced by its stand-in token."""
    kind = type(value)
    if kind is EncodedList:
        return value.token + _LIST if value else []
    if kind is Encoded:
        return value.token
    if kind is dict:
        return {k: with_stand_ins(v) for k, v in value.items()}
    if kind is list:
        return [with_stand_ins(v) for v in value]
    return value


def accepting_stand_ins(schema):
    """A copy of a response schema in which every node equal to a record schema also accepts its token."""
    if isinstance(schema, dict):
        for token, record_schema in _SCHEMAS.items():
            if schema == record_schema:
                return {"anyOf": [schema, {"type": "string", "enum": [token]}]}
            if schema.get("items") == record_schema and not any(key in schema for key in _COUNTED):
                copied = {k: accepting_stand_ins(v) for k, v in schema.items()}
                return {"anyOf": [copied, {"type": "string", "enum": [token + _LIST]}]}
        return {k: accepting_stand_ins(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [accepting_stand_ins(v) for v in schema]
    return schema
