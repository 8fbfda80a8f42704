"""evotor as the tests call it through a client: the seed's token, store and product, and an upload."""

from __future__ import annotations

TOKEN = "c14fc51c-d6ea-4992-85c0-786b8351d270"  # the seed's curl
AUTH = {"X-Authorization": TOKEN}
STORE = "20180413-2595-40E8-80CB-4646C05D81B6"  # the seed's curl
PRODUCT = "5e46f8de-ec4f-4f87-85de-337b88fa2bdd"


def images_path(store=STORE, product=PRODUCT) -> str:
    return f"/stores/{store}/products/{product}/images"


def upload(client, data: bytes, store=STORE, product=PRODUCT, headers=AUTH, name="x.png", ctype="image/png"):
    files = {"datafile": (name, data, ctype)}
    return client.post(images_path(store, product), files=files, headers=headers)
