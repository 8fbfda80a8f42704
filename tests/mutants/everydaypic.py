"""Broken everydaypic variants."""

from __future__ import annotations

from mockserver.apis.base import json_reply
from mockserver.errors import ApiError
from mockserver.images import ImageFacts

from . import Mutant


def _truncated_download(server):
    api = server.ctx.apis["everydaypic"]
    original = api.download_image

    async def download_image(id, **kw):
        body, status, headers = await original(id, **kw)
        return body[:-1], status, headers

    api.download_image = download_image


def _info_intersection(server):
    api = server.ctx.apis["everydaypic"]

    async def get_images_info(id=None, fileName=None, **_):
        ids, names = set(id or []), set(fileName or [])
        found = [
            r.public()
            for r in api.images.values()
            if (not ids or r.id in ids) and (not names or r.fileName in names)
        ]
        if not found:
            raise ApiError(404, "Image not found")
        return json_reply(found)

    api.get_images_info = get_images_info


def _accepts_non_images(server):
    """Validation forgotten: real images keep their facts, anything else is stored as a PNG."""
    api = server.ctx.apis["everydaypic"]
    original = api.image_facts

    def image_facts(data):
        try:
            return original(data)
        except ApiError:
            return ImageFacts("PNG", 0, 0)

    api.image_facts = image_facts


def _ids_collide(server):
    api = server.ctx.apis["everydaypic"]
    original = api._create
    counter = iter(range(10**9))

    def _create(data, file_name, name):
        record = original(data, file_name, name)
        n = next(counter)
        if n % 3 == 2:  # every third upload reuses the previous id, overwriting it
            previous = list(api.images)[-2]
            del api.images[record.id]
            record.id = previous
            api.images[previous] = record
        return record

    api._create = _create


def _info_dies_on_combining_marks(server):
    """A fileName index that cannot hold combining marks: such an upload is stored and answered, then
    looking it up by its fileName answers 500. (Only that lookup breaks: everydaypic has no delete, so a
    mutant breaking every listing would fail the other rules' checks that run after this one.)"""
    api = server.ctx.apis["everydaypic"]
    original = api.get_images_info

    async def get_images_info(id=None, fileName=None, **kwargs):
        names = set(fileName or [])
        if any("\u0301" in r.fileName for r in api.images.values() if r.fileName in names):
            raise RuntimeError("cannot look up a name with a combining mark")
        return await original(id=id, fileName=fileName, **kwargs)

    api.get_images_info = get_images_info


MUTANTS = [
    Mutant(
        "edp-truncated-download",
        "everydaypic",
        "EDP-05",
        "downloads lose their last byte",
        _truncated_download,
    ),
    Mutant(
        "edp-info-intersection",
        "everydaypic",
        "EDP-04",
        "info matches id AND fileName instead of OR",
        _info_intersection,
    ),
    Mutant(
        "edp-accepts-non-images",
        "everydaypic",
        "EDP-02",
        "any bytes are stored as an image",
        _accepts_non_images,
    ),
    Mutant(
        "edp-ids-collide", "everydaypic", "EDP-03", "every third upload reuses an existing id", _ids_collide
    ),
    Mutant(
        "edp-info-dies-on-combining-marks",
        "everydaypic",
        "ALL-06",
        "an accepted fileName with a combining mark answers 500 when looked up",
        _info_dies_on_combining_marks,
    ),
]
