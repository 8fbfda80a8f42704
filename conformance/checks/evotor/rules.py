"""evotor rules one by one (EVT-01..10): the token, the upload and its answer, bad files, one image per
product, listing, reading, deleting, scoping, the download URL and the timestamps."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from conformance.checks.kit import concurrently
from conformance.findings import check, judged, needs, refused

from .common import (
    BAD_FILE_400,
    BAD_FILES,
    LIMIT,
    NO_TOKEN_401,
    OCCUPIED_409,
    TIMESTAMP,
    TOO_LARGE_413,
    UNKNOWN_404,
    body_of,
    download,
    fresh_product,
    ids_of,
    image_of,
    image_problems,
    images_path,
    listed,
    listed_ids,
    other_store,
    photo_png,
    png_of_size,
    scoped,
    upload,
    without_token,
    without_url,
)

pytestmark = pytest.mark.api("evotor")


# -- EVT-01 --------------------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("EVT-01")
def check_evt01_every_method_without_token_is_refused_and_changes_nothing(target, http, made):
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
def check_evt01_without_token_is_refused_read_only(target, http):
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
def check_evt02_the_seeds_example_upload_answers_the_image(shared):
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
def check_evt03_bad_files_are_refused_and_not_stored(target, http, made):
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
def check_evt04_one_image_per_product_until_deleted(target, http, made):
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
def check_evt05_list_of_a_product_without_images(target, http):
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
def check_evt05_list_holds_the_image(http, shared):
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
def check_evt06_unknown_id_is_refused(target, http):
    r = http.get(images_path(target.store_id, target.product_id, str(uuid.uuid4())))
    refused(r, "get of an unknown image id", should_status=404, decision=UNKNOWN_404)


@pytest.mark.writes
@pytest.mark.rule("EVT-06")
def check_evt06_get_returns_the_image(http, shared):
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
def check_evt07_delete_is_204_and_the_image_is_gone(target, http, made):
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
def check_evt08_an_image_never_shows_under_another_product_or_store(target, http, made):
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
def check_evt09_url_downloads_the_uploaded_bytes(target, http, made):
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


LARGE_PNG = 4_000_000  # bytes: several MB, within the seed's 5242800


@pytest.mark.writes
@pytest.mark.rule("EVT-09")
def check_evt09_url_downloads_a_large_file_byte_for_byte(target, http, made):
    """A PNG of several MB (within the seed's limit) comes back byte for byte: a defect at a buffer or chunk
    boundary shows only on a large file."""
    store, product, data = target.store_id, fresh_product(), png_of_size(LARGE_PNG)
    created = needs(
        upload(http, store, product, data), "upload of a 4 MB PNG (within 5242800 bytes)", "EVT-03"
    )
    made.note(created, store, product)
    image = image_of(created)
    r = judged(download(http, target, image.get("url", "")))
    check(
        r.status_code == 200 and r.content == data,
        f"url of a {len(data)}-byte upload gave {r.status_code} with {len(r.content)} bytes (not the same)",
        response=r,
    )


@pytest.mark.writes
@pytest.mark.rule("EVT-10")
def check_evt10_timestamps_have_the_seed_shape(http, shared):
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
def check_evt08_existing_images_belong_to_their_product(target, http):
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
def check_evt10_existing_images_timestamps(target, http):
    for item in existing_images(http, target):
        for key in ("created_at", "updated_at"):
            value = item.get(key)
            check(
                isinstance(value, str) and bool(TIMESTAMP.match(value)),
                f"listed {item.get('id')} {key}: expected the seed's shape 2018-09-04T13:31:01.104+0000, "
                f"got {value!r}",
            )
