"""Presigned URLs like S3's: method, path and expiry bound together by an HMAC, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import urlencode


class UrlSigner:
    def __init__(self, key: bytes | None = None, ttl_seconds: int = 900):
        self.key = key or secrets.token_bytes(32)
        self.ttl_seconds = ttl_seconds

    def _mac(self, method: str, path: str, expires: int) -> str:
        msg = f"{method.upper()}\n{path}\n{expires}".encode()
        return hmac.new(self.key, msg, hashlib.sha256).hexdigest()

    def query(self, method: str, path: str, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + self.ttl_seconds)
        return urlencode({"expires": expires, "signature": self._mac(method, path, expires)})

    def check(self, method: str, path: str, expires: str | None, signature: str | None) -> str | None:
        """None when valid, else the reason it is not."""
        if not expires or not signature:
            return "the URL is not signed (expires and signature are required)"
        try:
            expires_at = int(expires)
        except ValueError:
            return "the URL's expires is not an integer"
        if not hmac.compare_digest(self._mac(method, path, expires_at), signature):
            return "the URL's signature does not match"
        if expires_at < time.time():
            return "the URL has expired"
        return None
