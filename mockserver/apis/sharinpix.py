"""sharinpix: album images made from a Cloudinary direct-upload result; no bytes reach the API (SPX-01..04).

The request is a Rack-style bracket-nested form. ``mockserver.connexion_ext.forms.BracketFormValidator``
decodes it, validates it against the spec, and leaves the decoding in the request scope
(``decoded_form``); the flat form Connexion passes as ``body`` would be lossy (it joins repeated keys with
commas).

Decisions where the seed is silent (see also the spec's x-decision notes):
- No rendition is ever processed (``processed`` stays false). Every ``thumbnails`` and ``external_urls`` URL
  keeps the seed's placeholder form ``<placeholder>#<Cloudinary transformation URL>``, with an absolute
  placeholder that the mock serves, so a page can show it: ``<origin>/__mock__/files/sharinpix/<image id>/
  <thumbnails|external_urls>/<key>.<format>``, placeholder pixels of the recorded width, height and format
  (``serve_file``). The Cloudinary URLs are built from ``secure_url`` (else ``url``): the transformation
  goes before the ``/v<version>/`` segment and the ``s--…--`` signature segment is dropped (the mock cannot
  sign); with no usable URL they are ``https://res.cloudinary.com/mock/<resource_type>/<type>/
  <transformation>/v<version>/<public_id>.<format>``.
- ``original_url`` is ``secure_url``, else ``url``, else "".
"""

from __future__ import annotations

import copy
import functools
import io
import re
import time
import uuid
from datetime import UTC, datetime

from connexion import request as current_request
from PIL import Image
from starlette.responses import Response

from mockserver.apis.base import BaseApi, StoredRecords, json_reply, request_origin
from mockserver.connexion_ext.forms import decoded_form
from mockserver.errors import ApiError
from mockserver.images import MIME_BY_FORMAT
from mockserver.state.fixtures import seed_image
from mockserver.state.undo import touched_items

PLACEHOLDER_MAX_SIDE = 2048  # a larger recorded size is scaled down, keeping its aspect ratio
_PILLOW_FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP", "bmp": "BMP"}
FIT_1920 = "c_fit,h_1920,w_1920"
ATTACHMENT = "fl_attachment/dpr_auto,q_auto,f_auto"
THUMBNAILS = {  # the seed's transformations, key by key
    "original": ATTACHMENT,
    "full_no_sharinpix": f"{FIT_1920}/{ATTACHMENT}",
    "full": f"{FIT_1920}/{ATTACHMENT}",
    "large": f"{FIT_1920}/c_fill,h_200,w_200/{ATTACHMENT}",
    "mini": f"{FIT_1920}/c_fill,h_100,w_100/{ATTACHMENT}",
}
EXTERNAL_URLS = {
    "fill100": "c_fit,w_300",
    "fit2000": "c_fit,h_2000,w_2000",
    **{key: THUMBNAILS[key] for key in ("mini", "large", "full")},
}
_DIGITS = re.compile(r"[0-9]+")
_EXIF_DATE = re.compile(r"[0-9]{4}:[0-9]{2}:[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_SIGNATURE = re.compile(r"/s--[^/]*--$")
_HEX_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")


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


def _placeholder_format(recorded: str) -> tuple[str, str]:
    """(file extension, Pillow format) for a recorded ``cloudinary[format]``: PNG for what Pillow lacks."""
    ext = recorded.lower()
    return (ext, _PILLOW_FORMATS[ext]) if ext in _PILLOW_FORMATS else ("png", "PNG")


@functools.lru_cache(maxsize=32)
def placeholder(width: int, height: int, recorded_format: str, color: str) -> tuple[bytes, str]:
    """A plain image of ``width`` x ``height`` (at least 1, scaled to fit 2048) and its media type."""
    width, height = max(width, 1), max(height, 1)
    scale = min(1.0, PLACEHOLDER_MAX_SIDE / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    fill = color if _HEX_COLOR.fullmatch(color) else "#d9e5f5"
    fmt = _placeholder_format(recorded_format)[1]
    buffer = io.BytesIO()
    Image.new("RGB", size, fill).save(buffer, fmt)
    return buffer.getvalue(), MIME_BY_FORMAT[fmt]


class SharinpixApi(BaseApi):
    name = "sharinpix"
    stored_records = StoredRecords("id", None, grouped_by="albums", container="albums")

    def reset(self) -> None:
        # album_id -> image id -> image (the response body)
        self.albums: dict[str, dict[str, dict]] = self.undo.journaled_dict(ordered=True)

    def dump(self) -> dict:
        return {
            "albums": {
                album: [copy.deepcopy(i) for i in images.values()] for album, images in self.albums.items()
            }
        }

    def restore(self, state: dict) -> None:
        self.albums = self.undo.journaled_dict(
            (
                (
                    album,
                    self.undo.journaled_dict(
                        ((image["id"], copy.deepcopy(image)) for image in images), ordered=True
                    ),
                )
                for album, images in state.get("albums", {}).items()
            ),
            ordered=True,
        )

    # Rows: one per image, keyed by (album id, image id), in the container "images".
    def stored_rows(self) -> dict:
        return {}  # two levels (albums of images): the hooks below say where an image lives

    def touched_records(self, entries):
        items = touched_items(entries)
        if items is None:
            return None
        albums = self.albums
        return [
            ("images", (image["album_id"], key))
            for journaled, key, old in items
            if journaled is not albums and isinstance(image := journaled.get(key, old), dict)
        ]

    def record_row(self, container: str, key):
        album_id, image_id = key
        return self.albums.get(album_id, {}).get(image_id)

    def record_rows(self):
        for album_id, images in self.albums.items():
            for image_id, image in images.items():
                yield "images", (album_id, image_id), image

    def state_of_rows(self, scalars: dict, containers: dict[str, list]) -> dict:
        albums: dict[str, list] = {}
        for image in containers.get("images", []):
            albums.setdefault(image["album_id"], []).append(image)
        return {"albums": albums}

    def apply_rows(self, scalars, changes) -> None:
        for _, (album_id, image_id), image in changes:
            album = self.albums.get(album_id)
            if image is None:
                if album is not None:
                    album.pop(image_id, None)
                continue
            if album is None:
                album = self.albums[album_id] = self.undo.journaled_dict(ordered=True)
            album[image_id] = image

    def remove_record(self, record_id: str) -> bool:
        """The image goes from its album (no bytes are stored; its renditions' URLs then answer 404). The
        album is found by a walk of the albums, not of their images; an emptied album stays, as after a
        ``restore`` of the dump without it."""
        album = next((images for images in self.albums.values() if record_id in images), None)
        if album is None:
            return False
        del album[record_id]
        return True

    def seed(self, entries, images_dir) -> int:
        """Entries: ``{"album_id", "image", "cloudinary", "metadatas"}``; width/height/format/bytes are read
        from the fixture image where the entry leaves them out, as Cloudinary would have reported them."""
        for entry in entries:
            cloudinary = dict(entry["cloudinary"])
            if entry.get("image"):
                data = seed_image(images_dir, entry["image"])
                facts = self.image_facts(data)
                cloudinary.setdefault("width", str(facts.width))
                cloudinary.setdefault("height", str(facts.height))
                cloudinary.setdefault("format", facts.extension)
                cloudinary.setdefault("bytes", str(len(data)))
            self.create_record(
                entry["album_id"], {"cloudinary": cloudinary, "metadatas": entry.get("metadatas", {})}
            )
        return len(entries)

    def create_record(self, album_id: str, form: dict, origin: str = "") -> dict:
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
            "external_urls": self._renditions(origin, image_id, "external_urls", info, EXTERNAL_URLS),
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
            "thumbnails": self._renditions(origin, image_id, "thumbnails", info, THUMBNAILS),
        }
        album = self.albums.get(album_id)
        if album is None:
            album = self.albums[album_id] = self.undo.journaled_dict(ordered=True)
        album[image_id] = image
        return image

    def _renditions(self, origin: str, image_id: str, group: str, info: dict, transformations: dict) -> dict:
        """``{key: "<origin>/__mock__/files/sharinpix/<id>/<group>/<key>.<ext>#<Cloudinary URL>"}``, the
        origin the request's (``--public-url``, X-Forwarded-*); seed data, made with no request, has none."""
        ext = _placeholder_format(_text(info, "format"))[0]
        return {
            key: f"{origin}{self.file_path(f'{image_id}/{group}/{key}.{ext}')}#{cloudinary_url(info, tr)}"
            for key, tr in transformations.items()
        }

    async def serve_file(self, key: str, request) -> Response:
        """A rendition's placeholder: pixels of the recorded width and height, in the recorded format
        (PNG when Pillow cannot write that one), in the image's first recorded colour."""
        image_id, _, rest = key.partition("/")
        group, _, name = rest.partition("/")
        image = next((album[image_id] for album in self.albums.values() if image_id in album), None)
        keys = {"thumbnails": THUMBNAILS, "external_urls": EXTERNAL_URLS}.get(group, {})
        if image is None or name.rpartition(".")[0] not in keys:
            raise ApiError(404, "no such file")
        colors = image["infos"].get("colors")
        color = colors[0] if isinstance(colors, list) and colors and isinstance(colors[0], str) else ""
        body, media_type = placeholder(image["width"], image["height"], image["format"], color)
        return Response(body, media_type=media_type, headers={"Cache-Control": "no-cache"})

    # -- operations ----------------------------------------------------------------------------------
    async def create_album_image(self, album_id, token_info=None):
        """SPX-01 (token checked by mockserver.auth.sharinpix_token), SPX-02/03/04."""
        # No ``body``/``**kwargs``: Connexion's flat, comma-joined re-parse of the form is not wanted
        # (and it fails on bracket keys whose schema has no single type); decoded_form() has it all.
        started = time.perf_counter()
        form = decoded_form(current_request)
        if form is None:  # only when request validation is switched off
            raise ApiError(400, "the body must be an application/x-www-form-urlencoded form")
        image = self.create_record(album_id, form, request_origin())
        headers = {
            "X-token": (token_info or {}).get("token", ""),
            "X-Request-Id": str(uuid.uuid4()),
            "X-Runtime": f"{time.perf_counter() - started:.6f}",
            "Cache-Control": "no-cache, no-store",
        }
        return json_reply(copy.deepcopy(image), 200, headers)
