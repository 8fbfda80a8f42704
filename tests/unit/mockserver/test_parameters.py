"""Parameters parsed once (mockserver.connexion_ext.parameters): the shortcuts give what Connexion's own path
gives."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from image_api_contracts import auth_headers
from mockserver.connexion_ext import parameters
from mockserver.connexion_ext.parameters import query_lists


def _connexion_query_lists(query_string: bytes) -> dict:
    lists: dict = {}
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        lists.setdefault(name, []).append(value)
    return lists


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab=&;%+2F0éz |[]", max_size=30))
def test_query_lists_is_what_starlette_and_connexion_make_of_any_query(text):
    raw = text.encode("utf-8")
    assert query_lists(raw) == _connexion_query_lists(raw)


# Operations without a request body, each with queries that exercise defaults, arrays, casts, unknown
# parameters and path parameters. The handler's arguments must be the same as Connexion's get_arguments.
REQUESTS = {
    "tagged-images": [
        "/v1/images",
        "/v1/images?limit=7&page=1",
        "/v1/images?start_timestamp=0&end_timestamp=9&uploaded_only=true",
        "/v1/images?limit=3&uncached=1&limit=4",
        "/v1/images/1",
        "/v1/search/images?exact_tags=a|b&match_tags=x%25",
        "/v1/tags?page=0",
        "/v1/tags/1/images?uploaded_only=false&limit=2",
    ],
    "everydaypic": ["/v1/image/info", "/v1/image/info?id=a&id=b&fileName=x.png", "/v1/image/nope"],
    "evotor": ["/stores/s1/products/p1/images", "/stores/s1/products/p1/images/i1"],
    "image-upload": ["/GetAllImages", "/GetAllImages?x=1"],
}


def _recorded_arguments(make_client, api: str, shortcut: bool, monkeypatch) -> list:
    if not shortcut:
        original = parameters.BodilessArguments.__init__

        def connexions_path(self, *args, **kwargs):
            original(self, *args, **kwargs)
            self.usable = False

        monkeypatch.setattr(parameters.BodilessArguments, "__init__", connexions_path)
    client = make_client(api)
    handler = client.app.ctx.apis[api]
    if api == "tagged-images":
        client.post("/v1/images", json={"filename": "a.png", "size": 1, "tags": ["a"]})
    seen = []
    for name in (
        "list_images",
        "get_image",
        "search_images",
        "list_tags",
        "list_tag_images",
        "get_images_info",
        "download_image",
        "list_product_images",
        "get_product_image",
        "get_all_images",
    ):
        method = getattr(handler, name, None)
        if method is None:
            continue

        async def recording(*args, _method=method, _name=name, **kwargs):
            seen.append((_name, args, {k: v for k, v in kwargs.items() if k != "token_info"}))
            return await _method(*args, **kwargs)

        setattr(handler, name, recording)
    statuses = [client.get(path, headers=auth_headers(api)).status_code for path in REQUESTS[api]]
    monkeypatch.undo()
    return [seen, statuses]


@pytest.mark.parametrize("api", sorted(REQUESTS))
def test_bodiless_arguments_are_connexions(make_client, monkeypatch, api):
    fast = _recorded_arguments(make_client, api, True, monkeypatch)
    connexion = _recorded_arguments(make_client, api, False, monkeypatch)
    assert fast == connexion
    assert len(fast[0]) >= len(REQUESTS[api]) - 1  # the handlers ran (a 404 on routing excepted)
