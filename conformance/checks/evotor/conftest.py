"""The evotor checks' fixtures: products of a check's own (``made``, deleted at its end) and one image
uploaded once for the checks that only read it (``shared``: package scope, once per run)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pytest

from conformance.checks.kit import concurrently
from conformance.recording import RecordingClient

from .common import body_of, fresh_product, image_of, images_path, photo_png, upload


class Made:
    """Images a check created and has not yet seen deleted; the fixture deletes them at the end."""

    def __init__(self):
        self.images: dict[str, tuple[str, str]] = {}  # id -> (store, product)

    def note(self, response, store: str, product: str) -> None:
        if 200 <= response.status_code < 300:
            body = body_of(response)
            image_id = body.get("id") if isinstance(body, dict) else None
            if isinstance(image_id, str) and image_id:
                self.images[image_id] = (store, product)

    def gone(self, image_id: str) -> None:
        self.images.pop(image_id, None)

    def clean_up(self, http) -> None:
        def delete(item):
            image_id, (store, product) = item
            with contextlib.suppress(Exception):  # clean-up is best effort; the check's verdict stands
                http.delete(images_path(store, product, image_id))

        concurrently(delete, list(self.images.items()))


@pytest.fixture
def made(http):
    made = Made()
    yield made
    made.clean_up(http)


# -- one image shared by the read-only checks of one module run (fewer round trips) ---------------------
@dataclass
class Shared:
    store: str
    product: str
    data: bytes
    response: object  # the upload's response: each check decides with needs() whether it can go on

    def image(self) -> dict:
        return image_of(self.response, "the shared upload of the seed's example request")


@pytest.fixture(scope="package")
def shared(target, tls, response_schema):
    """The seed's example upload, once per run; checks that only read it share it. Never raises: a refused
    upload is each check's "not exercised"."""
    client = RecordingClient(
        base_url=target.base_url,
        headers=target.auth_headers(),
        timeout=30,
        verify=tls,
        on_response=response_schema,
    )
    made = Made()
    with client:
        store, product, data = target.store_id, fresh_product(), photo_png(1)
        response = upload(client, store, product, data)
        made.note(response, store, product)
        yield Shared(store, product, data, response)
        made.clean_up(client)
