"""image-upload as the tests call it through a client: a JWT signed with the tests' secret, and an upload."""

import time

import jwt

SECRET = "image-upload-test-secret-of-32-bytes+"  # >= 32 bytes: PyJWT warns about shorter HMAC keys


def token(key: str = SECRET, **claims) -> str:
    claims.setdefault("sub", "tester")
    claims.setdefault("exp", int(time.time()) + 3600)
    return jwt.encode(claims, key, algorithm="HS256")


def auth(tok: str | None = None) -> dict:
    return {"Authorization": f"Bearer {tok or token()}"}


def upload(client, data: bytes, name: str = "cat.png", ctype: str = "image/png", headers=None):
    return client.post("/UploadImage", files={"file": (name, data, ctype)}, headers=headers or auth())
