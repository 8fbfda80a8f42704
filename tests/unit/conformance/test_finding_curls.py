"""A finding's curl says so when the suite itself later removed the data it is about (its replay then
meets a 404 that is the suite's doing, not the server's)."""

from __future__ import annotations

from types import SimpleNamespace

import httpx

from conformance.rule_plugin import _removed_later


def _exchange(method: str, url: str, status: int):
    request = httpx.Request(method, url)
    return request, httpx.Response(status, request=request)


def _item(*exchanges):
    return SimpleNamespace(conformance_client=SimpleNamespace(exchanges=list(exchanges)))


def test_a_later_delete_of_the_same_resource_or_its_parent_is_named():
    get = _exchange("GET", "http://h/v1/tags/27/images", 200)
    item = _item(get, _exchange("DELETE", "http://h/v1/tags/27", 204))
    assert _removed_later(item, get[0]) == "DELETE /v1/tags/27"


def test_an_earlier_a_failed_or_an_unrelated_delete_is_not():
    post = _exchange("POST", "http://h/v1/tags", 201)
    earlier = _exchange("DELETE", "http://h/v1/tags", 204)
    item = _item(earlier, post, _exchange("DELETE", "http://h/v1/tags/27", 204))
    assert _removed_later(item, post[0]) is None  # /tags/27 is not what POST /tags is about
    get = _exchange("GET", "http://h/v1/images/5", 500)
    item = _item(
        get,
        _exchange("DELETE", "http://h/v1/images/5", 404),
        _exchange("DELETE", "http://h/v1/images/6", 204),
    )
    assert _removed_later(item, get[0]) is None
