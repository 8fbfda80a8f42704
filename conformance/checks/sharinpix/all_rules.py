"""The rules every API has, on sharinpix: parallel creates lose nothing (ALL-04) and bodies the seed
allows are accepted (ALL-05)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from conformance.checks.kit import concurrently
from conformance.findings import check, needs

from .common import body_of, encode, post_form, seed_example

pytestmark = pytest.mark.api("sharinpix")


# -- ALL-04 -----------------------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("ALL-04")
def check_all04_parallel_creates_lose_nothing(target, http):
    """No list or get exists: 20 parallel creates must give 20 distinct ids, each echoing its own request."""
    forms = []
    for i in range(20):
        body, cloudinary, _ = seed_example(target.unique(f"par{i}"))
        forms.append(
            (
                body.replace("metadatas[meta]=data", f"metadatas[meta]=data&metadatas[index]={i}"),
                cloudinary["public_id"],
                {"meta": "data", "index": str(i)},
            )
        )
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda f: post_form(http, f[0], target.album_id), forms))
    needs(responses[0], "a create of the seed's example", "SPX-03")
    images = []
    for i, r in enumerate(responses):
        check(r.is_success, f"parallel create {i}: got {r.status_code}: {r.text[:200]}", response=r)
        images.append(body_of(r) if r.is_success and isinstance(body_of(r), dict) else {})
    ids = [image.get("id") for image in images if image]
    check(len(set(ids)) == len(ids), f"{len(ids)} parallel creates gave {len(set(ids))} distinct ids: {ids}")
    # Whose request does each answer echo? Only another request's data is ALL-04's (a missing or wrong
    # echo of the answer's own request is SPX-03's, judged on its own).
    owners = {sent: i for i, (_, sent, _) in enumerate(forms)}
    for i, (image, r) in enumerate(zip(images, responses, strict=True)):
        if not image:
            continue
        echoed = (image.get("infos") or {}).get("public_id")
        index = (image.get("metadatas") or {}).get("index")
        others = {owners.get(echoed, i), int(index) if str(index).isdigit() else i} - {i}
        check(
            not others,
            f"parallel create {i} answered with the data of create {sorted(others)}: public_id {echoed}, "
            f"metadatas {image.get('metadatas')}",
            response=r,
        )


# -- ALL-05: what the seed allows is accepted ------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("ALL-05")
def check_all05_bodies_the_seed_allows_are_accepted(target, http):
    """The seed marks every parameter "Required: false" and bounds nothing: fields may be left out, keys
    beyond the example's may come (Cloudinary adds them), and any value of the example's kinds is fine.
    (A body without cloudinary[public_id] is SPX-04's, at SHOULD; it is not sent here.)"""
    unique = target.unique
    full_cloudinary = seed_example(unique("x"))[1]
    extra = {
        **full_cloudinary,
        "public_id": unique("extra"),
        "access_mode": "authenticated",
        "pages": "1",
        "placeholder": "false",
        "info": {"detection": {"captioning": {"status": "complete"}}},
        "context": {"custom": {"alt": "a product"}},
    }
    bodies = {
        "only cloudinary[public_id]": encode({"public_id": unique("min")}),
        "the seed's example without metadatas": encode({**full_cloudinary, "public_id": unique("nometa")}),
        "cloudinary keys beyond the seed's example": encode(extra, {"meta": "data"}),
        "image_metadata without DateTimeOriginal": encode(
            {"public_id": unique("nodate"), "image_metadata": {"Colorspace": "RGB"}}, {"meta": "data"}
        ),
        "non-ASCII file name and metadata, an empty metadata value": encode(
            {"public_id": unique("utf"), "original_filename": "фото товара 😀", "width": "1", "height": "1"},
            {"описание": "зелёный", "note": ""},
        ),
        "a metadata value nested as a map": encode({"public_id": unique("nested")}, {"a": {"b": "c"}}),
    }
    answers = concurrently(lambda b: post_form(http, b, target.album_id), bodies.values())
    for what, r in zip(bodies, answers, strict=True):
        check(
            r.is_success,
            f"a body with {what}: expected a 2xx, got {r.status_code}: {r.text[:200]}",
            response=r,
        )
