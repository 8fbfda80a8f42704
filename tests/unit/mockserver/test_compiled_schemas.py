"""The compiled validators keep Connexion's verdicts: what it rejects is still rejected, nullable included."""

from __future__ import annotations

import pytest

from mockserver.schema_cache import COMPILED, openapi_to_jsonschema


def test_nullable_becomes_a_null_type_and_enum_member():
    schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "nullable": True},
            "kind": {"type": "string", "enum": ["a", "b"], "nullable": True},
            "size": {"type": "integer"},
        },
    }
    converted = openapi_to_jsonschema(schema)
    assert converted["properties"]["url"]["type"] == ["string", "null"]
    assert converted["properties"]["kind"]["enum"] == ["a", "b", None]
    assert converted["properties"]["size"] == {"type": "integer"}
    assert schema["properties"]["url"]["type"] == "string"  # the spec's own dict is left alone
    compiled = COMPILED.get(schema)
    assert compiled.is_valid({"url": None, "kind": None, "size": 1})
    assert not compiled.is_valid({"size": None})
    assert not compiled.is_valid({"kind": "c"})


def test_write_only_properties_are_refused_in_responses():
    schema = {"type": "object", "properties": {"secret": {"type": "string", "writeOnly": True}}}
    compiled = COMPILED.get(schema)
    assert compiled.is_valid({})
    assert not compiled.is_valid({"secret": "x"})


def test_examples_are_not_rewritten():
    schema = {"type": "object", "example": {"nullable": True, "type": "x"}}
    assert openapi_to_jsonschema(schema)["example"] == {"nullable": True, "type": "x"}


def test_the_cache_compiles_each_schema_object_once():
    schema = {"type": "string"}
    assert COMPILED.get(schema) is COMPILED.get(schema)
    assert COMPILED.get({"type": "string"}) is not COMPILED.get(schema)  # equal, but another object


def _broken_list(api_handler):
    async def list_images(**_):
        return {"results": "not a list", "meta": {}}, 200, {"Content-Type": "application/json"}

    api_handler.list_images = list_images


def test_a_response_breaking_its_schema_is_still_a_500(make_client):
    client = make_client("tagged-images")
    _broken_list(client.app.ctx.apis["tagged-images"])
    r = client.get("/v1/images")
    assert r.status_code == 500
    assert r.json() == {
        "code": 500,
        "message": "Response body does not conform to specification. "
        "'not a list' is not of type 'array' - 'results'",
    }


def test_without_response_validation_the_broken_body_goes_out(make_client):
    client = make_client("tagged-images", validate_responses=False)
    _broken_list(client.app.ctx.apis["tagged-images"])
    assert client.get("/v1/images").json()["results"] == "not a list"


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("limit=20", 200),
        ("limit=0", 200),
        ("limit=x", 400),
        ("limit=101", 400),
        ("page=-1", 200),
        ("page=x", 400),
    ],
)
def test_query_parameters_are_still_validated(make_client, query, status):
    client = make_client("tagged-images")
    r = client.get(f"/v1/images?{query}")
    assert r.status_code == status, r.text
    if status == 400:
        assert r.json()["code"] == 400


def test_the_encoded_value_is_judged_by_its_wire_form_when_they_differ(make_client):
    """A tuple is an array on the wire: checked against the value first, the bytes have the last word."""
    client = make_client("tagged-images")
    api = client.app.ctx.apis["tagged-images"]

    async def list_images(**_):
        meta = {"current_page": 0, "total_results": 0, "has_more_pages": False}
        return {"results": (), "meta": meta}, 200, {"Content-Type": "application/json"}

    api.list_images = list_images
    r = client.get("/v1/images")
    assert r.status_code == 200, r.text
    assert r.json()["results"] == []


@pytest.mark.parametrize("query", ["page=1&page=2", "limit=&limit=5", "uploaded_only=true&uploaded_only=no"])
def test_a_scalar_query_parameter_given_twice_is_a_400(make_client, query):
    """Connexion would keep the last value silently; a scalar takes one value (ALL-03)."""
    client = make_client("tagged-images")
    r = client.get(f"/v1/images?{query}")
    assert r.status_code == 400, r.text
    assert r.json()["code"] == 400 and "comes 2 times" in r.json()["message"]


def test_an_exploded_array_may_repeat(make_client):
    client = make_client("everydaypic")
    assert client.get("/v1/image/info?id=a&id=b").status_code == 404  # parsed, matched nothing
