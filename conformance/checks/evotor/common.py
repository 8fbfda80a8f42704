"""What the evotor checks share: the seed's limits and the decisions their SHOULD parts name, the
requests (upload, list, download), PNGs of 300x300 pixels, and the problems an image answer can have."""

from __future__ import annotations

import io
import random
import re
import uuid
from datetime import datetime
from functools import lru_cache
from urllib.parse import quote, urljoin, urlsplit

from PIL import Image, ImageDraw, PngImagePlugin

from conformance.checks.kit import body_of
from conformance.findings import NotExercised, needs
from conformance.media import image_bytes, not_an_image

LIMIT = 5242800  # the seed: "Объём не более 5242800 байт"
SIDE = 300  # the seed: "Разрешение – 300х300 пикселей"
# the seed's shape: 2018-09-04T13:31:01.104+0000 (UTC, milliseconds, offset without a colon)
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
# Our decisions where the seed names no status (specs/evotor.yaml): SHOULD parts of the rules.
NO_TOKEN_401 = "x-decision: a missing X-Authorization gets 401"
BAD_FILE_400 = "x-decision: a file that is not a 300x300 PNG gets 400"
TOO_LARGE_413 = "x-decision: a file over 5242800 bytes gets 413"
OCCUPIED_409 = "x-decision: a second upload to a product with an image gets 409"
UNKNOWN_404 = "x-decision: an unknown image id (or one of another product or store) gets 404"


# -- requests ------------------------------------------------------------------------------------------
def images_path(store: str, product: str, image_id: str | None = None) -> str:
    path = f"/stores/{quote(store, safe='')}/products/{quote(product, safe='')}/images"
    return path if image_id is None else f"{path}/{quote(image_id, safe='')}"


def upload(http, store: str, product: str, data: bytes, mime: str = "image/png", name: str = "000.png"):
    """The seed's request: ``-F datafile=@000.png`` (curl labels the part image/png)."""
    return http.post(images_path(store, product), files={"datafile": (name, data, mime)})


def without_token(http, method: str, path: str, **kwargs):
    """The request as the client would send it, minus X-Authorization (recorded for the curl replay)."""
    request = http.build_request(method, path, **kwargs)
    request.headers.pop("X-Authorization", None)
    return http.send(request)


def download(http, target, url: str):
    """GET the image's url; the credential goes only to the API's own host, never to another one."""
    absolute = urljoin(target.base_url + "/", url)
    request = http.build_request("GET", absolute)
    if urlsplit(absolute).netloc != urlsplit(target.base_url).netloc:
        request.headers.pop("X-Authorization", None)
    return http.send(request)


def png(color=(30, 120, 200), width: int = SIDE, height: int = SIDE) -> bytes:
    """A flat PNG (a few hundred bytes): for bad-file edge cases and the state machine's many uploads."""
    return image_bytes(width, height, "PNG", color)


@lru_cache(maxsize=64)
def photo_png(seed: int, mode: str = "RGB") -> bytes:
    """A realistic 300x300 PNG of a few KB (shapes in several colours), distinct per seed."""
    rnd = random.Random(seed)
    image = Image.new("RGB", (SIDE, SIDE), tuple(rnd.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = rnd.randrange(SIDE), rnd.randrange(SIDE)
        box = (x, y, x + rnd.randrange(10, 80), y + rnd.randrange(10, 80))
        draw.ellipse(box, fill=tuple(rnd.randrange(256) for _ in range(3)))
    if mode != "RGB":
        image = image.convert(mode) if mode != "P" else image.quantize(64)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


@lru_cache(maxsize=4)
def png_of_size(size: int) -> bytes:
    """A valid 300x300 PNG padded with a private ancillary chunk (``prVt``) to exactly ``size`` bytes."""
    base = png((200, 40, 90))
    info = PngImagePlugin.PngInfo()
    info.add(b"prVt", b"x" * (size - len(base) - 12))  # a chunk costs 12 bytes besides its data
    buf = io.BytesIO()
    Image.new("RGB", (SIDE, SIDE), (200, 40, 90)).save(buf, "PNG", pnginfo=info)
    data = buf.getvalue()
    assert len(data) == size, f"could not build a PNG of {size} bytes (got {len(data)})"
    return data


# -- what comes back -----------------------------------------------------------------------------------
def image_problems(image, store: str, product: str, size: int) -> list[str]:
    """What is wrong with an image object (EVT-02), given the path it was uploaded under and its size."""
    if not isinstance(image, dict):
        return [f"expected an image object, got {image!r:.200}"]
    problems = []
    for key in ("id", "user_id", "url", "created_at", "updated_at"):
        if not isinstance(image.get(key), str) or not image.get(key):
            problems.append(f"{key} must be a non-empty string, got {image.get(key)!r}")
    if image.get("store_id") != store:
        problems.append(f"store_id must echo the path's {store!r}, got {image.get('store_id')!r}")
    if image.get("product_id") != product:
        problems.append(f"product_id must echo the path's {product!r}, got {image.get('product_id')!r}")
    meta = image.get("meta")
    want = {"extension": "png", "file_size": size, "width": SIDE, "height": SIDE}
    if not isinstance(meta, dict) or any(
        meta.get(k) != v or type(meta.get(k)) is not type(v) for k, v in want.items()
    ):
        problems.append(f"meta must be {want}, got {meta!r}")
    return problems


def image_of(response, what: str = "upload of a valid 300x300 PNG") -> dict:
    """The image a setup upload created: any 2xx with an id, else the check is not exercised (EVT-02)."""
    needs(response, what, "EVT-02")
    body = body_of(response)
    ok = isinstance(body, dict) and isinstance(body.get("id"), str) and body["id"]
    needs(response, f"{what} (an image object with an id)", "EVT-02", ok=lambda _: ok)
    return body


def foreign(items, store: str, product: str) -> list:
    """The items of a product's list that name another store or product (their own fields say so)."""
    return [
        item
        for item in items or []
        if isinstance(item, dict)
        and (item.get("store_id") not in (None, store) or item.get("product_id") not in (None, product))
    ]


def scoped(response, items, store: str, product: str) -> None:
    """A check that borrows the product's list as its oracle first confirms that the list is the
    product's: one that shows other stores' or products' images is EVT-08's break, and the check is not
    exercised."""
    leaked = foreign(items, store, product)
    if leaked:
        sample = {k: leaked[0].get(k) for k in ("id", "store_id", "product_id")}
        raise NotExercised(
            "EVT-08",
            f"the list of {store}/{product} shows {len(leaked)} image(s) of other stores or products, "
            f"e.g. {sample}",
            response.request,
        )


def listed(http, store: str, product: str, borrowed: bool = True):
    """(response, items or None): None when the answer is not ``{"items": [...]}``. ``borrowed``: the
    list is another rule's oracle, so it must be the product's own (else not exercised, see EVT-08)."""
    r = http.get(images_path(store, product))
    body = body_of(r)
    items = body.get("items") if r.status_code == 200 and isinstance(body, dict) else None
    items = items if isinstance(items, list) else None
    if borrowed:
        scoped(r, items, store, product)
    return r, items


def ids_of(items) -> list:
    return [item.get("id") if isinstance(item, dict) else item for item in items or []]


def listed_ids(http, store: str, product: str, what: str, borrowed: bool = True) -> list:
    """The ids a product lists; a list that does not answer its shape stops the check (see EVT-05)."""
    r, items = listed(http, store, product, borrowed)
    needs(r, f"list of {what}", "EVT-05", ok=lambda _: items is not None)
    return ids_of(items)


def is_4xx(response) -> bool:
    return 400 <= response.status_code < 500


def without_url(image: dict) -> dict:
    return {k: v for k, v in image.items() if k != "url"} if isinstance(image, dict) else image


def fresh_product() -> str:
    """A product id in the seed's shape (``5e46f8de-ec4f-4f87-85de-337b88fa2bdd``) nobody has used."""
    return str(uuid.uuid4())


def other_store() -> str:
    """A store id in the seed's shape (``20180413-2595-40E8-80CB-4646C05D81B6``)."""
    return datetime.now().strftime("%Y%m%d-") + str(uuid.uuid4()).upper()[9:]


# -- the state machine ---------------------------------------------------------------------------------
BAD_FILES = {
    "301x300 PNG": lambda: png((5, 5, 5), SIDE + 1, SIDE),
    "300x299 PNG": lambda: png((6, 6, 6), SIDE, SIDE - 1),
    "300x300 JPEG labelled image/png": lambda: image_bytes(SIDE, SIDE, "JPEG", (7, 7, 7)),
    "300x300 GIF labelled image/png": lambda: image_bytes(SIDE, SIDE, "GIF", (8, 8, 8)),
    "plain text labelled image/png": not_an_image,
}
