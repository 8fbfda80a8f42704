"""sharinpix: album images made from a Cloudinary direct-upload result; no bytes reach the API (SPX-01..04).

The request is a Rack-style bracket-nested form. ``mockserver.forms.BracketFormValidator`` decodes it,
validates it against the spec, and leaves the decoding in the request scope (``decoded_form``); the flat
form Connexion passes as ``body`` would be lossy (it joins repeated keys with commas).

Decisions where the seed is silent (see also the spec's x-decision notes):
- No thumbnail is ever rendered (``processed`` stays false). ``thumbnails`` and ``external_urls.fill100`` /
  ``fit2000`` keep the seed's placeholder form ``/assets/blank.jpg#<Cloudinary transformation URL>``;
  ``external_urls.mini`` / ``large`` / ``full`` (the seed's proxy download links) are the bare Cloudinary
  transformation URLs. The URLs are built from ``secure_url`` (else ``url``): the transformation goes before
  the ``/v<version>/`` segment and the ``s--…--`` signature segment is dropped (the mock cannot sign); with no
  usable URL they are ``https://res.cloudinary.com/mock/<resource_type>/<type>/<transformation>/v<version>/
  <public_id>.<format>``.
- ``original_url`` is ``secure_url``, else ``url``, else "".
"""

from __future__ import annotations

import copy
import re
import time
import uuid
from datetime import UTC, datetime

from connexion import request as current_request

from ..errors import ApiError
from ..forms import decoded_form
from .base import BaseApi, json_reply

BLANK = "/assets/blank.jpg#"  # the seed's placeholder prefix for renditions not processed yet
FIT_1920 = "c_fit,h_1920,w_1920"
ATTACHMENT = "fl_attachment/dpr_auto,q_auto,f_auto"
THUMBNAILS = {  # the seed's transformations, key by key
    "original": ATTACHMENT,
    "full_no_sharinpix": f"{FIT_1920}/{ATTACHMENT}",
    "full": f"{FIT_1920}/{ATTACHMENT}",
    "large": f"{FIT_1920}/c_fill,h_200,w_200/{ATTACHMENT}",
    "mini": f"{FIT_1920}/c_fill,h_100,w_100/{ATTACHMENT}",
}
EXTERNAL_PLACEHOLDERS = {"fill100": "c_fit,w_300", "fit2000": "c_fit,h_2000,w_2000"}
_DIGITS = re.compile(r"[0-9]+")
_EXIF_DATE = re.compile(r"[0-9]{4}:[0-9]{2}:[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_SIGNATURE = re.compile(r"/s--[^/]*--$")


def now_iso() -> str:
    """The seed's shape: ``2019-04-08T19:38:54.558+02:00`` (the mock answers in UTC)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def taken_at(exifs: dict) -> str | None:
    """``DateTimeOriginal`` "2018:01:01 08:00:00" read as UTC: "2018-01-01T08:00:00.000+00:00"; else None."""
    value = exifs.get("DateTimeOriginal")
    if not isinstance(value, str) or not _EXIF_DATE.fullmatch(value):
        return None
    try:
        moment = datetime.strptime(value, "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return moment.isoformat(timespec="milliseconds") + "+00:00"  # four-digit years (strftime: "999")


def _text(info: dict, key: str) -> str:
    value = info.get(key)
    return value if isinstance(value, str) else ""


def _count(info: dict, key: str) -> str:
    """A decimal-digit field of the cloudinary hash (width, height, bytes); "0" when absent."""
    value = info.get(key)
    if value is None:
        return "0"
    if not isinstance(value, str) or not _DIGITS.fullmatch(value) or len(value) > 18:
        raise ApiError(400, f"cloudinary[{key}] must be a string of at most 18 decimal digits")
    return value


def cloudinary_url(info: dict, transformation: str) -> str:
    """A Cloudinary delivery URL of the upload with ``transformation`` applied (unsigned)."""
    version, public_id, fmt = _text(info, "version"), _text(info, "public_id"), _text(info, "format")
    base = _text(info, "secure_url") or _text(info, "url")
    marker = f"/v{version}/"
    if version and marker in base:
        prefix, _, tail = base.partition(marker)
        return f"{_SIGNATURE.sub('', prefix)}/{transformation}{marker}{tail}"
    kind = f"{_text(info, 'resource_type') or 'image'}/{_text(info, 'type') or 'upload'}"
    versioned = f"v{version}/" if version else ""
    extension = f".{fmt}" if fmt else ""
    return f"https://res.cloudinary.com/mock/{kind}/{transformation}/{versioned}{public_id}{extension}"


class SharinpixApi(BaseApi):
    name = "sharinpix"

    def reset(self) -> None:
        self.albums: dict[str, dict[str, dict]] = {}  # album_id -> image id -> image (the response body)

    def dump(self) -> dict:
        return {
            "albums": {
                album: [copy.deepcopy(i) for i in images.values()] for album, images in self.albums.items()
            }
        }

    def restore(self, state: dict) -> None:
        self.albums = {
            album: {image["id"]: copy.deepcopy(image) for image in images}
            for album, images in state.get("albums", {}).items()
        }

    def snapshot(self):  # images are never changed once stored: copies of the albums undo a write
        return {album: dict(images) for album, images in self.albums.items()}

    def rollback(self, snapshot) -> None:
        self.albums = snapshot

    def seed(self, entries, images_dir) -> int:
        """Entries: ``{"album_id", "image", "cloudinary", "metadatas"}``; width/height/format/bytes are read
        from the fixture image where the entry leaves them out, as Cloudinary would have reported them."""
        for entry in entries:
            cloudinary = dict(entry["cloudinary"])
            if entry.get("image"):
                data = (images_dir / entry["image"]).read_bytes()
                facts = self.image_facts(data)
                cloudinary.setdefault("width", str(facts.width))
                cloudinary.setdefault("height", str(facts.height))
                cloudinary.setdefault("format", facts.extension)
                cloudinary.setdefault("bytes", str(len(data)))
            self._create(
                entry["album_id"], {"cloudinary": cloudinary, "metadatas": entry.get("metadatas", {})}
            )
        return len(entries)

    def _create(self, album_id: str, form: dict) -> dict:
        """Synchronous (ALL-04): the whole record is built and inserted without an ``await``."""
        info = form.get("cloudinary")
        if not isinstance(info, dict):
            raise ApiError(400, "cloudinary is required (cloudinary[public_id]=…)")
        if not isinstance(info.get("public_id"), str) or not info["public_id"]:
            raise ApiError(400, "cloudinary[public_id] is required")  # SPX-04
        metadatas = form.get("metadatas", {})
        exifs = info.get("image_metadata", {})
        if not isinstance(metadatas, dict) or not isinstance(exifs, dict):
            raise ApiError(400, "metadatas and cloudinary[image_metadata] must be bracket-nested objects")
        width, height = int(_count(info, "width")), int(_count(info, "height"))
        image_id, now = str(uuid.uuid4()), now_iso()
        image = {
            "id": image_id,
            "public_id": image_id,
            "infos": copy.deepcopy(info),
            "exifs": copy.deepcopy(exifs),
            "gps": None,
            "gps_ip": None,
            "gps_exifs": None,
            "gps_html": None,
            "created_at": now,
            "updated_at": now,
            "taken_at": taken_at(exifs),
            "width": width,
            "height": height,
            "rotation": 0,
            "crop_x": 0.0,
            "crop_y": 0.0,
            "crop_w": 0.0,
            "crop_h": 0.0,
            "metadatas": copy.deepcopy(metadatas),
            "original_url": _text(info, "secure_url") or _text(info, "url"),
            "original_width": width,
            "original_height": height,
            "external_urls": {
                **{key: BLANK + cloudinary_url(info, tr) for key, tr in EXTERNAL_PLACEHOLDERS.items()},
                **{key: cloudinary_url(info, THUMBNAILS[key]) for key in ("mini", "large", "full")},
            },
            "filename": _text(info, "original_filename"),
            "format": _text(info, "format"),
            "title": None,
            "description": None,
            "page": 1,
            "group_id": None,
            "color": "#",
            "size": _count(info, "bytes"),
            "processed": False,
            "processing_error": None,
            "album_id": album_id,
            "thumbnails": {key: BLANK + cloudinary_url(info, tr) for key, tr in THUMBNAILS.items()},
        }
        self.albums.setdefault(album_id, {})[image_id] = image
        return image

    # -- operations ----------------------------------------------------------------------------------
    async def create_album_image(self, album_id, token_info=None):
        """SPX-01 (token checked by mockserver.auth.sharinpix_token), SPX-02/03/04."""
        # No ``body``/``**kwargs``: Connexion's flat, comma-joined re-parse of the form is not wanted
        # (and it fails on bracket keys whose schema has no single type); decoded_form() has it all.
        started = time.perf_counter()
        form = decoded_form(current_request)
        if form is None:  # only when request validation is switched off
            raise ApiError(400, "the body must be an application/x-www-form-urlencoded form")
        image = self._create(album_id, form)
        headers = {
            "X-token": (token_info or {}).get("token", ""),
            "X-Request-Id": str(uuid.uuid4()),
            "X-Runtime": f"{time.perf_counter() - started:.6f}",
            "Cache-Control": "no-cache, no-store",
        }
        return json_reply(copy.deepcopy(image), 200, headers)
