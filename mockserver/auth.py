"""Security handlers named by the specs (``x-apikeyInfoFunc`` / ``x-bearerInfoFunc``).

Connexion calls them with ``(token, required_scopes, request)``: a dict accepts, ``None`` answers 401.
By default tokens are checked for shape only, so frontends work out of the box and the seeds' own
example requests succeed as they stand; with ``--jwt-secret`` JWTs must carry a valid HS256 signature
and an unexpired ``exp``.
"""

from __future__ import annotations

import functools
import re
import time

import jwt

from mockserver.errors import ApiError
from mockserver.request_state import MOCK_CONTEXT

_TOKEN_HEADER = re.compile(r'^Token\s+token\s*=\s*"?([^"\s]+)"?\s*$')


def _settings(request):
    return request.scope[MOCK_CONTEXT].settings


def decode_jwt(token: str, secret: str | None) -> dict | None:
    """Claims of a well-formed JWT, or None. Signature and expiry are checked only with a secret.

    A client sends the same token on every request, and PyJWT's decode was a tenth of an uncached read
    (an eighth of a listing's time): what it found is kept per token and secret, and what depends on
    the clock (``exp``, ``nbf``, ``iat``, as PyJWT compares them, no leeway) is checked again every time.
    """
    decode = _decoded if len(token) <= CACHED_TOKEN_CHARS else _decoded.__wrapped__
    claims = decode(token, secret)
    if claims is None:
        return None
    if secret and not _in_time(claims, int(time.time())):
        return None
    return dict(claims)  # a copy: the caller may add to it


# The cache holds at most CACHED_TOKENS tokens of at most CACHED_TOKEN_CHARS (a JWT is well under 1 KiB), so
# about 4 MiB with their claims; a longer token is decoded every time.
CACHED_TOKENS = 256
CACHED_TOKEN_CHARS = 4096


@functools.lru_cache(maxsize=CACHED_TOKENS)
def _decoded(token: str, secret: str | None) -> dict | None:
    try:
        if secret:
            claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp"]})
        else:
            claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
    except (jwt.PyJWTError, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def _in_time(claims: dict, now: int) -> bool:
    """PyJWT's clock checks (its types were checked when the token was first decoded)."""
    return (
        int(claims["exp"]) > now
        and ("nbf" not in claims or int(claims["nbf"]) <= now)
        and ("iat" not in claims or int(claims["iat"]) <= now)
    )


def evotor_token(token, required_scopes=None, request=None):
    """EVT-01: any non-empty ``X-Authorization`` value is a token (the seed shows an opaque UUID)."""
    token = (token or "").strip()
    return {"sub": token} if token else None


def image_upload_token(token, required_scopes=None, request=None):
    """IUP-01: ``Authorization: Bearer <JWT>``."""
    return decode_jwt(token or "", _settings(request).jwt_secret)


def sharinpix_token(header_value, required_scopes=None, request=None):
    """SPX-01: ``Authorization: Token token="<JWT>"``; the JWT's ``abilities`` must grant the album."""
    match = _TOKEN_HEADER.match(header_value or "")
    if not match:
        return None
    claims = decode_jwt(match.group(1), _settings(request).jwt_secret)
    if claims is None:
        return None
    album_id = request.path_params.get("album_id")
    if album_id is not None and not album_grants_upload(claims, album_id):
        raise ApiError(403, f"the token's abilities do not grant image_upload on album {album_id}")
    claims["token"] = match.group(1)
    return claims


def album_grants_upload(claims: dict, album_id: str) -> bool:
    abilities = claims.get("abilities")
    if not isinstance(abilities, dict):
        return False
    album = abilities.get(album_id)
    access = album.get("Access") if isinstance(album, dict) else None
    return isinstance(access, dict) and access.get("image_upload") is True
