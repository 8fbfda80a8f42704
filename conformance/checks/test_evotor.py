"""evotor behaviour (EVT-01..10, ALL-04): product images, at most one per product, PNG 300x300 only.

Every check works on products of its own (``<product_id>-<label>-<random>``, and a second store
``<store_id>-<random>`` where scoping is checked), so nothing assumes an empty server or collides with
another check or run; every image a check uploads is deleted when the check ends.
"""

from __future__ import annotations

import contextlib
import io
import re
import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import lru_cache
from urllib.parse import quote, urljoin, urlsplit

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from PIL import Image, PngImagePlugin

from conformance.media import image_bytes, not_an_image

pytestmark = pytest.mark.api("evotor")

LIMIT = 5242800  # the seed: "Объём не более 5242800 байт"
SIDE = 300  # the seed: "Разрешение – 300х300 пикселей"
# the seed's shape: 2018-09-04T13:31:01.104+0000 (UTC, milliseconds, offset without a colon)
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


# -- requests ------------------------------------------------------------------------------------------
def images_path(store: str, product: str, image_id: str | None = None) -> str:
    path = f"/stores/{quote(store, safe='')}/products/{quote(product, safe='')}/images"
    return path if image_id is None else f"{path}/{quote(image_id, safe='')}"


def upload(http, store: str, product: str, data: bytes, mime: str = "image/png", name: str = "image.png"):
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
    return image_bytes(width, height, "PNG", color)


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


def created_image(response, store: str, product: str, data: bytes, made=None, shape=False) -> dict:
    """The 200 body of an upload (remembered for clean-up). Only the EVT-02 checks ask for the whole
    shape (``shape=True``); the others need an id, so a shape defect is reported on EVT-02 alone."""
    if made is not None:
        made.note(response, store, product)
    assert response.status_code == 200, (
        f"upload of a valid {SIDE}x{SIDE} PNG ({len(data)} bytes) to an empty product: expected 200, "
        f"got {response.status_code}: {response.text[:200]}"
    )
    image = response.json()
    if shape:
        problems = image_problems(image, store, product, len(data))
        assert not problems, "upload answer (EVT-02): " + "; ".join(problems)
    else:
        assert isinstance(image, dict) and isinstance(image.get("id"), str) and image["id"], (
            f"upload answer: expected an image object with an id, got {image!r:.300}"
        )
    return image


def listed(http, store: str, product: str, shape=False) -> list[dict]:
    """The items of GET …/images; ``shape=True`` (the EVT-05 checks) also requires the paging object."""
    r = http.get(images_path(store, product))
    assert r.status_code == 200, f"list {store}/{product}: expected 200, got {r.status_code}: {r.text[:200]}"
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("items"), list), (
        f'list: expected {{"items": [...], "paging": {{...}}}}, got {body!r:.300}'
    )
    if shape:
        paging = body.get("paging")
        assert isinstance(paging, dict), f"list (EVT-05): paging must be an object, got {paging!r}"
    return body["items"]


def listed_ids(http, store: str, product: str, shape=False) -> list:
    items = listed(http, store, product, shape)
    return [item.get("id") if isinstance(item, dict) else item for item in items]


def is_4xx(response) -> bool:
    return 400 <= response.status_code < 500


def without_url(image: dict) -> dict:
    return {k: v for k, v in image.items() if k != "url"}


class Made:
    """Images a check created and has not yet seen deleted; the fixture deletes them at the end."""

    def __init__(self):
        self.images: dict[str, tuple[str, str]] = {}  # id -> (store, product)

    def note(self, response, store: str, product: str) -> None:
        if response.status_code == 200:
            try:
                image_id = response.json().get("id")
            except (ValueError, AttributeError):
                return
            if isinstance(image_id, str) and image_id:
                self.images[image_id] = (store, product)

    def gone(self, image_id: str) -> None:
        self.images.pop(image_id, None)


@pytest.fixture
def made(http):
    made = Made()
    yield made
    for image_id, (store, product) in list(made.images.items()):
        with contextlib.suppress(Exception):  # clean-up is best effort; the check's verdict stands
            http.delete(images_path(store, product, image_id))


def fresh_product(target, label: str) -> str:
    return f"{target.product_id}-{label}-{secrets.token_hex(3)}"


def other_store(target) -> str:
    return f"{target.store_id}-{secrets.token_hex(3)}"


# -- the state machine ---------------------------------------------------------------------------------
BAD_FILES = {
    "301x300 PNG": lambda: png((5, 5, 5), SIDE + 1, SIDE),
    "300x299 PNG": lambda: png((6, 6, 6), SIDE, SIDE - 1),
    "300x300 JPEG labelled image/png": lambda: image_bytes(SIDE, SIDE, "JPEG", (7, 7, 7)),
    "300x300 GIF labelled image/png": lambda: image_bytes(SIDE, SIDE, "GIF", (8, 8, 8)),
    "plain text labelled image/png": not_an_image,
}


class EvotorMachine(RuleBasedStateMachine):
    """Three slots (two products of one store, and the first product's id under a second store) and a
    model of each slot's image: upload to an empty slot -> 200, to a full one -> 4xx with the first
    unchanged, bad files -> 4xx and nothing stored, delete -> 204 and gone. After every step each slot
    lists exactly its own image, and the slot the step touched is checked in detail (get, and a get of
    its image under another slot)."""

    def __init__(self, target, http, made):
        super().__init__()
        self.target, self.http, self.made = target, http, made
        tag = secrets.token_hex(3)
        first, second = f"{target.product_id}-sm{tag}-a", f"{target.product_id}-sm{tag}-b"
        self.slots = [
            (target.store_id, first),
            (target.store_id, second),
            (f"{target.store_id}-sm{tag}", first),  # the same product id in another store
        ]
        self.model: dict[tuple[str, str], tuple[dict, bytes] | None] = dict.fromkeys(self.slots)
        self.touched: int | None = None
        self.steps = 0

    def full(self) -> list[int]:
        return [i for i, slot in enumerate(self.slots) if self.model[slot] is not None]

    @rule(slot=st.integers(0, 2), color=st.tuples(*[st.integers(0, 255)] * 3))
    def upload(self, slot, color):
        self.touched = slot
        store, product = self.slots[slot]
        data = png(color)
        r = upload(self.http, store, product, data)
        if self.model[(store, product)] is None:
            self.model[(store, product)] = (created_image(r, store, product, data, self.made), data)
        else:
            self.made.note(r, store, product)
            first = self.model[(store, product)][0]["id"]
            assert is_4xx(r), (
                f"second upload to a product holding {first}: expected 4xx (EVT-04), got {r.status_code}"
            )

    @rule(slot=st.integers(0, 2), kind=st.sampled_from(sorted(BAD_FILES)))
    def upload_bad_file(self, slot, kind):
        self.touched = slot
        store, product = self.slots[slot]
        r = upload(self.http, store, product, BAD_FILES[kind]())
        self.made.note(r, store, product)
        assert is_4xx(r), f"upload of a {kind}: expected 4xx (EVT-03), got {r.status_code}: {r.text[:200]}"

    @precondition(lambda self: self.full())
    @rule(data=st.data())
    def delete(self, data):
        self.touched = data.draw(st.sampled_from(self.full()), label="slot")
        slot = self.slots[self.touched]
        image = self.model[slot][0]
        r = self.http.delete(images_path(*slot, image["id"]))
        assert r.status_code == 204, f"delete {image['id']}: expected 204 (EVT-07), got {r.status_code}"
        assert r.content == b"", f"delete answered 204 with a body (EVT-07): {r.content[:100]!r}"
        self.made.gone(image["id"])
        self.model[slot] = None
        r = self.http.get(images_path(*slot, image["id"]))
        assert r.status_code == 404, (
            f"get of the deleted {image['id']}: expected 404 (EVT-07), got {r.status_code}"
        )

    @precondition(lambda self: self.full())
    @rule(data=st.data(), other=st.integers(1, 2))
    def delete_under_another_scope(self, data, other):
        self.touched = data.draw(st.sampled_from(self.full()), label="slot")
        image = self.model[self.slots[self.touched]][0]
        wrong = self.slots[(self.touched + other) % 3]
        r = self.http.delete(images_path(*wrong, image["id"]))
        assert is_4xx(r), (
            f"delete of {image['id']} (of {self.slots[self.touched]}) under {wrong}: expected 4xx (EVT-08), "
            f"got {r.status_code}"
        )

    @invariant()
    def every_slot_shows_exactly_its_image(self):
        self.steps += 1
        for slot in self.slots:
            held = self.model[slot]
            want = [held[0]["id"]] if held else []
            got = listed_ids(self.http, *slot, shape=True)
            assert got == want, f"list of {slot}: expected the ids {want} (EVT-05/08), got {got}"
        held = self.model[self.slots[self.touched]] if self.touched is not None else None
        if held is not None:
            slot, image = self.slots[self.touched], held[0]
            r = self.http.get(images_path(*slot, image["id"]))
            assert r.status_code == 200, f"get {image['id']}: expected 200 (EVT-06), got {r.status_code}"
            assert without_url(r.json()) == without_url(image), (
                f"get {image['id']} (EVT-06/EVT-04: the first image must stay unchanged): expected "
                f"{without_url(image)}, got {r.json()}"
            )
            wrong = self.slots[(self.touched + 1 + self.steps % 2) % 3]
            r = self.http.get(images_path(*wrong, image["id"]))
            assert r.status_code == 404, (
                f"get {image['id']} (of {slot}) under {wrong}: expected 404 (EVT-08), got {r.status_code}"
            )
        if self.steps % 4 == 1:
            r = self.http.get(images_path(*self.slots[0], str(uuid.uuid4())))
            assert r.status_code == 404, f"get of an unknown id: expected 404 (EVT-06), got {r.status_code}"


@pytest.mark.writes
@pytest.mark.rule("EVT-03", "EVT-04", "EVT-05", "EVT-06", "EVT-07", "EVT-08")
def test_evt_state_machine(target, http, made, hypothesis_settings):
    run_state_machine_as_test(lambda: EvotorMachine(target, http, made), settings=hypothesis_settings)


# -- EVT-01 --------------------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("EVT-01")
@pytest.mark.parametrize("method", ["upload", "list", "get", "delete"])
def test_evt01_every_method_without_token_is_401(target, http, made, method):
    store, product = target.store_id, fresh_product(target, "auth")
    image = created_image(upload(http, store, product, png((1, 2, 3))), store, product, png((1, 2, 3)), made)
    if method == "upload":  # to another, empty product: a 401 must store nothing there
        empty = fresh_product(target, "auth-empty")
        files = {"datafile": ("image.png", png((3, 2, 1)), "image/png")}
        r = without_token(http, "POST", images_path(store, empty), files=files)
        made.note(r, store, empty)
    else:
        path = images_path(store, product, None if method == "list" else image["id"])
        r = without_token(http, "DELETE" if method == "delete" else "GET", path)
    assert r.status_code == 401, f"{method} without X-Authorization: expected 401, got {r.status_code}"
    if method == "upload":
        assert listed_ids(http, store, empty) == [], "an upload without X-Authorization was stored"
    assert listed_ids(http, store, product) == [image["id"]], (
        f"{method} without X-Authorization changed the product's images"
    )


@pytest.mark.rule("EVT-01")
@pytest.mark.parametrize("method", ["GET list", "GET image", "DELETE image"])
def test_evt01_without_token_is_401_read_only(target, http, method):
    """Safe under --read-only: a product nobody uses, an id that does not exist."""
    verb, what = method.split()
    path = images_path(
        target.store_id, fresh_product(target, "ro"), None if what == "list" else str(uuid.uuid4())
    )
    r = without_token(http, verb, path)
    assert r.status_code == 401, f"{method} without X-Authorization: expected 401, got {r.status_code}"


# -- EVT-02 / EVT-03 -----------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("EVT-02")
def test_evt02_upload_answers_the_image(target, http, made):
    store, product, data = target.store_id, fresh_product(target, "shape"), png((90, 160, 20))
    r = upload(http, store, product, data)
    image = created_image(r, store, product, data, made, shape=True)
    content_type = r.headers.get("content-type", "")
    assert content_type.split(";")[0].strip() == "application/json", (
        f"upload answer: expected application/json, got {content_type!r}"
    )
    assert isinstance(image.get("user_id"), str), image


@pytest.mark.writes
@pytest.mark.rule("EVT-02")
def test_evt02_a_png_of_exactly_the_limit_is_accepted(target, http, made):
    store, product, data = target.store_id, fresh_product(target, "limit"), png_of_size(LIMIT)
    created_image(upload(http, store, product, data), store, product, data, made, shape=True)


@pytest.mark.writes
@pytest.mark.rule("EVT-03")
@pytest.mark.parametrize("kind", [*sorted(BAD_FILES), "300x300 PNG of 5242801 bytes"])
def test_evt03_bad_files_are_refused_and_not_stored(target, http, made, kind):
    store, product = target.store_id, fresh_product(target, "bad")
    data = png_of_size(LIMIT + 1) if kind.endswith("5242801 bytes") else BAD_FILES[kind]()
    r = upload(http, store, product, data)
    made.note(r, store, product)
    assert is_4xx(r), f"upload of a {kind}: expected 4xx, got {r.status_code}: {r.text[:200]}"
    assert listed_ids(http, store, product) == [], f"the refused {kind} was stored"
    good = png((11, 22, 33))
    created_image(upload(http, store, product, good), store, product, good, made)  # nothing took the slot


# -- EVT-04 --------------------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("EVT-04")
def test_evt04_one_image_per_product_until_deleted(target, http, made):
    store, product = target.store_id, fresh_product(target, "one")
    first_data, second_data = png((250, 0, 0)), png((0, 0, 250))
    first = created_image(upload(http, store, product, first_data), store, product, first_data, made)
    r = upload(http, store, product, second_data)
    made.note(r, store, product)
    assert is_4xx(r), f"a second upload to a product with an image: expected 4xx, got {r.status_code}"
    again = http.get(images_path(store, product, first["id"]))
    assert again.status_code == 200 and without_url(again.json()) == without_url(first), (
        f"the first image must stay unchanged: expected {without_url(first)}, got {again.status_code} "
        f"{again.text[:300]}"
    )
    assert listed_ids(http, store, product) == [first["id"]], "the product must still list only the first"
    r = http.delete(images_path(store, product, first["id"]))
    assert r.is_success, f"delete of the first: expected 204, got {r.status_code}"
    made.gone(first["id"])
    second = created_image(upload(http, store, product, second_data), store, product, second_data, made)
    assert listed_ids(http, store, product) == [second["id"]], "after the delete, the new upload is listed"


# -- EVT-05 / EVT-06 -----------------------------------------------------------------------------------
@pytest.mark.rule("EVT-05")
def test_evt05_list_of_a_product_without_images(target, http):
    items = listed(http, target.store_id, fresh_product(target, "empty"), shape=True)
    assert items == [], f"a product nobody uploaded to: expected no items, got {items}"


@pytest.mark.writes
@pytest.mark.rule("EVT-05")
def test_evt05_list_holds_the_image(target, http, made):
    store, product, data = target.store_id, fresh_product(target, "list"), png((40, 40, 200))
    image = created_image(upload(http, store, product, data), store, product, data, made)
    items = listed(http, store, product, shape=True)
    assert len(items) == 1 and without_url(items[0]) == without_url(image), (
        f"list: expected exactly the uploaded image {without_url(image)}, got {items}"
    )


@pytest.mark.rule("EVT-06")
def test_evt06_unknown_id_is_404(target, http):
    r = http.get(images_path(target.store_id, target.product_id, str(uuid.uuid4())))
    assert r.status_code == 404, f"get of an unknown image id: expected 404, got {r.status_code}"


@pytest.mark.writes
@pytest.mark.rule("EVT-06")
def test_evt06_get_returns_the_image(target, http, made):
    store, product, data = target.store_id, fresh_product(target, "get"), png((120, 40, 200))
    image = created_image(upload(http, store, product, data), store, product, data, made)
    r = http.get(images_path(store, product, image["id"]))
    assert r.status_code == 200, f"get of the uploaded image: expected 200, got {r.status_code}"
    assert without_url(r.json()) == without_url(image), f"get: expected {without_url(image)}, got {r.json()}"


# -- EVT-07 --------------------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("EVT-07")
def test_evt07_delete_is_204_and_the_image_is_gone(target, http, made):
    store, product, data = target.store_id, fresh_product(target, "del"), png((0, 90, 90))
    image = created_image(upload(http, store, product, data), store, product, data, made)
    r = http.delete(images_path(store, product, image["id"]))
    assert r.status_code == 204, f"delete: expected 204, got {r.status_code}: {r.text[:200]}"
    assert r.content == b"", f"delete: expected no body, got {r.content[:200]!r}"
    made.gone(image["id"])
    r = http.get(images_path(store, product, image["id"]))
    assert r.status_code == 404, f"get after delete: expected 404, got {r.status_code}"
    assert listed_ids(http, store, product) == [], "the deleted image is still listed"


# -- EVT-08 --------------------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("EVT-08")
def test_evt08_an_image_never_shows_under_another_product_or_store(target, http, made):
    store, product, data = target.store_id, fresh_product(target, "scope"), png((70, 0, 70))
    image = created_image(upload(http, store, product, data), store, product, data, made)
    elsewhere = {
        "another product": (store, fresh_product(target, "scope-other")),
        "another store": (other_store(target), product),
    }
    for where, (s, p) in elsewhere.items():
        assert image["id"] not in listed_ids(http, s, p), f"the image is listed under {where} ({s}/{p})"
        r = http.get(images_path(s, p, image["id"]))
        assert r.status_code == 404, f"get under {where} ({s}/{p}): expected 404, got {r.status_code}"
        r = http.delete(images_path(s, p, image["id"]))
        assert is_4xx(r), f"delete under {where} ({s}/{p}): expected 4xx, got {r.status_code}"
        assert listed_ids(http, store, product) == [image["id"]], f"a delete under {where} removed the image"
        r = upload(http, s, p, png((71, 1, 71)))
        made.note(r, s, p)
        assert r.status_code == 200, (
            f"upload to {where} ({s}/{p}) must not conflict with this product's image: got {r.status_code}"
        )


# -- EVT-09 / EVT-10 (SHOULD) --------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("EVT-09")
def test_evt09_url_downloads_the_uploaded_bytes(target, http, made):
    store, product = target.store_id, fresh_product(target, "url")
    data = png((13, 14, 15))
    image = created_image(upload(http, store, product, data), store, product, data, made)
    r = download(http, target, image["url"])
    assert r.status_code == 200, f"GET url {image['url']}: expected 200, got {r.status_code}"
    assert r.content == data, (
        f"url returned {len(r.content)} bytes, the upload had {len(data)} (not the same)"
    )
    content_type = r.headers.get("content-type", "").split(";")[0].strip()
    assert content_type == "image/png", f"url: expected image/png, got {content_type!r}"
    assert http.delete(images_path(store, product, image["id"])).is_success, "delete of the image failed"
    made.gone(image["id"])
    r = download(http, target, image["url"])
    assert r.status_code >= 400, f"the url of a deleted image still downloads (status {r.status_code})"


@pytest.mark.writes
@pytest.mark.rule("EVT-10")
def test_evt10_timestamps_have_the_seed_shape(target, http, made):
    store, product, data = target.store_id, fresh_product(target, "time"), png((1, 99, 199))
    image = created_image(upload(http, store, product, data), store, product, data, made)
    answers = {
        "upload": image,
        "get": http.get(images_path(store, product, image["id"])).json(),
        "list": (listed(http, store, product) or [{}])[0],
    }
    for where, obj in answers.items():
        for key in ("created_at", "updated_at"):
            value = obj.get(key)
            assert isinstance(value, str) and TIMESTAMP.match(value), (
                f"{where} {key}: expected the seed's shape 2018-09-04T13:31:01.104+0000, got {value!r}"
            )
            datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")  # a real date and time, not just digits


# -- read-only: whatever the target's product already holds (e.g. --set on a real server) -------------
def existing_images(http, target) -> list:
    items = listed(http, target.store_id, target.product_id)
    if not items:
        pytest.skip(f"no images under {target.store_id}/{target.product_id} to inspect")
    return items


@pytest.mark.rule("EVT-06", "EVT-08")
def test_evt08_existing_images_belong_to_their_product(target, http):
    for item in existing_images(http, target):
        where = (item.get("store_id"), item.get("product_id"))
        assert where == (target.store_id, target.product_id), (
            f"list of {target.store_id}/{target.product_id} shows an image of {where}: {item}"
        )
        r = http.get(images_path(target.store_id, target.product_id, item["id"]))
        assert r.status_code == 200 and without_url(r.json()) == without_url(item), (
            f"get of listed image {item['id']}: expected 200 and {without_url(item)}, got {r.status_code} "
            f"{r.text[:300]}"
        )


@pytest.mark.rule("EVT-10")
def test_evt10_existing_images_timestamps(target, http):
    for item in existing_images(http, target):
        for key in ("created_at", "updated_at"):
            value = item.get(key)
            assert isinstance(value, str) and TIMESTAMP.match(value), (
                f"listed {item.get('id')} {key}: expected the seed's shape 2018-09-04T13:31:01.104+0000, "
                f"got {value!r}"
            )


# -- ALL-04 --------------------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("ALL-04")
def test_all04_parallel_uploads_lose_nothing(target, http, made):
    store = target.store_id
    products = [fresh_product(target, f"par{i}") for i in range(20)]
    payloads = [png((i * 12, 255 - i * 12, 77)) for i in range(20)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda i: upload(http, store, products[i], payloads[i]), range(20)))
    for r, product in zip(responses, products, strict=True):
        made.note(r, store, product)
    created = [
        created_image(r, store, product, data)
        for r, product, data in zip(responses, products, payloads, strict=True)
    ]
    assert len({c["id"] for c in created}) == 20, "parallel uploads got duplicate ids"
    for image, product, data in zip(created, products, payloads, strict=True):
        assert listed_ids(http, store, product) == [image["id"]], (
            f"parallel upload {image['id']} is not listed under its product {product}"
        )
        r = download(http, target, image["url"])
        assert r.status_code == 200 and r.content == data, (
            f"parallel upload {image['id']}: url gave {r.status_code} with {len(r.content)} bytes, "
            f"expected the {len(data)} uploaded bytes"
        )


@pytest.mark.writes
@pytest.mark.rule("ALL-04", "EVT-04")
def test_all04_parallel_uploads_to_one_product_keep_exactly_one(target, http, made):
    store, product = target.store_id, fresh_product(target, "race")
    payloads = [png((i * 25, 3, 200 - i * 15)) for i in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda data: upload(http, store, product, data), payloads))
    for r in responses:
        made.note(r, store, product)
    statuses = [r.status_code for r in responses]
    winners = [i for i, status in enumerate(statuses) if status == 200]
    assert len(winners) == 1 and all(is_4xx(r) for i, r in enumerate(responses) if i != winners[0]), (
        f"10 parallel uploads to one product: expected one 200 and nine 4xx, got {statuses}"
    )
    image = created_image(responses[winners[0]], store, product, payloads[winners[0]])
    assert listed_ids(http, store, product) == [image["id"]], "the product must list exactly the winner"
