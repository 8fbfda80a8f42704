"""Images a run sent and received, so a report can show a person the uploaded and the served image
side by side when a download differs: the bytes, their sizes and their SHA-256.

The checks' clients (``RecordingClient``) note every image they upload (a raw body, a multipart part or
a base64 JSON field) and every response they receive; nothing here changes what the checks do.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
import weakref
from collections import OrderedDict
from pathlib import Path

SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": ("image/png", "png"),
    b"\xff\xd8\xff": ("image/jpeg", "jpg"),
    b"GIF87a": ("image/gif", "gif"),
    b"GIF89a": ("image/gif", "gif"),
    b"BM": ("image/bmp", "bmp"),
}
MAX_KEPT_BYTES = 64 * 1024 * 1024  # uploads remembered for a later comparison, oldest dropped first

_lock = threading.Lock()
_uploaded: OrderedDict[str, bytes] = OrderedDict()  # sha256 -> bytes
_kept = 0
_responses: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # request -> response


def image_type(data: bytes) -> tuple[str, str] | None:
    """(media type, file extension) of an image by its signature; WebP by its RIFF header."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    for signature, kind in SIGNATURES.items():
        if data.startswith(signature) and (signature != b"BM" or len(data) > 26):
            return kind
    return None


def images_in(body: bytes, content_type: str = "") -> list[bytes]:
    """The images a request body carries: the body itself, multipart file parts, base64 JSON strings."""
    if not body:
        return []
    if image_type(body):
        return [body]
    found = []
    if "multipart/" in content_type and "boundary=" in content_type:
        boundary = content_type.split("boundary=", 1)[1].split(";")[0].strip().strip('"').encode()
        for part in body.split(b"--" + boundary):
            _, sep, content = part.partition(b"\r\n\r\n")
            content = content.removesuffix(b"\r\n")
            if sep and image_type(content):
                found.append(content)
    elif "json" in content_type:
        try:
            document = json.loads(body)
        except ValueError:
            return []
        for value in document.values() if isinstance(document, dict) else ():
            if isinstance(value, str) and len(value) > 64:
                try:
                    data = base64.b64decode(value.split(",", 1)[-1], validate=True)
                except (binascii.Error, ValueError):
                    continue
                if image_type(data):
                    found.append(data)
    return found


def note_exchange(request, response, body: bytes) -> None:
    """Called by the checks' client for each exchange."""
    global _kept
    _responses[request] = response  # weakly: forgotten with the request
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    for data in images_in(body, request.headers.get("content-type", "")):
        digest = hashlib.sha256(data).hexdigest()
        with _lock:
            if digest in _uploaded:
                _uploaded.move_to_end(digest)
                continue
            _uploaded[digest] = data
            _kept += len(data)
            while _kept > MAX_KEPT_BYTES and len(_uploaded) > 1:
                _, old = _uploaded.popitem(last=False)
                _kept -= len(old)


def _closest_upload(served: bytes) -> bytes | None:
    """The upload a served image most likely stands for: the longest common prefix, then the closest size."""

    def common(a: bytes, b: bytes) -> int:
        n = min(len(a), len(b))
        lo, hi = 0, n
        while lo < hi:  # binary search on equal prefixes (bytes compare in C)
            mid = (lo + hi + 1) // 2
            if a[:mid] == b[:mid]:
                lo = mid
            else:
                hi = mid - 1
        return lo

    with _lock:
        candidates = list(_uploaded.values())
    if not candidates:
        return None
    return max(candidates, key=lambda up: (common(up, served), -abs(len(up) - len(served))))


def _describe(data: bytes, where: Path) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    kind = image_type(data)
    media, ext = kind if kind else ("application/octet-stream", "bin")
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"image-{digest[:16]}.{ext}"
    if not path.exists():
        path.write_bytes(data)
    return {"file": str(path), "size": len(data), "sha256": digest, "type": media}


def status_answered(request) -> int | None:
    """The status the server answered to ``request`` (a checks' client's), while the request lives: kept
    with a finding's curl, so that a replay can be compared with the exchange that showed the break."""
    if request is None:
        return None
    try:
        response = _responses.get(request)
    except TypeError:  # not a request of the checks' clients (a weak reference cannot be made)
        return None
    return response.status_code if response is not None else None


def image_pair(request, bodies_dir: str) -> dict | None:
    """For a finding about a response that served an image (or bytes where an upload was expected):
    the closest uploaded image and the served bytes, saved under ``bodies_dir`` and described."""
    if request is None:
        return None
    try:
        response = _responses.get(request)
    except TypeError:
        return None
    if response is None or request.method != "GET":
        return None
    served = response.content
    declared = response.headers.get("content-type", "")
    if not served or not (image_type(served) or declared.startswith("image/")):
        return None
    uploaded = _closest_upload(served)
    if uploaded is None or uploaded == served:
        return None
    where = Path(bodies_dir)
    return {"uploaded": _describe(uploaded, where), "served": _describe(served, where)}
