"""Ready-made development tokens, accepted by the default mock and under ``--jwt-secret DEV_SECRET``.

HS256 is deterministic, so these strings never change; docs/mock.md prints them and a test checks it.
"""

from __future__ import annotations

import jwt

DEV_SECRET = "image-api-contracts-development-secret"
DEV_EXPIRY = 4102444800  # 2100-01-01T00:00:00Z
DEV_ALBUM = "00100000123BB146"  # the sharinpix seed's album

EVOTOR_TOKEN = "c14fc51c-d6ea-4992-85c0-786b8351d270"  # the evotor seed's own example token


def _jwt(claims: dict) -> str:
    return jwt.encode({"iat": 1700000000, "exp": DEV_EXPIRY, **claims}, DEV_SECRET, algorithm="HS256")


def image_upload_token(sub: str = "dev-user") -> str:
    return _jwt({"sub": sub})


def sharinpix_token(*albums: str, user_id: str = "dev-user") -> str:
    albums = albums or (DEV_ALBUM,)
    abilities = {album: {"Access": {"image_upload": True}} for album in albums}
    return _jwt({"user_id": user_id, "abilities": abilities})


def auth_headers(api: str) -> dict[str, str]:
    """The header each API documents, carrying its dev token."""
    if api == "evotor":
        return {"X-Authorization": EVOTOR_TOKEN}
    if api == "image-upload":
        return {"Authorization": f"Bearer {image_upload_token()}"}
    if api == "sharinpix":
        return {"Authorization": f'Token token="{sharinpix_token()}"'}
    return {}
