"""toy: things with a name and an image, sent as JSON with the image base64-encoded; no authentication
(TOY-01, TOY-02)."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass

from mockserver.apis.base import BaseApi, StoredRecords, json_reply, record_fields
from mockserver.errors import ApiError
from mockserver.images import InvalidImage, inspect_image
from mockserver.state.fixtures import seed_image


@dataclass
class ThingRecord:
    id: str
    name: str
    size: int
    content_type: str

    def public(self) -> dict:
        """``Thing`` of the spec."""
        return {"id": self.id, "name": self.name, "size": self.size}


def decoded_image(text: str) -> bytes:
    """The bytes ``image_base64`` carries; text that is not base64 is the caller's 400."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(400, f"image_base64 is not base64: {exc}") from exc


def media_type_of(data: bytes) -> str:
    """The image's type when it is one the mock can decode (the dashboard shows it); else plain bytes: the
    seed asks for base64, not for a particular image format."""
    try:
        return inspect_image(data).mime
    except InvalidImage:
        return "application/octet-stream"


class ToyApi(BaseApi):
    name = "toy"
    stored_records = StoredRecords("id", "id")

    def reset(self) -> None:
        # A journaled dict: a failed write is undone at the cost of what it touched (BaseApi.snapshot).
        self.things: dict[str, ThingRecord] = self.undo.journaled_dict(ordered=True)

    def dump(self) -> dict:
        return {"images": [record_fields(r) for r in self.things.values()]}

    def restore(self, state: dict) -> None:
        self.reset()
        for raw in state.get("images", []):
            self.things[raw["id"]] = ThingRecord(**raw)

    def seed(self, entries, images_dir) -> int:
        for entry in entries:
            self.create_record(entry["name"], seed_image(images_dir, entry["image"]))
        return len(entries)

    def create_record(self, name: str, data: bytes) -> ThingRecord:
        record = ThingRecord(str(uuid.uuid4()), name, len(data), media_type_of(data))
        self.store_bytes(record.id, data, record.content_type)  # 507 before the record exists
        self.things[record.id] = record
        return record

    # -- operations ----------------------------------------------------------------------------------
    async def create_thing(self, body=None, **_):
        """TOY-01: 201 with the new id, the name as sent and the decoded image's size."""
        record = self.create_record(body["name"], decoded_image(body["image_base64"]))
        return json_reply(record.public(), 201)

    async def list_things(self, **_):
        """TOY-02: every thing, oldest first."""
        return json_reply([r.public() for r in self.things.values()])

    async def get_thing(self, id, **_):
        """TOY-02: the stored thing, or 404 in the toy's error format."""
        record = self.things.get(id)
        if record is None:
            raise ApiError(404, "no thing has that id")
        return json_reply(record.public())
