"""Broken toy variants."""

from __future__ import annotations

from . import Mutant


def _size_in_base64_characters(server):
    """create answers the length of the base64 text it was sent, not of the image it carries."""
    api = server.ctx.apis["toy"]
    original = api.create_thing

    async def create_thing(body=None, **kw):
        thing, status, headers = await original(body=body, **kw)
        return {**thing, "size": len(body["image_base64"])}, status, headers

    api.create_thing = create_thing


MUTANTS = [
    Mutant(
        "toy-size-of-the-base64-text",
        "toy",
        "TOY-01",
        "create answers the base64 text's length as the image's size",
        _size_in_base64_characters,
    ),
]
