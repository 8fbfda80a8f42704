"""The uploaded bytes of every API, under one storage quota (``--max-store-bytes``)."""

from __future__ import annotations

from dataclasses import dataclass


class StoreFull(Exception):
    """Storing these bytes would exceed the configured quota; the API answers 507."""


@dataclass(frozen=True)
class Blob:
    data: bytes
    content_type: str


class BlobStore:
    """A dict with a byte budget.

    All mutations are synchronous, so on one event loop a check-then-store can never interleave with
    another request: concurrent uploads cannot overrun the quota or overwrite each other.
    """

    def __init__(self, max_bytes: int | None = None):
        self.max_bytes = max_bytes
        self._blobs: dict[str, Blob] = {}
        self.used_bytes = 0

    def put(self, key: str, data: bytes, content_type: str) -> None:
        old = self._blobs.get(key)
        new_total = self.used_bytes - (len(old.data) if old else 0) + len(data)
        if self.max_bytes is not None and new_total > self.max_bytes:
            raise self._full(len(data))
        self._blobs[key] = Blob(data, content_type)
        self.used_bytes = new_total

    def _full(self, size: int) -> StoreFull:
        return StoreFull(
            f"the mock's storage quota of {self.max_bytes} bytes is exhausted "
            f"({self.used_bytes} bytes stored, {size} more requested); "
            "delete images, POST /__mock__/reset, or restart with a larger --max-store-bytes"
        )

    def get(self, key: str) -> Blob | None:
        return self._blobs.get(key)

    def delete(self, key: str) -> None:
        old = self._blobs.pop(key, None)
        if old is not None:
            self.used_bytes -= len(old.data)

    def clear(self) -> None:
        self._blobs.clear()
        self.used_bytes = 0

    def __len__(self) -> int:
        return len(self._blobs)

    def items(self):
        return self._blobs.items()
