"""image-upload: files in a cloud bucket behind a Bearer JWT, in a {message, data} envelope (IUP-01..05).

IUP-01 (the JWT) is checked by ``mockserver.auth.image_upload_token`` before any handler runs.
The seed never says an upload must be an image, so any bytes are stored; Pillow only picks the
content type the ``mediaLink`` serves.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from mockserver.apis.base import (
    BaseApi,
    StoredRecords,
    json_reply,
    read_upload,
    record_fields,
    request_origin,
)
from mockserver.errors import ApiError
from mockserver.images import InvalidImage, inspect_image
from mockserver.state.fixtures import seed_image
from mockserver.state.records import EncodedList, ListingView

MAX_FILE_BYTES = 20 * 1024 * 1024  # spec: file maxLength 20971520, x-decision (the seed is silent)
MAX_NAME_CHARS = 100  # of the sanitised original name inside a cloud file name
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MIME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$")


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def safe_name(original: str) -> str:
    """The last path component of ``original``, reduced to URL- and path-safe ASCII (never empty)."""
    base = re.split(r"[/\\]", original)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    base = _UNSAFE.sub("_", base).strip("._-")[-MAX_NAME_CHARS:].lstrip("._-")
    return base or "file"


def served_type(data: bytes, declared: str | None) -> str:
    """Pillow's MIME type for images; else the part's declared type when well-formed; else octet-stream."""
    try:
        return inspect_image(data).mime
    except InvalidImage:
        pass
    declared = (declared or "").split(";")[0].strip().lower()
    return declared if _MIME.match(declared) else "application/octet-stream"


@dataclass
class ImageRecord:
    fileName: str
    originalFileName: str
    fileLinkPath: str
    size: int
    createTime: str
    updateTime: str
    content_type: str


class ImageUploadApi(BaseApi):
    name = "image-upload"
    stored_records = StoredRecords("fileName", "fileName", container="images")
    record_schema = "ImageInformationDto"

    def reset(self) -> None:
        self.images: dict[str, ImageRecord] = self.undo.journaled_dict(ordered=True)  # in upload order

    def dump(self) -> dict:
        return {"images": [record_fields(r) for r in self.images.values()]}

    def restore(self, state: dict) -> None:
        images = ((r["fileName"], ImageRecord(**r)) for r in state.get("images", []))
        self.images = self.undo.journaled_dict(images, ordered=True)

    def apply_rows(self, scalars, changes) -> None:
        for _, key, raw in changes:
            if raw is None:
                self.images.pop(key, None)
            else:
                self.images[key] = ImageRecord(**raw)

    def seed(self, entries, images_dir) -> int:
        for entry in entries:
            data = seed_image(images_dir, entry["image"])
            self.store_upload(data, entry.get("originalFileName", entry["image"]), entry.get("contentType"))
        return len(entries)

    def encoded(self, record: ImageRecord, origin: str):
        """The record's ``ImageInformationDto``, validated and encoded once per record and origin (records
        are never changed in place: a new upload is a new record under a new name)."""
        return self.records.encoded(record.fileName, origin, lambda: self.public(record))

    def public(self, record: ImageRecord) -> dict:
        """``ImageInformationDto`` of the spec; ``mediaLink`` points at this mock's host."""
        return {
            "fileName": record.fileName,
            "originalFileName": record.originalFileName,
            "fileLinkPath": record.fileLinkPath,
            "mediaLink": self.file_url(record.fileName),
            "size": record.size,
            "createTime": record.createTime,
            "updateTime": record.updateTime,
        }

    def served_record(self, record_id) -> dict | None:
        record = self.images.get(record_id)
        return self.public(record) if record is not None else None

    def store_upload(self, data: bytes, original: str, declared_type: str | None) -> ImageRecord:
        """Synchronous: no other request can interleave between the name choice and the insert (ALL-04)."""
        file_name = f"{uuid.uuid4().hex}_{safe_name(original)}"  # IUP-02: unique per upload
        now = now_rfc3339()
        record = ImageRecord(
            file_name, original, f"images/{file_name}", len(data), now, now, served_type(data, declared_type)
        )
        self.store_bytes(file_name, data, record.content_type)  # 507 before the record exists
        self.images[file_name] = record
        return record

    def remove_record(self, record_id: str) -> bool:
        """The record, its encoded forms and its bytes go (IUP-04); False: no image of that name."""
        if record_id not in self.images:
            return False
        del self.images[record_id]
        self.records.forget(record_id)
        self.drop_bytes(record_id)
        return True

    # -- operations ----------------------------------------------------------------------------------
    async def upload_image(self, file=None, **_):
        """IUP-02: any bytes; ``originalFileName`` is the part's filename, ``fileName`` a fresh cloud name."""
        data = await read_upload(file, MAX_FILE_BYTES)  # IUP-05: missing file -> 400; > 20 MiB -> 413
        if not file.filename and not data:  # a browser's "no file chosen": empty filename, no content
            raise ApiError(400, "Missing required field: file")
        record = self.store_upload(data, file.filename or "", file.content_type)
        origin = request_origin()
        encoded = self.encoded(record, origin)
        self.records.extend_view(origin, self.images, record.fileName, encoded)
        return json_reply({"message": "Upload succeeded", "data": encoded})

    async def get_all_images(self, **_):
        """IUP-03: every stored image, in upload order: the origin's listing view, its records' JSON
        joined in blocks (no Python work per record), rebuilt in one pass when records were deleted or
        undone out of order."""
        origin = request_origin()
        view = self.records.view(origin, self.images)
        if view is None:
            kept, encoded = self.records.kept, self.encoded
            view = ListingView(  # one pass, no call per record kept
                (
                    name,
                    hit[1]
                    if (hit := kept.get(name)) is not None and hit[0] == origin
                    else encoded(record, origin),
                )
                for name, record in self.images.items()
            )
            self.records.keep_view(origin, self.images, view)
        images = EncodedList.of_fragments(self.records, view.fragments())
        return json_reply({"message": f"Found {len(view)} image(s)", "data": images})

    async def delete_image(self, FileName=None, **_):  # the spec's parameter name
        """IUP-04/05: the record and its bytes go; an unknown name is 404, and so is none (the seed makes
        FileName optional, so its absence is no malformed request: it names no stored image)."""
        if not FileName:
            raise ApiError(404, "Image not found: no FileName given")
        if not self.remove_record(FileName):
            raise ApiError(404, f"Image not found: {FileName}")
        return json_reply({"message": "Image deleted", "data": None})
