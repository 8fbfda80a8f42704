"""Schemathesis run directly on the specs (``schemathesis run specs/<api>.yaml``): real images for the parts
the specs type ``image/png``, so uploads reach the API's logic instead of its "not an image" refusal.

``schemathesis.toml`` names this module (``hooks``), so the plain CLI command picks it up. Every PNG is
300x300 pixels, the one size every API takes (evotor takes no other, EVT-02), in a colour of its own, so
that two uploads are two different files.
"""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

from .media import image_bytes

EVOTOR_SIDE = 300  # EVT-02: a PNG of exactly 300x300 pixels

png_300 = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)).map(
    lambda color: image_bytes(EVOTOR_SIDE, EVOTOR_SIDE, "PNG", color)
)
schemathesis.openapi.media_type("image/png", png_300)
