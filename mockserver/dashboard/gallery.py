"""The dashboard's gallery: each API's stored records with the image each one serves.

The APIs keep their records in shapes of their own; each handler's ``stored_records``
(mockserver.apis.base.StoredRecords) says where its ``dump()`` lists them, which field names one, and
which stored file (if any) holds its image; its ``served_record`` gives a record as its answers show it.
The page reloads the gallery after every write it sees, so a load reads each API's newest records from
the handler's container (``StoredRecords.newest``), at the cost of the records shown, not of the store.
The gallery shows the bytes the API serves for that record (sharinpix stores no bytes: its thumbnail
renditions are what it serves). Deleting goes through the handler's ``remove_record``, the state path
its own delete takes: the record and its index entries go, noted in the undo log like any write (so a
failed request undoes it and a durable store commits that one row), at a cost independent of the store's
size; the request is a write to that API, so replies kept from before are dropped.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote, urlsplit

GALLERY_LIMIT = 200  # records shown per API, newest last
INTERNAL_FIELDS = ("content_type",)  # what the mock keeps beside a record, not part of it


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


def gallery_item(ctx, api: str, record: dict) -> dict:
    handler = ctx.apis[api]
    kind = handler.stored_records
    record_id = str(record[kind.id_field])
    served = handler.served_record(record[kind.id_field])
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
        blob = ctx.blobs.get(handler.blob_key(key))
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
        kind = handler.stored_records
        if kind is None:
            continue
        count, shown = kind.newest(handler, GALLERY_LIMIT)
        apis[api] = {"count": count, "items": [gallery_item(ctx, api, r) for r in shown]}
    return apis


def delete_record(ctx, api: str, record_id: str) -> bool:
    """Remove one record and its stored file; False when the API holds no such record."""
    handler = ctx.apis.get(api)
    if handler is None or handler.stored_records is None:
        return False
    return handler.remove_record(record_id)
