"""Schema layer: Schemathesis generates requests from the API's *seed view* (``conformance.seed_view``:
the spec with our decisions undone), positive and negative, and judges every response rule by rule:

- ALL-01: no 5xx, for every case;
- ALL-02: the documented status, content type, headers and body of the seed view (MUST); the same
  against the full spec, our decisions included (SHOULD: a warning naming the decision);
- ALL-03: a request that breaks the seed (and our spec too) gets a 4xx;
- ALL-05: a request the seed allows is not refused (any 4xx but those that speak of state, credentials
  or resource limits). Operations on a named resource, bodies that carry file content and bracket-nested
  forms are left to the APIs' own ALL-05 checks, which send real ids and real files.

Findings are recorded, not raised, so one operation's run reports every distinct break, each on its own
rule with the exact request that showed it, and the remaining examples still run. Under --read-only only
safe operations are generated, each of them in full.
"""

from __future__ import annotations

import contextlib
import copy
from concurrent.futures import ThreadPoolExecutor

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
from werkzeug.datastructures import Headers

from conformance.openapi_check import violation_text
from conformance.plugin import current_target
from conformance.seed_view import HTTP_METHODS, seed_view
from conformance.verdicts import batch, check, should
from mockserver.registry import APIS, resolve_refs

TARGET = current_target()
# A seed-valid request may still meet these: the resource is unknown or taken (404, 409, 410), the caller
# lacks a grant (401, 403), or a resource limit (413, 429). Any other 4xx refuses what the seed allows.
STATE_STATUSES = {401, 403, 404, 409, 410, 413, 429}

SPEC = APIS[TARGET.api].spec
SEED = seed_view(TARGET.api)


def _served(document: dict) -> dict:
    return {**copy.deepcopy(document), "servers": [{"url": TARGET.base_url}]}


schema = schemathesis.openapi.from_dict(_served(SEED))
schema.config.update(base_url=TARGET.base_url, headers=TARGET.auth_headers())
if TARGET.read_only:  # the coverage phase probes every path with the methods it lacks: keep the safe ones
    coverage = schema.config.phases.coverage
    coverage.unexpected_methods = {m for m in coverage.unexpected_methods if m.upper() in ("GET", "OPTIONS")}

# ignored_auth probes each secured operation without credentials and with invalid ones. Not for evotor:
# there any non-empty token is valid by the spec's decision (EVT-01), so an "invalid" probe proves nothing.
# Not yet for sharinpix: one unexplained failure against the mock in five runs; its SPX-01 checks stand.
# It expects 401 or 403, where the seed names no status: a SHOULD (IUP-01's MUST is its own checks').
AUTH_RULE = {"image-upload": "IUP-01"}
TLS = httpx.create_ssl_context()  # once: loading the CA bundle for each clean-up was 8% of a run
SEED_CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SEED_WIRE = OpenAPI.from_dict(_served(SEED))
FULL_WIRE = OpenAPI.from_dict(_served(SPEC))


def _violates(wire: OpenAPI, response) -> bool:
    """Some generated cases serialise to something else: an integer for a multipart text field is the
    same bytes as a string, a boolean in a pipe-delimited list reads as the word "false", an object query
    value is dropped. What counts is whether the request actually *sent* is valid."""
    try:
        wire.validate_request(RequestsOpenAPIRequest(response.request))
    except Exception:  # openapi-core raises a family of validation errors
        return True
    return False


OPERATIONS = {  # operationId -> (method, path template, {parameter name: location}, responses)
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
    if method in HTTP_METHODS and isinstance(op, dict) and "operationId" in op
}


def _left_to_own_checks(method: str, operation: dict, path_item: dict) -> bool:
    """Requests whose acceptance no schema can judge. An operation on a named resource (a path parameter,
    or a DELETE): a generated id names nothing, and how a server refuses an unknown one (400, 404, 410)
    is not in the seeds. Bodies with file content (a binary part, base64 data: whether a file is
    acceptable is prose) and bracket-nested forms (``a[b][]=``, which openapi-core reads flat)."""
    parameters = resolve_refs(path_item.get("parameters", []) + operation.get("parameters", []), SEED)
    if method == "delete" or any(p.get("in") == "path" for p in parameters):
        return True
    content = resolve_refs(operation.get("requestBody", {}), SEED).get("content", {})
    for media, body in content.items():
        text = str(body.get("schema", {}))
        if "'binary'" in text or "'byte'" in text:
            return True
        if not media.startswith(("application/json", "application/x-www-form-urlencoded", "multipart/")):
            return True
        nested = any(
            p.get("type") in ("object", "array")
            for p in body.get("schema", {}).get("properties", {}).values()
        )
        if media.startswith("application/x-www-form-urlencoded") and nested:
            return True
    return False


OWN_CHECKS = {
    (method.upper(), path)
    for path, item in SEED["paths"].items()
    for method, op in item.items()
    if method in HTTP_METHODS and isinstance(op, dict) and _left_to_own_checks(method, op, item)
}


def _decisions_of(method: str, path: str, status: int) -> str | None:
    """The x-decision texts of the response the full spec documents for this status (for a WARN)."""
    responses = resolve_refs(SPEC["paths"][path][method.lower()].get("responses", {}), SPEC)
    found = responses.get(str(status)) or responses.get(f"{status // 100}XX") or responses.get("default")
    texts: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if "x-decision" in node:
                texts.append(" ".join(str(node["x-decision"]).split()))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(found)
    return "; ".join(texts)[:300] or None


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
        try:
            values = {
                name: evaluate(expr, StepOutput(response, case))
                for name, expr in link.get("parameters", {}).items()
            }
        except Exception:  # a body without the linked field: nothing to delete by it
            continue
        query = {k: v for k, v in values.items() if where.get(k) == "query"}
        for name, value in values.items():
            if where.get(name) == "path":
                path = path.replace("{" + name + "}", str(value))
        httpx.request(
            method.upper(),
            TARGET.base_url + path,
            params=query,
            headers=TARGET.auth_headers(),
            timeout=30,
            verify=TLS,
        )


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


class _WireResponse:
    """openapi-core's view of a Schemathesis response (its headers map a name to a list of values)."""

    def __init__(self, response):
        self.status_code = response.status_code
        self.data = response.content or None
        self.headers = Headers([(k, v) for k, values in response.headers.items() for v in values])
        self.content_type = self.headers.get("content-type", "").lower()


def _record_must(message, *, rule, response):
    check(False, message, rule=rule, response=response)


def _record_should(message, *, rule, response):
    should(TARGET, False, message, rule=rule, response=response)


def _judge(case, response, rule: str, checks, record=_record_must) -> None:
    """Each distinct failure of Schemathesis' checks becomes one finding of ``rule``."""
    try:
        case.validate_response(response, checks=checks)
    except FailureGroup as group:
        for failure in group.exceptions:
            record(
                f"{case.operation.label}: {failure.title} (got {response.status_code}): "
                f"{_one_line(failure.message)}",
                rule=rule,
                response=response,
            )
    except AssertionError as failure:  # a single failure is raised as itself
        record(
            f"{case.operation.label}: {_one_line(str(failure))} (got {response.status_code})",
            rule=rule,
            response=response,
        )


def _judge_against_full_spec(case, response) -> None:
    """ALL-02 at SHOULD: our decisions (error formats, fields always sent, statuses the seed never
    names) are checked too, and a difference is a warning that names the decision."""
    media = (response.headers.get("content-type") or [""])[0]
    if not (media.startswith(("application/json", "text/")) or not response.content):
        return  # openapi-core validates JSON and text bodies only
    try:
        FULL_WIRE.validate_response(RequestsOpenAPIRequest(response.request), _WireResponse(response))
    except Exception as exc:  # openapi-core raises a family of validation errors
        should(
            TARGET,
            False,
            f"{case.operation.label}: got {response.status_code}, which our spec describes otherwise: "
            f"{_one_line(violation_text(exc), 240)}",
            rule="ALL-02",
            response=response,
            decision=_decisions_of(case.method, case.path, response.status_code),
        )


@pytest.mark.rule(
    "ALL-01", "ALL-02", "ALL-03", "ALL-05", *([AUTH_RULE[TARGET.api]] if TARGET.api in AUTH_RULE else [])
)
@schema.parametrize()
@settings(
    max_examples=TARGET.max_examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
def test_schema_layer(case, target):  # target: unused here, but named so a host session can tag the id
    batch("schema-layer", _send_and_judge).append(case)


def _send_and_judge(cases) -> None:
    """Every generated case of one operation, sent ``TARGET.concurrency`` at a time, then judged in
    generation order (the findings keep the first request that showed each break)."""
    with ThreadPoolExecutor(max_workers=max(1, min(TARGET.concurrency, len(cases)))) as pool:
        outcomes = list(pool.map(_call, cases))
        for case, (response, error) in zip(cases, outcomes, strict=True):
            if error is not None:
                check(False, f"{case.operation.label}: the request failed: {error}", rule="ALL-01")
            else:
                _judge_case(case, response)
        pool.map(_clean_up_quietly, [(c, r) for c, (r, e) in zip(cases, outcomes, strict=True) if e is None])


def _call(case):
    try:
        return case.call(timeout=30), None
    except Exception as exc:  # a transport error: the server hung up, timed out, refused the connection
        return None, f"{type(exc).__name__}: {exc}"


def _clean_up_quietly(pair) -> None:
    with contextlib.suppress(Exception):  # best effort: a failed clean-up leaves a record, not a verdict
        _clean_up(*pair)


def _judge_case(case, response) -> None:
    _judge(case, response, "ALL-01", [not_a_server_error])
    if response.status_code >= 500:
        return
    negative = case.meta is not None and case.meta.generation.mode == GenerationMode.NEGATIVE
    if negative:
        if _violates(SEED_WIRE, response) and _violates(FULL_WIRE, response):
            _judge(case, response, "ALL-03", [negative_data_rejection])
        return
    _judge(case, response, "ALL-02", SEED_CHECKS)
    _judge_against_full_spec(case, response)
    if TARGET.api in AUTH_RULE:
        _judge(case, response, AUTH_RULE[TARGET.api], [ignored_auth], record=_record_should)
    refused = 400 <= response.status_code < 500 and response.status_code not in STATE_STATUSES
    if refused and (case.method, case.path) not in OWN_CHECKS and not _violates(SEED_WIRE, response):
        check(
            False,
            f"{case.operation.label}: a request the seed allows was refused with {response.status_code}: "
            f"{_one_line(response.text, 200)}",
            rule="ALL-05",
            response=response,
        )
