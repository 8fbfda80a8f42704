"""A tiny client for the Tagged Image Manager API (``tagged-images``): what a frontend team would ship.

gallery = Gallery("https://images.example.com/v1")
image = gallery.upload("cat.png", data, tags=["pets"])
assert gallery.download(image.id) == data
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import httpx

__all__ = ["Gallery", "GalleryError", "Image"]


class GalleryError(Exception):
    """The API refused a request; ``status`` and ``message`` come from its ``{code, message}`` body."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Image:
    id: int
    filename: str
    tags: tuple[str, ...]
    size: int | None

    @classmethod
    def from_record(cls, record: dict) -> Image:
        tags = tuple(tag["name"] for tag in record.get("tags", []))
        return cls(record["id"], record["filename"], tags, record.get("size"))


class Gallery:
    """``base_url`` includes ``/v1``; or pass a ready ``httpx.Client`` (tests pass the mock's)."""

    def __init__(self, base_url: str | None = None, *, client: httpx.Client | None = None, timeout=10.0):
        if client is None:
            if base_url is None:
                raise ValueError("give a base_url or a client")
            client = httpx.Client(base_url=base_url, timeout=timeout)
        self._http = client

    def upload(self, filename: str, data: bytes, tags=()) -> Image:
        body = {"filename": filename, "tags": list(tags), "image_data": base64.b64encode(data).decode()}
        created = self._json(self._http.post("/upload", json=body))  # {id, upload_url}
        return self.get(created["id"])

    def get(self, image_id: int) -> Image:
        return Image.from_record(self._json(self._http.get(f"/images/{image_id}")))

    def list(self, tag: str | None = None, limit: int = 20) -> list[Image]:
        """Newest first; with ``tag``, only the images carrying exactly that tag."""
        if tag is None:
            page = self._json(self._http.get("/images", params={"limit": limit}))
        else:
            page = self._json(self._http.get("/search/images", params={"exact_tags": tag, "limit": limit}))
        return [Image.from_record(record) for record in page["results"]]

    def download(self, image_id: int) -> bytes:
        record = self._json(self._http.get(f"/images/{image_id}"))
        response = self._http.get(record["url"])  # a signed URL, possibly on another host
        if response.is_error:
            raise GalleryError(response.status_code, response.text)
        return response.content

    def delete(self, image_id: int) -> None:
        self._json(self._http.delete(f"/images/{image_id}"))

    @staticmethod
    def _json(response: httpx.Response):
        if response.is_error:
            try:
                message = response.json()["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text
            raise GalleryError(response.status_code, message)
        return response.json() if response.content else None
