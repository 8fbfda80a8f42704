"""evotor: product images of a store, at most one per product, PNG 300x300 only (EVT-01..09).

Upload checks, in this order (the first failing one answers; nothing is stored on any failure):

1. 401 - no ``X-Authorization`` (Connexion's security handler, before the handler runs; EVT-01).
2. 413 - ``datafile`` larger than 5242800 bytes (read_upload; EVT-03).
3. 400 - ``datafile`` missing or a text field, not decodable by Pillow, not PNG (Pillow's format, never the
   declared content type or file name), or not exactly 300x300 pixels (EVT-03).
4. 409 - the product (this store and product) already has an image; the first stays unchanged (EVT-04).
5. 507 - the mock's storage quota (--max-store-bytes) is exhausted (ALL-01).

So a bad file is reported as such even when the product already has an image: the client learns what is
wrong with its file first. Every ``await`` (reading and closing the upload) comes before any state is
read, so the conflict check and the store run without interleaving: of two concurrent uploads to one
product exactly one wins and the other gets 409 (ALL-04).

Images are keyed by id and indexed by (store-id, product-id) (EVT-08); an id looked up under another store
or product is a 404. ``url`` is the mock's own file URL, serving exactly the uploaded bytes as image/png
until the image is deleted (EVT-09).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from mockserver.apis.base import BaseApi, StoredRecords, json_reply, read_upload, record_fields
from mockserver.errors import ApiError
from mockserver.state.fixtures import seed_image

MAX_FILE_BYTES = 5242800  # the seed: "Объём не более 5242800 байт"
WIDTH = HEIGHT = 300  # the seed: "Разрешение – 300х300 пикселей"


def now_evotor() -> str:
    """The seed's shape: ``2018-09-04T13:31:01.104+0000`` (UTC, milliseconds, offset without colon)."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


def user_id_for(token: str) -> str:
    """A stable account id per token, in the seed's shape ``02-200000000000033`` (15 digits)."""
    digits = int.from_bytes(hashlib.sha256(token.encode()).digest()[:8], "big") % 10**15
    return f"02-{digits:015d}"


@dataclass
class ImageRecord:
    id: str
    user_id: str
    store_id: str
    product_id: str
    file_size: int
    created_at: str
    updated_at: str

    def public(self, url: str) -> dict:
        """The spec's ``Image``."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "store_id": self.store_id,
            "product_id": self.product_id,
            "url": url,
            "meta": {"extension": "png", "file_size": self.file_size, "width": WIDTH, "height": HEIGHT},
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class EvotorApi(BaseApi):
    name = "evotor"
    stored_records = StoredRecords("id", "id", container="images")

    def reset(self) -> None:
        self.images: dict[str, ImageRecord] = self.undo.journaled_dict(ordered=True)
        self.by_product: dict[tuple[str, str], str] = self.undo.journaled_dict()  # (store, product) -> id

    def dump(self) -> dict:
        return {"images": [record_fields(r) for r in self.images.values()]}

    def restore(self, state: dict) -> None:
        self.reset()
        for raw in state.get("images", []):
            record = ImageRecord(**raw)
            self.images[record.id] = record
            self.by_product[(record.store_id, record.product_id)] = record.id

    def apply_rows(self, scalars, changes) -> None:
        for _, key, raw in changes:
            old = self.images.pop(key, None)
            if old is not None:
                self.by_product.pop((old.store_id, old.product_id), None)
            if raw is not None:
                record = self.images[key] = ImageRecord(**raw)
                self.by_product[(record.store_id, record.product_id)] = key

    def seed(self, entries, images_dir) -> int:
        for entry in entries:
            data = seed_image(images_dir, entry["image"])
            if len(data) > MAX_FILE_BYTES:
                raise ApiError(413, f"seed image {entry['image']} is larger than {MAX_FILE_BYTES} bytes")
            self.create_record(data, entry["store_id"], entry["product_id"], entry["token"])
        return len(entries)

    # -- shared paths ----------------------------------------------------------------------------------
    def create_record(self, data: bytes, store_id: str, product_id: str, token: str) -> ImageRecord:
        """Synchronous from here on (ALL-04): validate, check the one-image rule, store, record."""
        facts = self.image_facts(data)  # 400: not a decodable image
        if facts.format != "PNG":
            raise ApiError(400, f"the image must be a PNG; the file is {facts.format}")
        if (facts.width, facts.height) != (WIDTH, HEIGHT):
            size = f"{facts.width}x{facts.height}"
            raise ApiError(400, f"the image must be {WIDTH}x{HEIGHT} pixels; it is {size}")
        existing = self.by_product.get((store_id, product_id))
        if existing is not None:
            raise ApiError(409, f"the product already has an image ({existing}); delete it before uploading")
        now = now_evotor()
        record = ImageRecord(str(uuid.uuid4()), user_id_for(token), store_id, product_id, len(data), now, now)
        self.store_bytes(record.id, data, "image/png")  # 507 before the record exists
        self.images[record.id] = record
        self.by_product[(store_id, product_id)] = record.id
        return record

    def find_record(self, store_id: str, product_id: str, image_id: str) -> ImageRecord:
        record = self.images.get(image_id)
        if record is None or (record.store_id, record.product_id) != (store_id, product_id):
            raise ApiError(404, "Image not found")
        return record

    def remove_record(self, record_id: str) -> bool:
        record = self.images.get(record_id)
        if record is None:
            return False
        self._remove(record)
        return True

    def _remove(self, record: ImageRecord) -> None:
        """The record, its product's slot and its file go (EVT-07)."""
        del self.images[record.id]
        self.by_product.pop((record.store_id, record.product_id), None)
        self.drop_bytes(record.id)

    def public_record(self, record: ImageRecord) -> dict:
        return record.public(self.file_url(record.id))

    def served_record(self, record_id) -> dict | None:
        record = self.images.get(record_id)
        return self.public_record(record) if record is not None else None

    # -- operations ----------------------------------------------------------------------------------
    async def upload_product_image(self, store_id, product_id, datafile=None, token_info=None, **_):
        """EVT-02/03/04: 200 with the image object; checks in the order the module docstring gives."""
        data = await read_upload(datafile, MAX_FILE_BYTES)  # every await comes before any state is read
        token = (token_info or {}).get("sub", "")
        record = self.create_record(data, store_id, product_id, token)
        return json_reply(self.public_record(record))

    async def list_product_images(self, store_id, product_id, **_):
        """EVT-05/08: the product's image (at most one) under this store."""
        image_id = self.by_product.get((store_id, product_id))
        items = [self.public_record(self.images[image_id])] if image_id is not None else []
        return json_reply({"items": items, "paging": {}})

    async def get_product_image(self, store_id, product_id, image_id, **_):
        """EVT-06/08: the image object; unknown or another product's/store's id is 404."""
        return json_reply(self.public_record(self.find_record(store_id, product_id, image_id)))

    async def delete_product_image(self, store_id, product_id, image_id, **_):
        """EVT-07: 204 without a body; the record, the product slot and the file URL all go."""
        self._remove(self.find_record(store_id, product_id, image_id))
        return None, 204
