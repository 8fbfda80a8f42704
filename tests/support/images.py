"""Real images, made with Pillow, for uploads the APIs must accept."""

from __future__ import annotations

import io

from PIL import Image


def image_bytes(width: int = 32, height: int = 32, fmt: str = "PNG", color=(10, 120, 200), **save) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, fmt, **save)
    return buf.getvalue()
