"""The gallery client against the tagged-images mock: the happy path, slow and failing servers, and
every exchange checked against the contract."""

from __future__ import annotations

import httpx
import pytest
from gallery_client import Gallery, GalleryError

from conformance import assert_honours_contract

# A real PNG (1x1): the mock refuses bytes that are not an image.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415478"
    "9c63f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


@pytest.mark.contract_exchange  # afterwards, every exchange of the test is checked against the spec
def test_upload_list_download_delete(gallery):
    image = gallery.upload("cat.png", PNG, tags=["pets", "cats"])
    assert image.tags == ("pets", "cats")
    assert [i.id for i in gallery.list()] == [image.id]
    assert [i.id for i in gallery.list(tag="cats")] == [image.id]
    assert gallery.list(tag="Cats") == []  # exact tags are case-sensitive
    assert gallery.download(image.id) == PNG
    gallery.delete(image.id)
    with pytest.raises(GalleryError) as missing:
        gallery.download(image.id)
    assert missing.value.status == 404


def test_each_test_starts_with_an_empty_gallery(gallery):
    assert gallery.list() == []


@pytest.mark.contract_mock(force_status=507, force_path="/tagged-images/v1/upload")
def test_a_full_store_is_reported_with_the_servers_message(gallery):
    with pytest.raises(GalleryError) as full:
        gallery.upload("cat.png", PNG)
    assert full.value.status == 507
    assert full.value.message == "response forced by Prefer: code=507"
    assert gallery.list() == []  # only uploads fail


@pytest.mark.contract_mock(latency_ms=500)
def test_a_slow_server_times_out_instead_of_hanging(contract_mock):
    impatient = contract_mock.client("tagged-images", timeout=0.05)
    with pytest.raises(httpx.TimeoutException):
        Gallery(client=impatient).list()


def test_every_exchange_honours_the_contract(gallery, contract_mock):
    image = gallery.upload("dog.png", PNG, tags=["pets"])
    gallery.list(tag="pets")
    gallery.download(image.id)
    gallery.delete(image.id)
    with pytest.raises(GalleryError):
        gallery.delete(image.id)
    base_url = contract_mock.base_url("tagged-images")
    api_exchanges = [r for _, r in contract_mock.exchanges if str(r.request.url).startswith(base_url)]
    assert len(api_exchanges) == 6  # the signed download URL is not part of the API
    for response in api_exchanges:
        assert_honours_contract("tagged-images", response, base_url=base_url)
