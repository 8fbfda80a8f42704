"""everydaypic: images with a name and a file name; no authentication (EDP-01..05)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from mockserver.apis.base import BaseApi, StoredRecords, json_reply, read_upload, record_fields
from mockserver.errors import ApiError
from mockserver.state.fixtures import seed_image

MAX_FILE_BYTES = 20 * 1024 * 1024  # spec: file maxLength, x-decision (the seed is silent)


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class ImageRecord:
    id: str
    name: str
    fileName: str
    created: str
    userID: str
    content_type: str

    def public(self) -> dict:
        """``model.Image`` of the spec."""
        return {
            "created": self.created,
            "fileName": self.fileName,
            "id": self.id,
            "name": self.name,
            "userID": self.userID,
        }


class EverydaypicApi(BaseApi):
    name = "everydaypic"
    stored_records = StoredRecords("id", "id", container="images")

    def reset(self) -> None:
        self.images: dict[str, ImageRecord] = self.undo.journaled_dict(ordered=True)
        # fileName -> its record's id, or the ids of the records sharing it
        self.by_file_name: dict[str, str | dict[str, None]] = self.undo.journaled_dict()
        self.indexed = 0  # records put in by _index: another count means the index may be stale

    def dump(self) -> dict:
        return {"images": [record_fields(r) for r in self.images.values()]}

    def restore(self, state: dict) -> None:
        self.reset()
        for raw in state.get("images", []):
            self._index(ImageRecord(**raw))

    def apply_rows(self, scalars, changes) -> None:
        for _, key, raw in changes:
            old = self.images.pop(key, None)
            if old is not None:
                self._unindex(old)
            if raw is not None:
                self._index(ImageRecord(**raw))

    def _unindex(self, record: ImageRecord) -> None:
        """The record is gone from ``images``: its fileName no longer leads to it."""
        named = self.by_file_name.get(record.fileName)
        if named == record.id:
            del self.by_file_name[record.fileName]
        elif isinstance(named, dict):
            named.pop(record.id, None)
        self.indexed -= 1

    def remove_record(self, record_id: str) -> bool:
        """The record, its fileName's index entry and its bytes go (the API itself deletes nothing)."""
        record = self.images.pop(record_id, None)
        if record is None:
            return False
        self._unindex(record)
        self.drop_bytes(record.id)
        return True

    def seed(self, entries, images_dir) -> int:
        for entry in entries:
            data = seed_image(images_dir, entry["image"])
            self.create_record(data, entry["fileName"], entry["name"])
        return len(entries)

    def create_record(self, data: bytes, file_name: str, name: str) -> ImageRecord:
        facts = self.image_facts(data)  # EDP-02: not an image -> 400, nothing stored
        record = ImageRecord(str(uuid.uuid4()), name, file_name, now_rfc3339(), "anonymous", facts.mime)
        self.store_bytes(record.id, data, facts.mime)  # 507 before the record exists
        self._index(record)
        return record

    def _index(self, record: ImageRecord) -> None:
        self.images[record.id] = record
        named = self.by_file_name.get(record.fileName)
        if named is None:  # most names are one record's: its id alone
            self.by_file_name[record.fileName] = record.id
        else:
            if isinstance(named, str):
                named = self.by_file_name[record.fileName] = self.undo.journaled_dict({named: None})
            named[record.id] = None
        self.indexed += 1

    # -- operations ----------------------------------------------------------------------------------
    async def create_image(self, body=None, file=None, **_):
        """EDP-01/03: the 200 body is an array holding the created image."""
        data = await read_upload(file, MAX_FILE_BYTES)
        fields = body or {}
        record = self.create_record(data, fields["fileName"], fields["name"])
        return json_reply([record.public()])

    async def get_images_info(self, id=None, fileName=None, **_):
        """EDP-04: union of id and fileName matches (no filter: all), in creation order; 404 when none.
        A filtered read looks its ids and names up (no walk of the store) and orders what it found by
        creation rank."""
        ids, names = set(id or []), set(fileName or [])
        records, images = self.images.values(), self.images
        if (ids or names) and len(images) == self.indexed:
            found_ids = {i for i in ids if i in images}
            for name in names:
                named = self.by_file_name.get(name, ())
                found_ids.update(
                    i
                    for i in ((named,) if isinstance(named, str) else named)
                    if (record := images.get(i)) is not None and record.fileName == name
                )
            records = [images[i] for i in sorted(found_ids, key=images.ranks.__getitem__)]
        elif ids or names:  # records were put in some other way (a test's): walk them
            records = [r for r in records if r.id in ids or r.fileName in names]
        found = [r.public() for r in records]
        if not found:
            raise ApiError(404, "Image not found")
        return json_reply(found)

    async def download_image(self, id, **_):
        """EDP-05: exactly the uploaded bytes, with the content type Pillow detected."""
        record = self.images.get(id)
        blob = self.ctx.blobs.get(self.blob_key(id)) if record else None
        if blob is None:
            raise ApiError(404, "Image not found")
        return blob.data, 200, {"Content-Type": blob.content_type}
