"""What every API handler shares: its blobs, its file URLs, and the state operations the mock offers."""

from __future__ import annotations

import copy
import functools
import re
import typing as t
from dataclasses import dataclass
from itertools import chain, islice

from starlette.datastructures import URL
from starlette.responses import Response

from mockserver.connexion_ext.request_scope import connexion_scope
from mockserver.errors import ApiError
from mockserver.images import ImageFacts, InvalidImage, decode_off_loop, inspect_image
from mockserver.request_state import CURRENT_SCOPE, MOCK_CONTEXT, ORIGIN
from mockserver.state.blobs import StoreFull
from mockserver.state.records import RecordCodec
from mockserver.state.undo import JournaledDict, UndoLog, note_rebinding, touched_items, touched_keys

if t.TYPE_CHECKING:
    from mockserver.state.context import MockContext


WHOLE_DUMP = "dump"  # the one row of an API that names no stored containers: its whole dump()


def snake_case(operation_id: str) -> str:
    """``createImage`` / ``create-image`` / ``post__UploadImage`` -> ``create_image``."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", operation_id)
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return name.strip("_").lower()


def _announcing(method):
    """The state operation, then a word to the context that this API's records changed."""

    @functools.wraps(method)
    def announced(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        finally:
            if self.records is not None:  # records may be rebuilt under the same keys
                self.records.forget()
            self.ctx.state_changed(self.name)

    return announced


def record_fields(record) -> dict:
    """``dataclasses.asdict`` for the APIs' flat records, several times faster (``dump()`` runs on every
    write under ``--state-dir``): a copy of the fields, lists copied, no recursion into other types."""
    return {key: list(value) if isinstance(value, list) else value for key, value in vars(record).items()}


def _as_dumped(record) -> dict:
    """A record as ``dump()`` gives it: the flat APIs' dataclasses as their fields, a dict copied."""
    return copy.deepcopy(record) if isinstance(record, dict) else record_fields(record)


@dataclass(frozen=True)
class StoredRecords:
    """How an API's ``dump()`` holds its records: what the dashboard's gallery lists (mockserver.dashboard);
    it deletes through the handler's :meth:`BaseApi.remove_record`."""

    id_field: str
    blob_field: str | None  # the field naming the record's stored file; None: no bytes are stored
    grouped_by: str | None = None  # sharinpix: {"albums": {album: [records]}}
    # The handler's attribute holding its records in upload order (grouped: per group), read by
    # ``newest`` without a dump(); None: ``newest`` reads dump(), at the cost of every record.
    container: str | None = None

    def newest(self, handler, limit: int) -> tuple[int, list[dict]]:
        """How many records the handler holds, and its newest ``limit`` as ``dump()`` lists them (oldest
        first), at the cost of those ``limit`` alone: the gallery reloads after every write it sees, and a
        dump() of 100,000 records would hold every other request back for its duration."""
        if self.container is None:
            records = self.records(handler.dump())
            return len(records), records[-limit:] if limit else []
        held = getattr(handler, self.container)
        if self.grouped_by:
            groups = list(held.values())
            count = sum(len(group) for group in groups)
            newest_first = chain.from_iterable(reversed(group.values()) for group in reversed(groups))
        else:
            count, newest_first = len(held), reversed(held.values())
        shown = [_as_dumped(record) for record in islice(newest_first, limit)]
        shown.reverse()
        return count, shown

    def records(self, state: dict) -> list[dict]:
        if self.grouped_by:
            return [r for group in state.get(self.grouped_by, {}).values() for r in group]
        return list(state.get("images", []))

    def without(self, state: dict, record_id: str) -> dict | None:
        """The state with that record gone; None when no record has that id."""
        if self.grouped_by:
            groups = state.get(self.grouped_by, {})
            for name, group in groups.items():
                kept = [r for r in group if str(r[self.id_field]) != record_id]
                if len(kept) != len(group):
                    return {**state, self.grouped_by: {**groups, name: kept}}
            return None
        images = state.get("images", [])
        kept = [r for r in images if str(r[self.id_field]) != record_id]
        return {**state, "images": kept} if len(kept) != len(images) else None


class BaseApi:
    """An API's handler: one method per operation of its spec (``snake_case(operationId)``), and the hooks
    below, on which the operations are built.

    Subclasses' ``reset``, ``restore`` and ``seed`` tell the context when they run, wherever called
    from (a reset, fixtures, a reload under ``--state-dir``, a test): replies kept from before are dropped.

    **Hooks.** The tests' broken mutants and legal variants (tests/power/mutants, tests/power/variants)
    change a
    running handler only through these, or through its operation methods, by setting an attribute of that
    name on the handler object (the operation methods are looked up per call for that reason); or they wrap
    the app. Renaming or changing the signature of one is a change to that contract.

    - every API: ``snapshot``, ``rollback``, ``settle`` (record one write, undo it or let it stand:
      ``mockserver.layers.atomic``, and the durable stores' transactions); ``stored_rows``, ``row_json``,
      ``row_scalars``, ``touched_records``, ``record_row``, ``record_rows``, ``state_of_rows``,
      ``apply_rows`` (the records as the durable stores keep them, one row each: mockserver.state.rows);
      ``create_record`` (make and store one record from an accepted
      write; image-upload: ``store_upload``), ``remove_record`` (delete one, as the API's own delete
      does: the dashboard's gallery), ``public_record`` (a record as the API answers it:
      evotor, tagged-images);
    - evotor: ``find_record`` (a product's image, or 404);
    - tagged-images: ``find_image``, ``find_tag`` (or 404), ``new_tag``, ``tag_ids_for`` (tag names to
      ids), ``encoded_record``, ``created_reply``, ``signed_url``, ``check_signature`` (a signed upload or
      download URL), ``page_of_images``, ``filtered_page`` (a listing's page).
    """

    name: str = ""
    record_schema: str | None = None  # the component schema of the records its listings return
    records: RecordCodec | None = None  # their encoded forms, validated when made (mockserver.state.records)
    stored_records: StoredRecords | None = None  # how dump() holds them (the dashboard's gallery)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in ("reset", "restore", "seed"):
            if name in cls.__dict__:
                setattr(cls, name, _announcing(cls.__dict__[name]))

    def __init__(self, ctx: MockContext):
        object.__setattr__(self, "undo", UndoLog())
        self.ctx = ctx
        if self.record_schema:
            self.records = RecordCodec(self.name, ctx.info(self.name).spec, self.record_schema)
        self.reset()

    # -- state -------------------------------------------------------------------------------------
    def reset(self) -> None:
        raise NotImplementedError

    def dump(self) -> dict:
        """The API's records as JSON (bytes excluded): what ``GET /__mock__/state`` shows."""
        raise NotImplementedError

    def restore(self, state: dict) -> None:
        """Inverse of :meth:`dump`; blobs are restored by the caller."""
        raise NotImplementedError

    def seed(self, entries: list[dict], images_dir) -> int:
        """Preload records from fixture entries through the same code paths as real requests."""
        raise NotImplementedError

    def remove_record(self, record_id: str) -> bool:
        """Remove one record, named by its id as the dashboard's gallery shows it (text), and its stored
        file; False when the API holds no such record. The APIs override it with the path their own delete
        takes: only that record and its index entries change, noted in the undo log, so the write costs the
        same at any store size and a durable store commits that one row. This default (for an API without
        one) restores ``dump()`` without the record: correct for any API, at the cost of every record."""
        kind = self.stored_records
        if kind is None:
            return False
        state = self.dump()
        record = next((r for r in kind.records(state) if str(r[kind.id_field]) == record_id), None)
        remaining = kind.without(state, record_id)
        if record is None or remaining is None:
            return False
        self.restore(remaining)
        if kind.blob_field is not None:
            self.drop_bytes(str(record[kind.blob_field]))
        return True

    def __setattr__(self, name, value) -> None:
        """While a write is recorded, an attribute it assigns (a counter, a container a reset replaces) is
        noted with its old value, so that :meth:`rollback` puts it back."""
        note_rebinding(self.__dict__.get("undo"), self, name)
        object.__setattr__(self, name, value)

    def snapshot(self):
        """Start recording one write so that :meth:`rollback` can undo it (``mockserver.layers.atomic``):
        the write's cost stays independent of the store's size, because only what it changes is noted
        (``mockserver.state.undo``: the records' containers are ``JournaledDict`` s made by
        ``self.undo.journaled_dict``, and any other in-place change is noted with ``self.undo.note``).
        Returns what :meth:`rollback` and :meth:`settle` are given."""
        self.undo.start()
        return self.undo

    def rollback(self, snapshot) -> None:
        """Undo the write recorded since :meth:`snapshot`; encoded forms of the records it touched go."""
        touched = snapshot.rollback()
        if self.records is not None:
            keys = touched_keys(touched)
            if keys is None:
                self.records.forget()
            for key in keys or ():
                self.records.forget(key)

    def settle(self, snapshot) -> None:
        """The write recorded since :meth:`snapshot` stands: stop recording."""
        snapshot.settle()

    def served_record(self, record_id) -> dict | None:
        """A record as the API's answers show it (the dashboard's gallery); None: as ``dump()`` holds it."""
        return None

    # -- per-record rows (``--state-dir`` and ``--store``: mockserver.state.rows) -------------------------
    def stored_rows(self) -> dict:
        """The journaled dicts whose entries are the API's records, each stored as one row, under the name
        ``dump()`` gives their list; everything else it keeps is rebuilt from them (indexes) or is a
        scalar (:meth:`row_scalars`). Default: ``images``, when it is one; none: the API's whole ``dump()``
        is stored as one row at every write (correct, at a cost that grows with the store)."""
        images = self.__dict__.get("images")
        return {"images": images} if isinstance(images, JournaledDict) else {}

    def row_json(self, container: str, value):
        """A record as its row stores it: as ``dump()`` lists it."""
        return record_fields(value)

    def row_scalars(self) -> dict:
        """What ``dump()`` holds besides the records' lists (counters): stored in the API's own row."""
        return {}

    def touched_records(self, entries: list[tuple]) -> list[tuple[str, object]] | None:
        """(container, key) of each record a write recorded since :meth:`snapshot` changed, grouped by
        container in :meth:`stored_rows` order (tags before the images that carry them), each container's
        in the order the write touched them; None when it replaced a whole container (a reset)."""
        items = touched_items(entries)
        containers = self.stored_rows()
        if items is None or not containers:
            return None
        names = {id(journaled): name for name, journaled in containers.items()}
        rank = {name: i for i, name in enumerate(containers)}
        found = [(names[id(j)], key) for j, key, _ in items if id(j) in names]
        return sorted(found, key=lambda row: rank[row[0]])

    def record_row(self, container: str, key):
        """The stored form of one record; None when it is gone."""
        value = self.stored_rows()[container].get(key)
        return None if value is None else self.row_json(container, value)

    def record_rows(self):
        """Every record as (container, key, stored form), in the containers' order."""
        containers = self.stored_rows()
        if not containers:
            yield WHOLE_DUMP, "", self.dump()
        for name, journaled in containers.items():
            for key, value in journaled.items():
                yield name, key, self.row_json(name, value)

    def state_of_rows(self, scalars: dict, containers: dict[str, list]) -> dict:
        """The ``dump()`` that the stored rows make, for :meth:`restore`."""
        if WHOLE_DUMP in containers:
            return containers[WHOLE_DUMP][0]
        return {**scalars, **containers}

    def apply_rows(self, scalars: dict, changes: list[tuple[str, object, object]]) -> None:
        """Rows another process wrote: (container, key, stored form, or None when deleted), oldest first;
        each record and the indexes built on it change, nothing else (the rest of the store is as this
        process last loaded it). Without an API's own, the whole state is rebuilt (correct, O(records))."""
        state = self.dump()
        by_key = {name: {} for name in self.stored_rows()}
        for name, key, value in self.record_rows():
            by_key[name][key] = value
        for name, key, value in changes:
            if value is None:
                by_key[name].pop(key, None)
            else:
                by_key[name][key] = value
        state.update(scalars)
        state.update({name: list(rows.values()) for name, rows in by_key.items()})
        self.restore(state)

    # -- blobs -------------------------------------------------------------------------------------
    def blob_key(self, key: str) -> str:
        return f"{self.name}/{key}"

    def store_bytes(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self.ctx.blobs.put(self.blob_key(key), data, content_type)
        except StoreFull as exc:
            raise ApiError(507, str(exc)) from exc

    def drop_bytes(self, key: str) -> None:
        self.ctx.blobs.delete(self.blob_key(key))

    @staticmethod
    def image_facts(data: bytes) -> ImageFacts:
        try:
            return inspect_image(data)
        except InvalidImage as exc:
            raise ApiError(400, f"the file is not a valid image: {exc}") from exc

    # -- file URLs (served under /__mock__/files/, outside the contract) ------------------------------
    def file_path(self, key: str) -> str:
        return f"/__mock__/files/{self.name}/{key}"

    def file_url(self, key: str, request=None) -> str:
        return f"{request_origin(request)}{self.file_path(key)}"

    async def serve_file(self, key: str, request) -> Response:
        blob = self.ctx.blobs.get(self.blob_key(key))
        if blob is None:
            raise ApiError(404, "no such file")
        return Response(blob.data, media_type=blob.content_type)

    async def receive_file(self, key: str, request) -> Response:
        raise ApiError(405, "this API's file URLs are read-only")


def request_origin(request=None) -> str:
    """``scheme://host`` of the request being served, worked out once per request and kept in its scope.

    Listings build one URL per record, and each ``connexion.request`` access builds a new request object.
    """
    scope = request.scope if request is not None else CURRENT_SCOPE.get(None) or connexion_scope()
    origin = scope.get(ORIGIN)
    if origin is None:
        origin = _public_origin(scope) or _own_origin(scope)
        origin = _ORIGINS.setdefault(origin, origin) if len(_ORIGINS) < 256 else origin
        scope[ORIGIN] = origin
    return origin


_ORIGINS: dict[str, str] = {}  # one string object per origin: every record's encoded form keeps its own


def _own_origin(scope) -> str:
    """As Starlette's ``URL(scope=...)`` has it (the Host header, else the server's address), without
    building the whole URL."""
    for name, value in scope.get("headers", ()):
        if name == b"host":
            return f"{scope.get('scheme', 'http')}://{value.decode('latin-1')}"
    url = URL(scope=scope)
    return f"{url.scheme}://{url.netloc}"


def _public_origin(scope) -> str | None:
    """``--public-url``, else ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` (a dev proxy's; the host only with
    ``--trust-proxy``), else None."""
    ctx = scope.get(MOCK_CONTEXT)
    public = ctx.settings.public_url if ctx is not None else None
    if public:
        return public
    headers = dict(scope.get("headers", ()))
    host, proto = headers.get(b"x-forwarded-host"), headers.get(b"x-forwarded-proto")
    # Anyone can send X-Forwarded-Host (mockserver.layers.guard).
    if ctx is None or not ctx.settings.trust_proxy:
        host = None
    if host is None and proto is None:
        return None
    if host is None:
        host = headers.get(b"host", b"localhost")
    scheme = _first_hop(proto) if proto else scope.get("scheme", "http")
    return f"{scheme}://{_first_hop(host)}"


def _first_hop(value: bytes) -> str:
    """A forwarded header's first value: the one the client's own proxy set."""
    return value.decode("latin-1").split(",")[0].strip()


JSON = {"Content-Type": "application/json"}


def json_reply(body, status: int = 200, headers: dict | None = None):
    """Connexion needs the media type named when an operation documents several (see STACK-NOTES)."""
    return body, status, {**JSON, **(headers or {})}


async def read_upload(upload, limit: int | None = None) -> bytes:
    """Bytes of a multipart file field; a text field where a file belongs is a 400."""
    if upload is None:
        raise ApiError(400, "the file field is required")
    if isinstance(upload, str | bytes):
        raise ApiError(400, "the file field must be a file part (with a filename), not a text value")
    data = await upload.read()
    if limit is not None and len(data) > limit:
        raise ApiError(413, f"the file is {len(data)} bytes; the limit is {limit} bytes")
    await decode_off_loop(data)  # the handler's image_facts(data) then costs nothing on the event loop
    return data
