"""Pillow decides image facts: truncated files and decompression bombs are refused, never decoded."""

from __future__ import annotations

import struct
import time
import zlib

import pytest
from support.images import image_bytes

from mockserver.images import InvalidImage, inspect_image


def png_declaring(width: int, height: int) -> bytes:
    """A real small PNG whose IHDR claims other dimensions (CRC fixed, so only the size lies)."""
    data = bytearray(image_bytes(4, 4))
    ihdr = 8  # after the signature: length(4) type(4) data(13) crc(4)
    data[ihdr + 8 : ihdr + 16] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr + 4 : ihdr + 21])) & 0xFFFFFFFF
    data[ihdr + 21 : ihdr + 25] = struct.pack(">I", crc)
    return bytes(data)


def test_facts_of_a_real_image():
    facts = inspect_image(image_bytes(30, 20, "JPEG"))
    assert (facts.format, facts.width, facts.height, facts.mime, facts.extension) == (
        "JPEG",
        30,
        20,
        "image/jpeg",
        "jpg",
    )


@pytest.mark.parametrize(
    "data",
    [b"", b"GIF89a", b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, b"<svg xmlns='http://www.w3.org/2000/svg'/>"],
    ids=["empty", "gif-header-only", "png-signature-only", "svg-text"],
)
def test_non_images_are_invalid(data):
    with pytest.raises(InvalidImage):
        inspect_image(data)


def test_truncated_png_is_invalid():
    whole = image_bytes(200, 200, color=(5, 6, 7))
    with pytest.raises(InvalidImage):
        inspect_image(whole[: len(whole) // 2])


def test_decompression_bomb_is_refused_from_its_header_without_decoding():
    bomb = png_declaring(100_000, 100_000)
    started = time.perf_counter()
    with pytest.raises(InvalidImage, match="pixels"):
        inspect_image(bomb)
    assert time.perf_counter() - started < 1.0


def test_bomb_and_truncated_uploads_get_400_in_the_apis_format(make_client):
    client = make_client("everydaypic")
    for data in (png_declaring(100_000, 100_000), image_bytes(100, 100)[:60]):
        r = client.post(
            "/v1/image", files={"file": ("x.png", data, "image/png")}, data={"fileName": "x", "name": "x"}
        )
        assert r.status_code == 400 and r.headers["content-type"].startswith("text/plain"), r.text
    assert client.get("/__mock__/state").json()["stored_bytes"] == 0


@pytest.mark.parametrize("cut", [0.5, 0.9, 0.99])
def test_a_jpeg_cut_anywhere_is_invalid_though_decoded_at_an_eighth(cut):
    """JPEGs are decoded at an eighth of their size (mockserver.images): every segment is still read."""
    whole = image_bytes(640, 480, "JPEG", color=(200, 30, 90), quality=95)
    facts = inspect_image(whole)
    assert (facts.format, facts.width, facts.height) == ("JPEG", 640, 480)  # the file's own size
    with pytest.raises(InvalidImage, match="complete"):
        inspect_image(whole[: int(len(whole) * cut)])
