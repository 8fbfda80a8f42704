"""The five specs: valid OpenAPI 3.0.3, loadable by every library we use, complete against their seeds."""

from __future__ import annotations

import copy
import re

import pytest
import schemathesis
from openapi_core import OpenAPI
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from support.seed_reading import field_names, operations
from support.source_documents import SEEDS_DIR, needs_sources

from image_api_contracts import APIS, load_spec, resolve_refs

API_NAMES = sorted(APIS)
# Keys in the seeds that are data, not fields: the spec models their parent as a free-form map.
SEED_DATA_KEYS = {"sharinpix": {"meta"}}  # metadatas[meta]=data: the caller chooses metadata keys
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def spec_of(name: str) -> dict:
    return copy.deepcopy(load_spec(APIS[name].spec_path))


def _walk(node, path=()):
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, (*path, i))


@pytest.mark.parametrize("name", API_NAMES)
def test_spec_is_valid_openapi_303(name):
    spec = spec_of(name)
    assert spec["openapi"] == "3.0.3"
    validate(spec)


@pytest.mark.parametrize("name", API_NAMES)
def test_spec_loads_in_openapi_core_and_schemathesis(name):
    OpenAPI.from_file_path(str(APIS[name].spec_path))
    schema = schemathesis.openapi.from_path(str(APIS[name].spec_path))
    labels = {op.ok().label for op in schema.get_all_operations()}
    assert len(labels) == sum(1 for item in spec_of(name)["paths"].values() for m in item if m in METHODS)


@pytest.mark.parametrize("name", API_NAMES)
def test_spec_loads_in_connexion(name, make_client):
    client = make_client(name)
    assert client.get(f"{APIS[name].server_path}/openapi.json").status_code == 200


@pytest.mark.parametrize("name", API_NAMES)
def test_operation_ids_are_unique_and_operations_carry_rules(name):
    ops = [op for item in spec_of(name)["paths"].values() for m, op in item.items() if m in METHODS]
    ids = [op["operationId"] for op in ops]
    assert len(ids) == len(set(ids))
    for op in ops:
        assert op.get("x-rules"), op["operationId"]


@needs_sources
@pytest.mark.parametrize("name", API_NAMES)
def test_every_seed_operation_is_in_the_spec(name):
    seed_ops = operations(SEEDS_DIR / APIS[name].seed_file)
    assert seed_ops, "the seed reader found no operations"
    spec_ops = {(m, p) for p, item in spec_of(name)["paths"].items() for m in item if m in METHODS}
    assert seed_ops <= spec_ops, seed_ops - spec_ops


@needs_sources
@pytest.mark.parametrize("name", API_NAMES)
def test_every_field_the_seed_names_is_in_the_spec(name):
    seed_fields = field_names(SEEDS_DIR / APIS[name].seed_file)
    assert len(seed_fields) >= 3, "the seed reader found too few fields"
    spec = spec_of(name)
    in_spec = set()
    for path, node in _walk(spec):
        if path and path[-1] == "properties" and isinstance(node, dict):
            in_spec |= set(node)
        if isinstance(node, dict) and node.get("in") in {"query", "path", "header"} and "name" in node:
            in_spec.add(node["name"])
    missing = seed_fields - in_spec - SEED_DATA_KEYS.get(name, set())
    assert not missing, f"named in the seed, absent from specs/{name}.yaml: {sorted(missing)}"


@pytest.mark.parametrize("name", API_NAMES)
def test_examples_validate_against_their_schemas(name):
    spec = spec_of(name)
    checked = 0
    for path, node in _walk(spec):
        if not isinstance(node, dict) or "schema" not in node or path[-2:-1] == ("parameters",):
            continue
        schema = resolve_refs(node["schema"], spec)
        examples = [node["example"]] if "example" in node else []
        examples += [e["value"] for e in (node.get("examples") or {}).values() if "value" in e]
        for example in examples:
            if schema.get("format") == "binary":
                continue
            OAS30Validator(schema, format_checker=OAS30Validator.FORMAT_CHECKER).validate(example)
            checked += 1
    for schema in spec.get("components", {}).get("schemas", {}).values():
        if "example" in schema:
            resolved = resolve_refs(schema, spec)
            OAS30Validator(resolved, format_checker=OAS30Validator.FORMAT_CHECKER).validate(schema["example"])
            checked += 1
    assert checked >= 1


@pytest.mark.parametrize("name", API_NAMES)
def test_decisions_name_the_seed_and_the_choice(name):
    """Every x-decision says what the seed said and what was decided, so a reader can tell them apart."""
    decisions = [
        node["x-decision"]
        for _, node in _walk(spec_of(name))
        if isinstance(node, dict) and "x-decision" in node
    ]
    assert decisions
    for text in decisions:
        assert re.search(r"\bSeed\b", text) and re.search(r"\bDecided\b", text), text
