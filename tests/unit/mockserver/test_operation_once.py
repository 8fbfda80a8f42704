"""What each operation works out once (its parameter validator, media-type verdicts, its response
decorator's media types) keeps Connexion's verdicts on every later request: a valid request before an
invalid one lets nothing through, and a broken answer after good ones is still caught."""

from __future__ import annotations

import asyncio
import threading

import pytest
from support.image_upload import auth

from mockserver.connexion_ext.once_decorated import OnceDecorator


@pytest.mark.parametrize("bad", ["limit=x", "limit=101", "page=x", "page=1&page=2"])
def test_an_invalid_query_is_refused_after_valid_ones_through_the_same_operation(make_client, bad):
    client = make_client("tagged-images")
    assert client.get("/v1/images?limit=20").status_code == 200
    r = client.get(f"/v1/images?{bad}")
    assert r.status_code == 400, r.text
    assert r.json()["code"] == 400
    assert client.get("/v1/images?limit=5").status_code == 200  # the refusal left nothing behind
    assert client.get(f"/v1/images?{bad}").status_code == 400


def test_an_operation_without_parameters_ignores_undocumented_ones_and_still_checks_credentials(make_client):
    client = make_client("image-upload")
    assert client.get("/GetAllImages?anything=1").status_code == 401  # security runs before validation
    r = client.get("/GetAllImages?anything=1&more=", headers=auth())
    assert r.status_code == 200, r.text
    assert r.json()["data"] == []


def test_a_request_media_type_is_refused_after_accepted_ones(make_client):
    client = make_client("tagged-images")
    good = {"filename": "a.png", "size": 1, "tags": ["a"]}
    assert client.post("/v1/images", json=good).status_code == 201
    for _ in range(2):
        r = client.post("/v1/images", content=b"filename=a.png", headers={"Content-Type": "text/plain"})
        assert r.status_code == 400, r.text  # the API's own status for Connexion's 415
        assert "Invalid Content-type (text/plain)" in r.json()["message"]
    assert client.post("/v1/images", json=good).status_code == 201


def test_an_invalid_request_body_is_refused_after_valid_ones(make_client):
    client = make_client("tagged-images")
    assert client.post("/v1/images", json={"filename": "a.png", "size": 1, "tags": ["a"]}).status_code == 201
    r = client.post("/v1/images", json={"filename": "a.png", "size": "one", "tags": ["a"]})
    assert r.status_code == 400, r.text


def _replace_list(client, body, headers=None):
    async def list_images(**_):
        return body, 200, headers or {"Content-Type": "application/json"}

    client.app.ctx.apis["tagged-images"].list_images = list_images


def test_a_broken_answer_after_good_ones_is_still_a_500(make_client):
    client = make_client("tagged-images")
    assert client.get("/v1/images?limit=1").status_code == 200
    assert client.get("/v1/images?limit=2").status_code == 200
    _replace_list(client, {"results": "not a list", "meta": {}})
    r = client.get("/v1/images?limit=3")  # another query: not an answer kept by the reply cache
    assert r.status_code == 500
    assert "'not a list' is not of type 'array'" in r.json()["message"]


def test_a_content_type_the_operation_does_not_produce_is_a_500_after_good_answers(make_client):
    client = make_client("tagged-images")
    assert client.get("/v1/images?limit=1").status_code == 200
    meta = {"current_page": 0, "total_results": 0, "has_more_pages": False}
    _replace_list(client, {"results": [], "meta": meta}, {"Content-Type": "text/html"})
    r = client.get("/v1/images?limit=2")
    assert r.status_code == 500
    assert "text/html" in r.json()["message"]


def test_a_content_type_named_in_bytes_or_any_case_is_read_as_connexion_reads_it(make_client):
    client = make_client("tagged-images")
    meta = {"current_page": 0, "total_results": 0, "has_more_pages": False}
    _replace_list(client, {"results": [], "meta": meta}, {"content-TYPE": "application/json"})
    r = client.get("/v1/images?limit=1")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"


def test_a_synchronous_handler_still_runs_in_the_threadpool():
    decorate = OnceDecorator(pythonic_params=False, jsonifier=None)._sync_async_decorator
    ran_in = []

    def handler(x):
        ran_in.append(threading.current_thread())
        return x + 1

    wrapped = decorate(handler)
    assert asyncio.iscoroutinefunction(wrapped)
    assert asyncio.run(wrapped(1)) == 2
    assert ran_in and ran_in[0] is not threading.main_thread()

    async def coroutine_handler():
        return 3

    assert decorate(coroutine_handler) is coroutine_handler  # asked once: nothing wraps it per call
