"""Real images for the checks, made with Pillow (as bytes, or as Hypothesis strategies)."""

from __future__ import annotations

import io
import random

from hypothesis import strategies as st
from PIL import Image

MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


def image_bytes(width: int = 16, height: int = 16, fmt: str = "PNG", color=(30, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, fmt)
    return buf.getvalue()


@st.composite
def images(draw, formats=("PNG", "JPEG", "GIF"), max_side: int = 48) -> tuple[bytes, str]:
    """(bytes, mime) of a small decodable image; sizes and colours vary so no two uploads collide."""
    fmt = draw(st.sampled_from(formats))
    width, height = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    color = tuple(draw(st.integers(0, 255)) for _ in range(3))
    return image_bytes(width, height, fmt, color), MIME[fmt]


def not_an_image() -> bytes:
    return b"this is plain text, not an image\n" * 4


def realistic_image(fmt: str = "PNG", seed: int = 0, size: tuple[int, int] = (64, 48)) -> bytes:
    """A photo-like image of a few KB (noise does not compress), as real clients upload: some servers
    fail on tiny files, and a check about another rule must not stumble on that."""
    width, height = size
    noise = random.Random(seed).randbytes(width * height * 3)
    buf = io.BytesIO()
    Image.frombytes("RGB", size, noise).save(buf, fmt)
    return buf.getvalue()


def tiny_png() -> bytes:
    """A 1x1 pixel PNG (under 100 bytes): edge data, for the checks that are about it."""
    return image_bytes(1, 1, "PNG", (200, 30, 30))


def photo(n: int, fmt: str = "PNG", side: int = 40) -> bytes:
    """A decodable image of a few KB, as real clients send (noise compresses badly): distinct per ``n``."""
    rng = random.Random(n * 7919 + len(fmt))
    pixels = bytes(rng.getrandbits(8) for _ in range(side * side * 3))
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def noise_png(payload_bytes: int) -> bytes:
    """A decodable PNG of at least ``payload_bytes`` bytes (random pixels, stored uncompressed)."""
    side = int((payload_bytes / 3) ** 0.5) + 8
    rng = random.Random(payload_bytes)
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3)).save(buf, "PNG", compress_level=0)
    return buf.getvalue()
