"""The rules every API has, on evotor: parallel uploads lose nothing (ALL-04) and what the seed allows
is accepted (ALL-05)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from conformance.checks.kit import concurrently
from conformance.findings import check, needs

from .common import (
    LIMIT,
    body_of,
    download,
    fresh_product,
    ids_of,
    image_of,
    images_path,
    is_4xx,
    listed,
    listed_ids,
    other_store,
    photo_png,
    png,
    png_of_size,
    upload,
)

pytestmark = pytest.mark.api("evotor")


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
def check_all04_parallel_uploads_lose_nothing(target, http, made, shared):
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
def check_all04_parallel_uploads_to_one_product_keep_exactly_one(target, http, made):
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
def check_all05_a_png_of_exactly_5242800_bytes_is_accepted(target, http, made):
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
def check_all05_any_300x300_png_and_any_part_label_is_accepted(target, http, made):
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
def check_all05_store_and_product_ids_of_the_seeds_shapes_are_accepted(target, http, made):
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
