"""Ready-made development tokens, accepted by the default mock and under ``--jwt-secret DEV_SECRET``.

HS256 is deterministic, so these strings never change; docs/mock.md prints them and a test checks it.
They are signed here with the standard library (byte for byte what PyJWT makes: sorted header, compact
JSON), so that this shared layer needs nothing but the standard library and PyYAML.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

DEV_SECRET = "image-api-contracts-development-secret"
DEV_EXPIRY = 4102444800  # 2100-01-01T00:00:00Z
DEV_ALBUM = "00100000123BB146"  # the sharinpix seed's album

EVOTOR_TOKEN = "c14fc51c-d6ea-4992-85c0-786b8351d270"  # the evotor seed's own example token


def _segment(value: dict) -> bytes:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).rstrip(b"=")


def hs256_jwt(claims: dict, secret: str = DEV_SECRET) -> str:
    """A compact HS256 JWT of ``claims``."""
    signing_input = _segment({"alg": "HS256", "typ": "JWT"}) + b"." + _segment(claims)
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


def _jwt(claims: dict) -> str:
    return hs256_jwt({"iat": 1700000000, "exp": DEV_EXPIRY, **claims})


def image_upload_token(sub: str = "dev-user") -> str:
    return _jwt({"sub": sub})


def sharinpix_token(*albums: str, user_id: str = "dev-user") -> str:
    albums = albums or (DEV_ALBUM,)
    abilities = {album: {"Access": {"image_upload": True}} for album in albums}
    return _jwt({"user_id": user_id, "abilities": abilities})
