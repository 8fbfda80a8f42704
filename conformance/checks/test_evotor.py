"""evotor behaviour (EVT-01..10, ALL-04, ALL-05): product images, at most one per product, PNG 300x300 only.

MUST rests on the seed alone: the upload answers 200 with the image, the delete 204, a product holds one
image, the file is a PNG of 300x300 pixels and at most 5242800 bytes. The seed names no error status at
all, so every refusal is "any 4xx, nothing changed" at MUST, and the mock's codes (401, 400, 413, 409,
404) are SHOULD parts naming their decision. Error bodies are not read here: the schema layer judges them
(ALL-02, the full spec at SHOULD).

Every check works on products of its own (fresh ids in the seed's UUID shape, and a second store where
scoping is checked), so nothing assumes an empty server or collides with another check or run. The setup
upload is the seed's example request (``-F datafile=@000.png`` with ``X-Authorization``) carrying a
realistic PNG of a few KB; where the rule under test is not the upload, any 2xx will do and a refusal
makes the check "not exercised" (see EVT-02). Every image a check uploads is deleted when it ends.
"""

from __future__ import annotations

import contextlib
import io
import random
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
from PIL import Image, ImageDraw, PngImagePlugin

from conformance.media import image_bytes, not_an_image
from conformance.recording import RecordingClient
from conformance.verdicts import NotExercised, check, judged, needs, refused

pytestmark = pytest.mark.api("evotor")

LIMIT = 5242800  # the seed: "Объём не более 5242800 байт"
SIDE = 300  # the seed: "Разрешение – 300х300 пикселей"
# the seed's shape: 2018-09-04T13:31:01.104+0000 (UTC, milliseconds, offset without a colon)
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
POOL = 6  # concurrent requests where their order does not matter

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


def body_of(response):
    try:
        return response.json()
    except ValueError:
        return None


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


def concurrently(function, items) -> list:
    with ThreadPoolExecutor(max_workers=POOL) as pool:
        return list(pool.map(function, items))


class Made:
    """Images a check created and has not yet seen deleted; the fixture deletes them at the end."""

    def __init__(self):
        self.images: dict[str, tuple[str, str]] = {}  # id -> (store, product)

    def note(self, response, store: str, product: str) -> None:
        if 200 <= response.status_code < 300:
            body = body_of(response)
            image_id = body.get("id") if isinstance(body, dict) else None
            if isinstance(image_id, str) and image_id:
                self.images[image_id] = (store, product)

    def gone(self, image_id: str) -> None:
        self.images.pop(image_id, None)

    def clean_up(self, http) -> None:
        def delete(item):
            image_id, (store, product) = item
            with contextlib.suppress(Exception):  # clean-up is best effort; the check's verdict stands
                http.delete(images_path(store, product, image_id))

        concurrently(delete, list(self.images.items()))


@pytest.fixture
def made(http):
    made = Made()
    yield made
    made.clean_up(http)


def fresh_product() -> str:
    """A product id in the seed's shape (``5e46f8de-ec4f-4f87-85de-337b88fa2bdd``) nobody has used."""
    return str(uuid.uuid4())


def other_store() -> str:
    """A store id in the seed's shape (``20180413-2595-40E8-80CB-4646C05D81B6``)."""
    return datetime.now().strftime("%Y%m%d-") + str(uuid.uuid4()).upper()[9:]


# -- one image shared by the read-only checks of one module run (fewer round trips) ---------------------
@dataclass
class Shared:
    store: str
    product: str
    data: bytes
    response: object  # the upload's response: each check decides with needs() whether it can go on

    def image(self) -> dict:
        return image_of(self.response, "the shared upload of the seed's example request")


@pytest.fixture(scope="module")
def shared(target, tls):
    """The seed's example upload, once per run; checks that only read it share it. Never raises: a refused
    upload is each check's "not exercised"."""
    client = RecordingClient(base_url=target.base_url, headers=target.auth_headers(), timeout=30, verify=tls)
    made = Made()
    with client:
        store, product, data = target.store_id, fresh_product(), photo_png(1)
        response = upload(client, store, product, data)
        made.note(response, store, product)
        yield Shared(store, product, data, response)
        made.clean_up(client)


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
    model of each slot's image: upload to an empty slot -> 2xx, to a full one -> 4xx with the first
    unchanged, bad files -> 4xx and nothing stored, delete -> 204 and gone. After every step each slot
    lists exactly its own image, and the slot the step touched is checked in detail (get, and a get of
    its image under another slot). Each message names the one rule its break belongs to."""

    def __init__(self, target, http, made):
        super().__init__()
        self.target, self.http, self.made = target, http, made
        first, second = fresh_product(), fresh_product()
        self.slots = [(target.store_id, first), (target.store_id, second), (other_store(), first)]
        self.model: dict[tuple[str, str], tuple[dict, bytes] | None] = dict.fromkeys(self.slots)
        self.deleted: set[str] = set()
        self.touched: int | None = None
        self.steps = 0

    def full(self) -> list[int]:
        return [i for i, slot in enumerate(self.slots) if self.model[slot] is not None]

    def owner(self, image_id) -> tuple[str, str] | None:
        return next((s for s, held in self.model.items() if held and held[0]["id"] == image_id), None)

    @rule(slot=st.integers(0, 2), color=st.tuples(*[st.integers(0, 255)] * 3))
    def upload(self, slot, color):
        self.touched = slot
        store, product = self.slots[slot]
        data = photo_png(int.from_bytes(bytes(color), "big"))  # realistic, distinct per colour
        r = judged(upload(self.http, store, product, data))
        self.made.note(r, store, product)
        if self.model[(store, product)] is None:
            body = body_of(r)
            assert r.is_success and isinstance(body, dict) and body.get("id"), (
                f"upload of a valid {SIDE}x{SIDE} PNG to an empty product: expected 200 with the image "
                f"(EVT-02), got {r.status_code}: {r.text[:200]}"
            )
            self.model[(store, product)] = (body, data)
        else:
            first = self.model[(store, product)][0]["id"]
            assert is_4xx(r), (
                f"second upload to a product holding {first}: expected 4xx (EVT-04), got {r.status_code}"
            )

    @rule(slot=st.integers(0, 2), kind=st.sampled_from(sorted(BAD_FILES)))
    def upload_bad_file(self, slot, kind):
        self.touched = slot
        store, product = self.slots[slot]
        r = judged(upload(self.http, store, product, BAD_FILES[kind]()))
        self.made.note(r, store, product)
        assert is_4xx(r), f"upload of a {kind}: expected 4xx (EVT-03), got {r.status_code}: {r.text[:200]}"

    @precondition(lambda self: self.full())
    @rule(data=st.data())
    def delete(self, data):
        self.touched = data.draw(st.sampled_from(self.full()), label="slot")
        slot = self.slots[self.touched]
        image = self.model[slot][0]
        r = judged(self.http.delete(images_path(*slot, image["id"])))
        assert r.status_code == 204, f"delete {image['id']}: expected 204 (EVT-07), got {r.status_code}"
        assert r.content == b"", f"delete answered 204 with a body (EVT-07): {r.content[:100]!r}"
        self.made.gone(image["id"])
        self.deleted.add(image["id"])
        self.model[slot] = None
        r = judged(self.http.get(images_path(*slot, image["id"])))
        assert is_4xx(r), f"get of the deleted {image['id']}: expected 4xx (EVT-07), got {r.status_code}"

    @precondition(lambda self: self.full())
    @rule(data=st.data(), other=st.integers(1, 2))
    def delete_under_another_scope(self, data, other):
        self.touched = data.draw(st.sampled_from(self.full()), label="slot")
        image = self.model[self.slots[self.touched]][0]
        wrong = self.slots[(self.touched + other) % 3]
        r = judged(self.http.delete(images_path(*wrong, image["id"])))
        assert is_4xx(r), (
            f"delete of {image['id']} (of {self.slots[self.touched]}) under {wrong}: expected 4xx (EVT-08), "
            f"got {r.status_code}"
        )

    @invariant()
    def every_slot_shows_exactly_its_image(self):
        """One round trip: the three lists and the touched slot's gets go out together."""
        self.steps += 1
        held = self.model[self.slots[self.touched]] if self.touched is not None else None
        probes = [lambda slot=slot: listed(self.http, *slot) for slot in self.slots]
        if held is not None:
            slot, image = self.slots[self.touched], held[0]
            wrong = self.slots[(self.touched + 1 + self.steps % 2) % 3]
            probes.append(lambda: self.http.get(images_path(*slot, image["id"])))
            probes.append(lambda: self.http.get(images_path(*wrong, image["id"])))
            if self.steps % 4 == 1:
                probes.append(lambda: self.http.get(images_path(*slot, str(uuid.uuid4()))))
        answers = concurrently(lambda probe: probe(), probes)
        for slot, (r, items) in zip(self.slots, answers, strict=False):
            judged(r)
            assert items is not None, (
                f"list of {slot}: expected 200 with {{'items': [...]}} (EVT-05), got {r.status_code}"
            )
            got = ids_of(items)
            foreign = [i for i in got if self.owner(i) not in (None, slot)]
            assert not foreign, f"list of {slot} shows {foreign}, images of another slot (EVT-08)"
            stale = [i for i in got if i in self.deleted]
            assert not stale, f"list of {slot} still shows the deleted {stale} (EVT-07)"
            own = self.model[slot]
            want = [own[0]["id"]] if own else []
            assert got == want, f"list of {slot}: expected the ids {want} (EVT-05), got {got}"
        if held is None:
            return
        r = judged(answers[3])
        assert r.status_code == 200, f"get {image['id']}: expected 200 (EVT-06), got {r.status_code}"
        assert without_url(body_of(r)) == without_url(image), (
            f"get {image['id']} (the image must stay as uploaded, EVT-06): expected {without_url(image)}, "
            f"got {r.text[:400]}"
        )
        r = judged(answers[4])
        shown = body_of(r) if r.is_success else None
        assert not (isinstance(shown, dict) and shown.get("id") == image["id"]), (
            f"get {image['id']} (of {slot}) under {wrong} shows it (EVT-08): {r.status_code}"
        )
        assert is_4xx(r), (
            f"get of {wrong}'s unknown id {image['id']}: expected 4xx (EVT-06), got {r.status_code}"
        )
        if len(answers) > 5:
            r = judged(answers[5])
            assert is_4xx(r), f"get of an unknown id: expected 4xx (EVT-06), got {r.status_code}"


@pytest.mark.writes
@pytest.mark.rule("EVT-03", "EVT-02", "EVT-04", "EVT-05", "EVT-06", "EVT-07", "EVT-08")
def test_evt_state_machine(target, http, made, hypothesis_settings):
    run_state_machine_as_test(lambda: EvotorMachine(target, http, made), settings=hypothesis_settings)


# -- EVT-01 --------------------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("EVT-01")
def test_evt01_every_method_without_token_is_refused_and_changes_nothing(target, http, made):
    store, product, empty = target.store_id, fresh_product(), fresh_product()
    image = image_of(upload(http, store, product, photo_png(2)))
    made.images[image["id"]] = (store, product)
    files = {"datafile": ("000.png", photo_png(3), "image/png")}
    requests = {
        "upload": ("POST", images_path(store, empty), {"files": files}),
        "list": ("GET", images_path(store, product), {}),
        "get": ("GET", images_path(store, product, image["id"]), {}),
        "delete": ("DELETE", images_path(store, product, image["id"]), {}),
    }
    answers = concurrently(lambda m: without_token(http, m[0], m[1], **m[2]), requests.values())
    made.note(answers[0], store, empty)
    for method, r in zip(requests, answers, strict=True):
        refused(r, f"{method} without X-Authorization", should_status=401, decision=NO_TOKEN_401)
    check(
        listed_ids(http, store, empty, "the product of the refused upload") == [],
        "an upload without X-Authorization was stored",
        response=answers[0],
    )
    check(
        listed_ids(http, store, product, "the product") == [image["id"]],
        "a request without X-Authorization changed the product's images",
        response=answers[3],
    )


@pytest.mark.rule("EVT-01")
def test_evt01_without_token_is_refused_read_only(target, http):
    """Safe under --read-only: a product nobody uses, an id that does not exist."""
    product = fresh_product()
    paths = {
        "GET list": images_path(target.store_id, product),
        "GET image": images_path(target.store_id, product, str(uuid.uuid4())),
    }
    if not target.read_only:  # a DELETE of an id that does not exist is still a DELETE
        paths["DELETE image"] = images_path(target.store_id, product, str(uuid.uuid4()))
    answers = concurrently(lambda item: without_token(http, item[0].split()[0], item[1]), paths.items())
    for method, r in zip(paths, answers, strict=True):
        refused(r, f"{method} without X-Authorization", should_status=401, decision=NO_TOKEN_401)


# -- EVT-02 / EVT-03 -----------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("EVT-02")
def test_evt02_the_seeds_example_upload_answers_the_image(shared):
    """The seed: ``200 Success`` with the image object; store_id/product_id echo the path."""
    r = shared.response
    check(
        r.status_code == 200,
        f"upload: expected 200 (the seed's 200 Success), got {r.status_code}: {r.text[:200]}",
        response=r,
    )
    content_type = r.headers.get("content-type", "").split(";")[0].strip()
    check(
        content_type == "application/json",
        f"upload answer: expected application/json, got {content_type!r}",
        response=r,
    )
    for problem in image_problems(body_of(r), shared.store, shared.product, len(shared.data)):
        check(False, f"upload answer: {problem}", response=r)


@pytest.mark.writes
@pytest.mark.rule("EVT-03")
def test_evt03_bad_files_are_refused_and_not_stored(target, http, made):
    cases = {kind: make() for kind, make in BAD_FILES.items()}
    cases["300x300 PNG of 5242801 bytes"] = png_of_size(LIMIT + 1)
    products = {kind: fresh_product() for kind in cases}
    store = target.store_id

    def refused_then_free(kind):
        r = upload(http, store, products[kind], cases[kind])
        made.note(r, store, products[kind])
        return r, listed(http, store, products[kind])

    results = concurrently(refused_then_free, cases)
    for kind, (r, (listing, items)) in zip(cases, results, strict=True):
        status, decision = (413, TOO_LARGE_413) if "5242801" in kind else (400, BAD_FILE_400)
        refused(r, f"upload of a {kind}", should_status=status, decision=decision)
        needs(listing, "list of the product", "EVT-05", ok=lambda _, items=items: items is not None)
        check(
            items == [], f"the refused {kind} was stored: the product lists {ids_of(items)}", response=listing
        )
    # nothing took the slots: a valid upload to each product still succeeds
    goods = concurrently(lambda kind: upload(http, store, products[kind], photo_png(10)), cases)
    for kind, r in zip(cases, goods, strict=True):
        made.note(r, store, products[kind])
        check(
            r.is_success,
            f"after the refused {kind}, a valid upload to the product got {r.status_code}: {r.text[:200]}",
            response=r,
        )


# -- EVT-04 --------------------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("EVT-04")
def test_evt04_one_image_per_product_until_deleted(target, http, made):
    store, product = target.store_id, fresh_product()
    first_data, second_data = photo_png(4), photo_png(5)
    first_r = upload(http, store, product, first_data)
    made.note(first_r, store, product)
    first = image_of(first_r)
    r = upload(http, store, product, second_data)
    made.note(r, store, product)
    refused(r, "a second upload to a product with an image", should_status=409, decision=OCCUPIED_409)
    again = http.get(images_path(store, product, first["id"]))
    needs(again, "get of the first image", "EVT-06")
    check(
        without_url(body_of(again)) == without_url(first),
        f"the first image must stay unchanged: expected {without_url(first)}, got {again.text[:300]}",
        response=again,
    )
    check(
        listed_ids(http, store, product, "the product") == [first["id"]],
        "the product must still list only the first image",
        response=r,
    )
    r = needs(http.delete(images_path(store, product, first["id"])), "delete of the first image", "EVT-07")
    made.gone(first["id"])
    r = upload(http, store, product, second_data)
    made.note(r, store, product)
    check(
        r.is_success,
        f"after the delete, a new upload must succeed: got {r.status_code}: {r.text[:200]}",
        response=r,
    )
    if r.is_success:
        second = body_of(r) or {}
        check(
            listed_ids(http, store, product, "the product") == [second.get("id")],
            "after the delete, the product must list the new image",
            response=r,
        )


# -- EVT-05 / EVT-06 -----------------------------------------------------------------------------------
@pytest.mark.rule("EVT-05")
def test_evt05_list_of_a_product_without_images(target, http):
    product = fresh_product()
    r = judged(http.get(images_path(target.store_id, product)))
    body = body_of(r)
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        scoped(r, body["items"], target.store_id, product)
    check(r.status_code == 200, f"list: expected 200, got {r.status_code}: {r.text[:200]}", response=r)
    check(
        isinstance(body, dict) and body.get("items") == [] and isinstance(body.get("paging"), dict),
        f'a product nobody uploaded to: expected {{"items": [], "paging": {{...}}}}, got {r.text[:300]}',
        response=r,
    )


@pytest.mark.writes
@pytest.mark.rule("EVT-05")
def test_evt05_list_holds_the_image(http, shared):
    image = shared.image()
    r = judged(http.get(images_path(shared.store, shared.product)))
    body = body_of(r)
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        scoped(r, body["items"], shared.store, shared.product)
    check(r.status_code == 200, f"list: expected 200, got {r.status_code}: {r.text[:200]}", response=r)
    ok = (
        isinstance(body, dict)
        and isinstance(body.get("items"), list)
        and isinstance(body.get("paging"), dict)
    )
    check(ok, f'list: expected {{"items": [...], "paging": {{...}}}}, got {r.text[:300]}', response=r)
    items = body.get("items") if ok else None
    check(
        items is not None and len(items) == 1 and without_url(items[0]) == without_url(image),
        f"list: expected exactly the uploaded image {without_url(image)}, got {items}",
        response=r,
    )


@pytest.mark.rule("EVT-06")
def test_evt06_unknown_id_is_refused(target, http):
    r = http.get(images_path(target.store_id, target.product_id, str(uuid.uuid4())))
    refused(r, "get of an unknown image id", should_status=404, decision=UNKNOWN_404)


@pytest.mark.writes
@pytest.mark.rule("EVT-06")
def test_evt06_get_returns_the_image(http, shared):
    image = shared.image()
    r = judged(http.get(images_path(shared.store, shared.product, image["id"])))
    check(r.status_code == 200, f"get of the uploaded image: expected 200, got {r.status_code}", response=r)
    check(
        without_url(body_of(r)) == without_url(image),
        f"get: expected {without_url(image)}, got {r.text[:400]}",
        response=r,
    )


# -- EVT-07 --------------------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("EVT-07")
def test_evt07_delete_is_204_and_the_image_is_gone(target, http, made):
    store, product = target.store_id, fresh_product()
    created = upload(http, store, product, photo_png(6))
    made.note(created, store, product)
    image = image_of(created)
    r = http.delete(images_path(store, product, image["id"]))
    check(r.status_code == 204, f"delete: expected 204, got {r.status_code}: {r.text[:200]}", response=r)
    check(r.content == b"", f"delete: expected no body, got {r.content[:200]!r}", response=r)
    after, (listing, items) = concurrently(
        lambda f: f(),
        [lambda: http.get(images_path(store, product, image["id"])), lambda: listed(http, store, product)],
    )
    if refused(after, "get after the delete", should_status=404, decision=UNKNOWN_404):
        made.gone(image["id"])
    needs(listing, "list of the product", "EVT-05", ok=lambda _: items is not None)
    check(image["id"] not in ids_of(items), "the deleted image is still listed", response=listing)


# -- EVT-08 --------------------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("EVT-08")
def test_evt08_an_image_never_shows_under_another_product_or_store(target, http, made):
    store, product = target.store_id, fresh_product()
    created = upload(http, store, product, photo_png(7))
    made.note(created, store, product)
    image = image_of(created)
    elsewhere = {"another product": (store, fresh_product()), "another store": (other_store(), product)}

    def probe(where):
        s, p = elsewhere[where]
        return listed(http, s, p, borrowed=False), http.get(images_path(s, p, image["id"]))

    for where, ((listing, items), got) in zip(elsewhere, concurrently(probe, elsewhere), strict=True):
        s, p = elsewhere[where]
        check(
            image["id"] not in ids_of(items), f"the image is listed under {where} ({s}/{p})", response=listing
        )
        refused(got, f"get under {where} ({s}/{p})", should_status=404, decision=UNKNOWN_404)
    for where, (s, p) in elsewhere.items():
        r = http.delete(images_path(s, p, image["id"]))
        refused(r, f"delete under {where} ({s}/{p})", should_status=404, decision=UNKNOWN_404)
        check(
            listed_ids(http, store, product, "the image's own product", borrowed=False) == [image["id"]],
            f"a delete under {where} removed the image",
            response=r,
        )
    uploads = concurrently(lambda where: upload(http, *elsewhere[where], photo_png(8)), elsewhere)
    for where, r in zip(elsewhere, uploads, strict=True):
        made.note(r, *elsewhere[where])
        check(
            r.is_success,
            f"upload to {where} must not conflict with this product's image: got "
            f"{r.status_code}: {r.text[:200]}",
            response=r,
        )


# -- EVT-09 / EVT-10 (SHOULD) --------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("EVT-09")
def test_evt09_url_downloads_the_uploaded_bytes(target, http, made):
    store, product, data = target.store_id, fresh_product(), photo_png(9)
    created = upload(http, store, product, data)
    made.note(created, store, product)
    image = image_of(created)
    r = judged(download(http, target, image.get("url", "")))
    check(r.status_code == 200, f"GET url {image.get('url')}: expected 200, got {r.status_code}", response=r)
    check(
        r.content == data,
        f"url returned {len(r.content)} bytes, the upload had {len(data)} (not the same)",
        response=r,
    )
    content_type = r.headers.get("content-type", "").split(";")[0].strip()
    check(content_type == "image/png", f"url: expected image/png, got {content_type!r}", response=r)
    needs(http.delete(images_path(store, product, image["id"])), "delete of the image", "EVT-07")
    made.gone(image["id"])
    r = download(http, target, image.get("url", ""))
    check(
        r.status_code >= 400,
        f"the url of a deleted image still downloads (status {r.status_code})",
        response=r,
    )


@pytest.mark.writes
@pytest.mark.rule("EVT-10")
def test_evt10_timestamps_have_the_seed_shape(http, shared):
    image = shared.image()
    got = http.get(images_path(shared.store, shared.product, image["id"]))
    for where, r in {"upload": shared.response, "get": got}.items():
        body = body_of(r) if r.is_success else None
        for key in ("created_at", "updated_at"):
            value = body.get(key) if isinstance(body, dict) else None
            ok = isinstance(value, str) and bool(TIMESTAMP.match(value))
            if ok:
                try:
                    datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")  # a real date and time
                except ValueError:
                    ok = False
            check(
                ok,
                f"{where} {key}: expected the seed's shape 2018-09-04T13:31:01.104+0000, got {value!r}",
                response=r,
            )


# -- read-only: whatever the target's product already holds (e.g. --set on a real server) -------------
def existing_images(http, target) -> list:
    r, items = listed(http, target.store_id, target.product_id)
    needs(r, "list of the target's product", "EVT-05", ok=lambda _: items is not None)
    if not items:
        pytest.skip(f"no images under {target.store_id}/{target.product_id} to inspect")
    return [item for item in items if isinstance(item, dict) and isinstance(item.get("id"), str)]


@pytest.mark.rule("EVT-08")
def test_evt08_existing_images_belong_to_their_product(target, http):
    items = existing_images(http, target)
    answers = concurrently(
        lambda i: http.get(images_path(target.store_id, target.product_id, i["id"])), items
    )
    for item, r in zip(items, answers, strict=True):
        needs(r, f"get of the listed image {item['id']}", "EVT-06")
        body = body_of(r) or {}
        where = (body.get("store_id"), body.get("product_id"))
        check(
            where == (target.store_id, target.product_id),
            f"{target.store_id}/{target.product_id} serves an image of {where}: {r.text[:300]}",
            response=r,
        )


@pytest.mark.rule("EVT-10")
def test_evt10_existing_images_timestamps(target, http):
    for item in existing_images(http, target):
        for key in ("created_at", "updated_at"):
            value = item.get(key)
            check(
                isinstance(value, str) and bool(TIMESTAMP.match(value)),
                f"listed {item.get('id')} {key}: expected the seed's shape 2018-09-04T13:31:01.104+0000, "
                f"got {value!r}",
            )


# -- ALL-04 --------------------------------------------------------------------------------------------
def _listing_and_download_work(http, target, shared) -> None:
    """ALL-04 judges what parallel uploads left behind by listing and downloading them: first make sure
    that both work for one upload, so a broken list (EVT-05) or url (EVT-09) is not blamed on ALL-04."""
    image = shared.image()
    listing, items = listed(http, shared.store, shared.product)
    needs(listing, "list of an uploaded image", "EVT-05", ok=lambda _: image["id"] in ids_of(items))
    got = download(http, target, image.get("url", ""))
    needs(got, "download of an uploaded image's url", "EVT-09", ok=lambda r: r.content == shared.data)


@pytest.mark.writes
@pytest.mark.rule("ALL-04")
def test_all04_parallel_uploads_lose_nothing(target, http, made, shared):
    _listing_and_download_work(http, target, shared)
    store = target.store_id
    products = [fresh_product() for _ in range(20)]
    payloads = [photo_png(100 + i) for i in range(20)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda i: upload(http, store, products[i], payloads[i]), range(20)))
    for r, product in zip(responses, products, strict=True):
        made.note(r, store, product)
        check(r.is_success, f"parallel upload to {product}: got {r.status_code}: {r.text[:200]}", response=r)
    created = [(body_of(r) or {}, p, d) for r, p, d in zip(responses, products, payloads, strict=True)]
    created = [(image, p, d) for image, p, d in created if image.get("id")]
    ids = [image["id"] for image, _, _ in created]
    check(len(set(ids)) == len(ids), f"parallel uploads got duplicate ids: {ids}")

    def still_there(item):
        image, product, _ = item
        return listed(http, store, product)[1], download(http, target, image.get("url", ""))

    for (image, product, data), (items, got) in zip(created, concurrently(still_there, created), strict=True):
        check(
            ids_of(items) == [image["id"]],
            f"parallel upload {image['id']} is not listed under its product {product}: {ids_of(items)}",
            response=got,
        )
        check(
            got.status_code == 200 and got.content == data,
            f"parallel upload {image['id']}: url gave {got.status_code} with {len(got.content)} bytes, "
            f"expected the {len(data)} uploaded bytes",
            response=got,
        )


@pytest.mark.writes
@pytest.mark.rule("ALL-04")
def test_all04_parallel_uploads_to_one_product_keep_exactly_one(target, http, made):
    store, product = target.store_id, fresh_product()
    # the one-image rule itself, one upload after the other, is EVT-04's: without it there is no race to judge
    first = upload(http, store, product, photo_png(30))
    made.note(first, store, product)
    image = image_of(first)
    second = upload(http, store, product, photo_png(31))
    made.note(second, store, product)
    needs(second, "a second upload, one after the other", "EVT-04", ok=is_4xx)
    needs(http.delete(images_path(store, product, image["id"])), "delete of the first image", "EVT-07")
    made.gone(image["id"])
    payloads = [photo_png(40 + i) for i in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda data: upload(http, store, product, data), payloads))
    for r in responses:
        made.note(r, store, product)
    statuses = [r.status_code for r in responses]
    winners = [r for r in responses if r.is_success]
    check(
        len(winners) == 1 and all(is_4xx(r) for r in responses if not r.is_success),
        f"10 parallel uploads to one product: expected one 2xx and nine 4xx, got {statuses}",
        response=winners[-1] if winners else responses[0],
    )
    if winners:
        kept = listed_ids(http, store, product, "the product")
        check(
            len(kept) == 1 and kept[0] in ids_of([body_of(r) for r in winners]),
            f"after 10 parallel uploads the product must list exactly one of the winners, got {kept}",
        )


# -- ALL-05: what the seed allows is accepted ------------------------------------------------------------
PNG_KINDS = {  # every one a PNG of 300x300 pixels, which is all the seed asks of the file
    "palette (P) PNG": lambda: photo_png(50, "P"),
    "greyscale (L) PNG": lambda: photo_png(51, "L"),
    "RGBA PNG": lambda: photo_png(52, "RGBA"),
    "flat-colour PNG of a few hundred bytes": lambda: png((1, 2, 3)),
}
PART_LABELS = {  # the seed states the file's format, not how the part is labelled
    "a part labelled application/octet-stream": ("000.png", "application/octet-stream"),
    "a part named photo without an extension": ("photo", "image/png"),
    "a part named IMAGE.PNG": ("IMAGE.PNG", "image/png"),
}


@pytest.mark.writes
@pytest.mark.rule("ALL-05")
def test_all05_a_png_of_exactly_5242800_bytes_is_accepted(target, http, made):
    store, product, data = target.store_id, fresh_product(), png_of_size(LIMIT)
    r = upload(http, store, product, data)
    made.note(r, store, product)
    check(
        r.is_success,
        f"a 300x300 PNG of exactly {LIMIT} bytes (the seed's limit, 'не более'): expected a "
        f"2xx, got {r.status_code}: {r.text[:200]}",
        response=r,
    )


@pytest.mark.writes
@pytest.mark.rule("ALL-05")
def test_all05_any_300x300_png_and_any_part_label_is_accepted(target, http, made):
    cases = {kind: (make(), "000.png", "image/png") for kind, make in PNG_KINDS.items()}
    cases.update({kind: (photo_png(60 + i), *label) for i, (kind, label) in enumerate(PART_LABELS.items())})
    products = {kind: fresh_product() for kind in cases}
    store = target.store_id

    def send(kind):
        data, name, mime = cases[kind]
        return upload(http, store, products[kind], data, mime=mime, name=name)

    for kind, r in zip(cases, concurrently(send, cases), strict=True):
        made.note(r, store, products[kind])
        check(
            r.is_success,
            f"upload of a {kind}: expected a 2xx, got {r.status_code}: {r.text[:200]}",
            response=r,
        )


@pytest.mark.writes
@pytest.mark.rule("ALL-05")
def test_all05_store_and_product_ids_of_the_seeds_shapes_are_accepted(target, http, made):
    """The seed's ids: ``20180413-2595-40E8-80CB-4646C05D81B6``, and ``gd68f8d5-…``, which is no UUID."""
    slots = {
        "the seed's store id shape": (other_store(), fresh_product()),
        "a product id like gd68f8d5-… (not hex)": (target.store_id, "g" + fresh_product()[1:]),
    }
    for what, r in zip(
        slots, concurrently(lambda s: upload(http, *s, photo_png(70)), slots.values()), strict=True
    ):
        made.note(r, *slots[what])
        check(
            r.is_success,
            f"upload under {what} {slots[what]}: expected a 2xx, got {r.status_code}: {r.text[:200]}",
            response=r,
        )
