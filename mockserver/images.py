"""Image facts from Pillow: the APIs that validate images decide on these, never on names or headers."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

# Above this many pixels an image is refused as a decompression bomb (Pillow warns at its own default).
MAX_PIXELS = 50_000_000

MIME_BY_FORMAT = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}


class InvalidImage(ValueError):
    """The bytes are not a complete, decodable image of a supported format."""


@dataclass(frozen=True)
class ImageFacts:
    format: str  # Pillow's name: "PNG", "JPEG", ...
    width: int
    height: int

    @property
    def mime(self) -> str:
        return MIME_BY_FORMAT.get(self.format, "application/octet-stream")

    @property
    def extension(self) -> str:
        return {"JPEG": "jpg"}.get(self.format, self.format.lower())


def inspect_image(data: bytes) -> ImageFacts:
    """Decode fully (a truncated file fails here, not later) with a pixel budget against bombs."""
    if not data:
        raise InvalidImage("the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt, (width, height) = img.format, img.size
                if fmt not in MIME_BY_FORMAT:
                    raise InvalidImage(f"unsupported image format {fmt}")
                if width * height > MAX_PIXELS:
                    raise InvalidImage(f"{width}x{height} pixels exceeds the limit of {MAX_PIXELS} pixels")
                img.load()
    except InvalidImage:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage(f"not a decodable image: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImage(f"not a complete image: {exc}") from exc
    return ImageFacts(fmt, width, height)
