"""The seed view keeps our decisions out of MUST: every decision in a spec is tagged for it, the view is
a valid OpenAPI 3.0.3 document, and the tags really undo what they say."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from conformance.seed_view import build_seed_view
from image_api_contracts import APIS


@pytest.mark.parametrize("api", sorted(APIS))
def test_every_decision_is_tagged_and_the_seed_view_is_valid_openapi(api):
    problems: list[str] = []
    view = build_seed_view(APIS[api].spec, problems)
    assert problems == [], "\n".join(problems)
    validate(view)
    assert view["openapi"].startswith("3.0")


def test_each_kind_of_tag_undoes_its_decision():
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1", "x-seed": "000.txt"},
        "paths": {
            "/a": {
                "get": {
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["id", "url"],
                                        "properties": {
                                            "id": {
                                                "type": "string",
                                                "maxLength": 5,
                                                "x-decision": "d",
                                                "x-decided": ["maxLength"],
                                            },
                                            "url": {"type": "string"},
                                        },
                                        "x-decision": "url always sent",
                                        "x-decided": {"required": ["url"]},
                                    }
                                }
                            },
                        },
                        "404": {"description": "nf", "x-decision": "404", "x-decided": True},
                        "410": {"description": "gone", "content": {"application/json": {"example": None}}},
                    }
                }
            },
            "/b": {
                "get": {
                    "responses": {
                        "400": {
                            "description": "bad",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                            "x-decision": "text/plain is ours",
                            "x-decided": ["content"],
                            "x-seed": {"content": {"*/*": {"schema": {"type": "string"}}}},
                        }
                    }
                }
            },
        },
    }
    problems: list[str] = []
    view = build_seed_view(spec, problems)
    assert problems == []
    ok = view["paths"]["/a"]["get"]["responses"]
    schema = ok["200"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["id"] and "maxLength" not in schema["properties"]["id"]
    assert "404" not in ok and "4XX" in ok  # a status the seed does not name: any 4xx
    assert ok["410"]["content"]["application/json"] == {"example": None}  # a null is a value, kept
    bad = view["paths"]["/b"]["get"]["responses"]["400"]
    assert bad["content"] == {"*/*": {"schema": {"type": "string"}}}
    assert "4XX" in view["paths"]["/b"]["get"]["responses"]
    assert view["info"]["x-seed"] == "000.txt"


def test_a_reference_to_a_decision_goes_with_it():
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {
                "get": {
                    "responses": {
                        "200": {"description": "ok"},
                        "401": {"$ref": "#/components/responses/Unauthorized"},
                    }
                }
            }
        },
        "components": {
            "responses": {"Unauthorized": {"description": "ours", "x-decision": "401", "x-decided": True}}
        },
    }
    view = build_seed_view(spec)
    assert set(view["paths"]["/a"]["get"]["responses"]) == {"200", "4XX"}
    validate(view)


def test_an_untagged_decision_or_a_tag_naming_nothing_is_reported():
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1", "x-decision": "untagged"},
        "paths": {},
        "components": {"schemas": {"A": {"type": "string", "x-decision": "d", "x-decided": ["maxLength"]}}},
    }
    problems: list[str] = []
    build_seed_view(spec, problems)
    assert problems == [
        "#/info: x-decision without x-decided",
        "#/components/schemas/A: x-decided names ['maxLength'], which the node does not have",
    ]
