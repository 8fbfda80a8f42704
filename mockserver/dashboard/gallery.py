"""The dashboard's gallery: each API's stored records with the image each one serves.

The APIs keep their records in shapes of their own; ``KINDS`` says, per API, where its ``dump()`` lists
them, which field names one, and which stored file (if any) holds its image. The gallery shows the bytes
the API serves for that record (sharinpix stores no bytes: its thumbnail renditions are what it serves).
Deleting goes through the API's own ``dump``/``restore``, the path fixtures and ``--state-dir`` reloads
take, so every index the API keeps is rebuilt consistently and replies kept from before are dropped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

GALLERY_LIMIT = 200  # records shown per API, newest last
INTERNAL_FIELDS = ("content_type",)  # what the mock keeps beside a record, not part of it


@dataclass(frozen=True)
class RecordKind:
    """How one API's ``dump()`` holds its records."""

    id_field: str
    blob_field: str | None  # the field naming the record's stored file; None: no bytes are stored
    grouped_by: str | None = None  # sharinpix: {"albums": {album: [records]}}
    served: Callable | None = None  # (handler, record id) -> the record as the API's answers show it

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


def _evotor_served(handler, record_id):
    record = handler.images.get(record_id)
    return record.public(handler.file_url(record.id)) if record is not None else None


def _image_upload_served(handler, record_id):
    record = handler.images.get(record_id)
    return handler.public(record) if record is not None else None


def _tagged_images_served(handler, record_id):
    image = handler.images.get(int(record_id))
    return handler._public(image) if image is not None else None  # the body of GET /v1/images/{id}


# everydaypic's and sharinpix's stored records are their answers already (less INTERNAL_FIELDS).
KINDS = {
    "everydaypic": RecordKind("id", "id"),
    "evotor": RecordKind("id", "id", served=_evotor_served),
    "image-upload": RecordKind("fileName", "fileName", served=_image_upload_served),
    "sharinpix": RecordKind("id", None, grouped_by="albums"),
    "tagged-images": RecordKind("id", "id", served=_tagged_images_served),
}


def image_path(api: str, key: str) -> str:
    return f"/__mock__/ui/api/images/{api}/{quote(key, safe='/')}"


def _rendition_path(api: str, url: str | None) -> str | None:
    """A rendition URL the API handed out (``/__mock__/files/<api>/<key>``), as the dashboard's image
    path for the same key: the page's own image loads stay out of the request journal."""
    if not isinstance(url, str) or not url:
        return None
    prefix = f"/__mock__/files/{api}/"
    path = urlsplit(url).path
    return image_path(api, path[len(prefix) :]) if path.startswith(prefix) else None


def gallery_item(ctx, api: str, kind: RecordKind, record: dict) -> dict:
    record_id = str(record[kind.id_field])
    served = kind.served(ctx.apis[api], record[kind.id_field]) if kind.served is not None else None
    shown = served or {k: v for k, v in record.items() if k not in INTERNAL_FIELDS}
    item = {
        "api": api,
        "id": record_id,
        "record": shown,
        "thumbnail": None,
        "full": None,
        "media_type": record.get("content_type"),
        "size": None,
        "sha256": None,
    }
    if kind.blob_field is not None:
        key = str(record[kind.blob_field])
        blob = ctx.blobs.get(ctx.apis[api].blob_key(key))
        if blob is not None:
            item["thumbnail"] = item["full"] = image_path(api, key)
            item["media_type"] = blob.content_type
            item["size"] = len(blob.data)
            item["sha256"] = hashlib.sha256(blob.data).hexdigest()
    else:  # sharinpix: the renditions it serves
        thumbnails = record.get("thumbnails") or {}
        item["thumbnail"] = _rendition_path(api, thumbnails.get("large") or thumbnails.get("mini"))
        item["full"] = _rendition_path(api, thumbnails.get("full") or thumbnails.get("original"))
        item["media_type"] = f"image/{record.get('format') or 'unknown'}"
        size = record.get("size")
        item["size"] = int(size) if isinstance(size, str | int) and str(size).isdigit() else None
    return item


def gallery(ctx) -> dict:
    """Per API: its newest ``GALLERY_LIMIT`` records and how many it holds."""
    apis = {}
    for api, handler in ctx.apis.items():
        kind = KINDS.get(api)
        if kind is None:
            continue
        records = kind.records(handler.dump())
        shown = records[-GALLERY_LIMIT:]
        apis[api] = {"count": len(records), "items": [gallery_item(ctx, api, kind, r) for r in shown]}
    return apis


def delete_record(ctx, api: str, record_id: str) -> bool:
    """Remove one record and its stored file; False when the API holds no such record."""
    handler, kind = ctx.apis.get(api), KINDS.get(api)
    if handler is None or kind is None:
        return False
    state = handler.dump()
    record = next((r for r in kind.records(state) if str(r[kind.id_field]) == record_id), None)
    remaining = kind.without(state, record_id)
    if record is None or remaining is None:
        return False
    handler.restore(remaining)
    if kind.blob_field is not None:
        handler.drop_bytes(str(record[kind.blob_field]))
    return True
