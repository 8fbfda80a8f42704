"""Schema layer: Schemathesis generates requests from the API's *seed view* (``conformance.seed_view``:
the spec with our decisions undone), positive and negative, and judges every response rule by rule:

- ALL-01: no 5xx, for every case;
- ALL-02: the documented status, content type, headers and body of the seed view (MUST); the same
  against the full spec, our decisions included (SHOULD: a warning naming the decision);
- ALL-03: a request that breaks the seed's types (a wrong type, a missing required field, an unparsable
  body) gets a 4xx (MUST); one that breaks only a bound, a range or a ``format`` the seed states may be
  refused, clamped or accepted (SHOULD: a warning naming the value and the decision);
- ALL-05: a request the seed allows is not refused (any 4xx but those that speak of state, credentials
  or resource limits) when its values are ordinary ones of each field's meaning (MUST); a refused value
  the type admits but the meaning does not address (a negative count, page or size, a zero limit, an
  empty name, a type extreme, a control character) is a SHOULD finding naming that value. Operations on a
  named resource, bodies that carry file content and bracket-nested forms are left to the APIs' own
  ALL-05 checks, which send real ids and real files.
- ALL-01 for methods the spec does not define: any 5xx but 501 is MUST; 501 (HTTP's own answer for an
  unsupported method) and anything but 405 with ``Allow`` are SHOULD.

Findings are recorded, not raised, so one operation's run reports every distinct break, each on its own
rule with the exact request that showed it, and the remaining examples still run. Under --read-only only
safe operations are generated, each of them in full.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest
from schemathesis import GenerationMode
from werkzeug.datastructures import Headers

from conformance.degenerate_values import degenerate_values
from conformance.findings import batch, check, should
from conformance.library_internals.schemathesis_parts import (
    CoveragePhaseData,
    CoverageScenario,
    FailureGroup,
    OperatorKind,
    content_type_conformance,
    follow_link,
    ignored_auth,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from conformance.openapi_check import violation_text
from conformance.seed_view import HTTP_METHODS, admitting_unnamed_media_types, seed_view
from conformance.target import Target
from image_api_contracts import APIS, resolve_refs

# A seed-valid request may still meet these: the resource is unknown or taken (404, 409, 410), the caller
# lacks a grant (401, 403), or a resource limit (413, 429). Any other 4xx refuses what the seed allows.
STATE_STATUSES = {401, 403, 404, 409, 410, 413, 429}


def _served(document: dict, base_url: str) -> dict:
    return {**copy.deepcopy(document), "servers": [{"url": base_url}]}


FORM = "application/x-www-form-urlencoded"


def _schema_node(node, document: dict) -> dict:
    """A schema with its ``$ref`` resolved and its ``allOf`` parts merged (enough to walk properties)."""
    node = resolve_refs(node or {}, document)
    if not isinstance(node, dict):
        return {}
    merged = {k: v for k, v in node.items() if k != "allOf"}
    for part in node.get("allOf", []):
        part = _schema_node(part, document)
        merged.setdefault("properties", {}).update(part.get("properties", {}))
        for key in ("items", "additionalProperties", "type"):
            if key in part:
                merged.setdefault(key, part[key])
    return merged


def _rack_key(key: str, schema: dict, document: dict) -> str:
    """``a[b][0]`` as the seed writes it, ``a[b][]``, where the schema says the indexed node is an array
    (a map key that happens to be a number stays as it is)."""
    if not re.fullmatch(r"[^\[\]]+(\[[^\[\]]*\])+", key):
        return key  # not a well-formed bracket key: sent as generated
    head, *parts = re.findall(r"^[^\[]+|(?<=\[)[^\]]*(?=\])", key)
    node = _schema_node(_schema_node(schema, document).get("properties", {}).get(head), document)
    out = head
    for part in parts:
        if (node.get("type") == "array" or "items" in node) and part.isdigit():
            out += "[]"
            node = _schema_node(node.get("items"), document)
            continue
        out += f"[{part}]"
        extra = node.get("additionalProperties")
        child = node.get("properties", {}).get(part) or (extra if isinstance(extra, dict) else {})
        node = _schema_node(child, document)
    return out


@schemathesis.serializer(FORM)
def _rack_form(ctx, value):
    """Form bodies on the wire in the seeds' own encoding: a list's items as repeated ``key[]=v`` (the
    sharinpix seed's example request), where Schemathesis would number them ``key[0]=v``."""
    if not isinstance(value, dict):
        return value if isinstance(value, bytes | None) else str(value).encode()
    document = ctx.case.operation.schema.raw_schema  # the run's seed view, served at the target
    operation = document["paths"].get(ctx.case.path, {}).get(ctx.case.method.lower(), {})
    body = resolve_refs(operation.get("requestBody", {}), document).get("content", {}).get(FORM, {})
    schema = body.get("schema", {})
    pairs = [(_rack_key(str(k), schema, document) if "[" in str(k) else k, v) for k, v in value.items()]
    return urlencode(pairs).encode()


# ignored_auth probes each secured operation without credentials and with invalid ones. Not for evotor:
# there any non-empty token is valid by the spec's decision (EVT-01), so an "invalid" probe proves nothing.
# Not yet for sharinpix: one unexplained failure against the mock in five runs; its SPX-01 checks stand.
# It expects 401 or 403, where the seed names no status: a SHOULD (IUP-01's MUST is its own checks').
AUTH_RULE = {name: p.auth_rule for name, p in APIS.items() if p.probe_ignored_auth}
TLS = httpx.create_ssl_context()  # once: loading the CA bundle for each clean-up was 8% of a run
SEED_CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# What ALL-03 judges at MUST: the seed view's types and required fields only. Bounds (maximum, lengths,
# item counts), patterns, enums and formats (int32/int64 ranges, base64, date-time) are left out: a
# request that breaks only those may be refused, clamped or accepted (SHOULD).
BOUND_KEYWORDS = {
    "maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum", "maxLength", "minLength", "pattern",
    "maxItems", "minItems", "uniqueItems", "maxProperties", "minProperties", "multipleOf", "enum",
}  # fmt: skip
BOUNDS_DECISION = (
    "a value beyond a bound, range or format the seed states (or one we decided, such as int64 for a bare "
    "integer) may be refused or clamped: the seed does not say which"
)
DEGENERATE_DECISION = (
    "the seed's type admits this value but its meaning does not address it: refusing or accepting it are "
    "both legal (Types versus meaning)"
)


BOUND_SCENARIOS = {  # Schemathesis' coverage cases that break a bound, an enum or a format, not a type
    CoverageScenario.VALUE_ABOVE_MAXIMUM,
    CoverageScenario.VALUE_BELOW_MINIMUM,
    CoverageScenario.STRING_ABOVE_MAX_LENGTH,
    CoverageScenario.STRING_BELOW_MIN_LENGTH,
    CoverageScenario.ARRAY_ABOVE_MAX_ITEMS,
    CoverageScenario.ARRAY_BELOW_MIN_ITEMS,
    CoverageScenario.OBJECT_ABOVE_MAX_PROPERTIES,
    CoverageScenario.OBJECT_BELOW_MIN_PROPERTIES,
    CoverageScenario.INVALID_ENUM_VALUE,
    CoverageScenario.INVALID_FORMAT,
}


def _breaks_only_bounds(run: RunContract, case, response) -> bool:
    """Whether a negative case breaks only bounds, enums or formats (SHOULD), by what Schemathesis says it
    mutated; for a case without that record, by whether the request is valid against the types alone."""
    data = case.meta.phase.data if case.meta is not None else None
    if isinstance(data, CoveragePhaseData) and data.scenario in BOUND_SCENARIOS:
        return True
    mutations = getattr(data, "mutations", ())
    if mutations:
        return all(
            m.operator in (OperatorKind.NEGATE_CONSTRAINTS, OperatorKind.VALUE_VIOLATOR)
            and m.keywords
            and set(m.keywords) <= BOUND_KEYWORDS | {"format"}
            for m in mutations
        )
    return not _violates(run.types_wire, response)


def _types_only(node):
    if isinstance(node, list):
        return [_types_only(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in BOUND_KEYWORDS and not isinstance(value, dict):
            continue
        if key == "format" and value != "binary":
            continue
        out[key] = _types_only(value)
    return out


def _violation(wire: OpenAPI, response) -> str | None:
    try:
        wire.validate_request(RequestsOpenAPIRequest(response.request))
    except Exception as exc:  # openapi-core raises a family of validation errors
        try:
            return _one_line(violation_text(exc), 200)
        except Exception:  # an error about bytes that are not text (e.g. a body that is not UTF-8)
            return _one_line(f"{type(exc).__name__}: {exc!r}", 200)
    return None


def _violates(wire: OpenAPI, response) -> bool:
    """Some generated cases serialise to something else: an integer for a multipart text field is the
    same bytes as a string, a boolean in a pipe-delimited list reads as the word "false", an object query
    value is dropped. What counts is whether the request actually *sent* is valid."""
    try:
        wire.validate_request(RequestsOpenAPIRequest(response.request))
    except Exception:  # openapi-core raises a family of validation errors
        return True
    return False


def _operations(spec: dict) -> dict:
    """operationId -> (method, path template, {parameter name: location}, responses)."""
    return {
        op["operationId"]: (
            method,
            path,
            {
                p["name"]: p["in"]
                for p in resolve_refs(item.get("parameters", []) + op.get("parameters", []), spec)
            },
            resolve_refs(op.get("responses", {}), spec),
        )
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS and isinstance(op, dict) and "operationId" in op
    }


def _left_to_own_checks(method: str, operation: dict, path_item: dict, seed: dict) -> bool:
    """Requests whose acceptance no schema can judge. An operation on a named resource (a path parameter,
    or a DELETE): a generated id names nothing, and how a server refuses an unknown one (400, 404, 410)
    is not in the seeds. Bodies with file content (a binary part, base64 data: whether a file is
    acceptable is prose) and bracket-nested forms (``a[b][]=``, which openapi-core reads flat)."""
    parameters = resolve_refs(path_item.get("parameters", []) + operation.get("parameters", []), seed)
    if method == "delete" or any(p.get("in") == "path" for p in parameters):
        return True
    content = resolve_refs(operation.get("requestBody", {}), seed).get("content", {})
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


def _own_checks(seed: dict) -> set[tuple[str, str]]:
    """(METHOD, path) of the operations whose acceptance the APIs' own checks judge."""
    return {
        (method.upper(), path)
        for path, item in seed["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS and isinstance(op, dict) and _left_to_own_checks(method, op, item, seed)
    }


@dataclass(frozen=True)
class RunContract:
    """What one run's schema layer judges against, built from the run's target at collection (never at
    import: a process may run the checks against several targets, one after the other)."""

    target: Target
    spec: dict  # the full spec, our decisions included
    seed: dict  # the seed view, with media types it leaves unnamed admitting anything
    seed_wire: OpenAPI
    types_wire: OpenAPI  # the seed view's types and required fields only (ALL-03's MUST)
    full_wire: OpenAPI
    operations: dict
    own_checks: set

    @classmethod
    def for_target(cls, target: Target) -> RunContract:
        spec = APIS[target.api].spec
        seed = admitting_unnamed_media_types(seed_view(target.api))
        return cls(
            target=target,
            spec=spec,
            seed=seed,
            seed_wire=OpenAPI.from_dict(_served(seed, target.base_url)),
            types_wire=OpenAPI.from_dict(_served(_types_only(seed), target.base_url)),
            full_wire=OpenAPI.from_dict(_served(spec, target.base_url)),
            operations=_operations(spec),
            own_checks=_own_checks(seed),
        )

    def schema(self):
        """The Schemathesis schema of the seed view, served at the target with its credential, generating
        from the run's seed: Schemathesis seeds each operation's cases itself (from a seed of its own, drawn
        at random for every schema unless given), over pytest's ``--hypothesis-seed``; without the run's
        seed here, a replayed seed would send other cases, and a verdict that rests on one of them (a
        degenerate value refused at SHOULD) would come and go between runs of the same seed."""
        target = self.target
        schema = schemathesis.openapi.from_dict(_served(self.seed, target.base_url))
        schema.config.update(base_url=target.base_url, headers=target.auth_headers())
        if target.seed is not None:
            schema.config.seed = target.seed
        if target.read_only:  # the coverage phase probes every path with the methods it lacks: keep the safe
            coverage = schema.config.phases.coverage
            coverage.unexpected_methods = {
                m for m in coverage.unexpected_methods if m.upper() in ("GET", "OPTIONS")
            }
        return schema


def _decisions_of(spec: dict, method: str, path: str, status: int, violation: str = "") -> str | None:
    """The x-decision texts of the response the full spec documents for this status (for a WARN); those
    on the fields the violation names (``at /width``) first."""
    responses = resolve_refs(spec["paths"][path][method.lower()].get("responses", {}), spec)
    found = responses.get(str(status)) or responses.get(f"{status // 100}XX") or responses.get("default")
    named = set(re.findall(r"at /(?:[^/\s:;]+/)*([^/\s:;]+)", violation))
    texts: list[tuple[bool, str]] = []

    def walk(node, key=None):
        if isinstance(node, dict):
            if "x-decision" in node:
                texts.append((key not in named, " ".join(str(node["x-decision"]).split())))
            for name, value in node.items():
                walk(value, name)
        elif isinstance(node, list):
            for value in node:
                walk(value, key)

    walk(found)
    ordered = dict.fromkeys(text for _, text in sorted(texts, key=lambda t: t[0]))  # stable: spec order
    return "; ".join(ordered)[:300] or None


def _clean_up(run: RunContract, case, response) -> None:
    """Follow the spec's links from a create to its delete, so generated records do not stay behind."""
    if not 200 <= response.status_code < 300:
        return
    operations = run.operations
    responses = operations.get(case.operation.definition.raw.get("operationId"), (None, None, {}, {}))[3]
    links = (responses.get(str(response.status_code)) or {}).get("links", {})
    for link in links.values():
        if link.get("operationId") not in operations or not link["operationId"].lower().startswith("delete"):
            continue
        method, path, where, _ = operations[link["operationId"]]
        try:
            values = {
                name: follow_link(expr, case, response) for name, expr in link.get("parameters", {}).items()
            }
        except Exception:  # a body without the linked field: nothing to delete by it
            continue
        query = {k: v for k, v in values.items() if where.get(k) == "query"}
        for name, value in values.items():
            if where.get(name) == "path":
                path = path.replace("{" + name + "}", str(value))
        httpx.request(
            method.upper(),
            run.target.base_url + path,
            params=query,
            headers=run.target.auth_headers(),
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
    should(None, False, message, rule=rule, response=response)


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


def _judge_against_full_spec(run: RunContract, case, response) -> None:
    """ALL-02 at SHOULD: our decisions (error formats, fields always sent, statuses the seed never
    names) are checked too, and a difference is a warning that names the decision."""
    media = (response.headers.get("content-type") or [""])[0]
    if not (media.startswith(("application/json", "text/")) or not response.content):
        return  # openapi-core validates JSON and text bodies only
    try:
        run.full_wire.validate_response(RequestsOpenAPIRequest(response.request), _WireResponse(response))
    except Exception as exc:  # openapi-core raises a family of validation errors
        violation = _one_line(violation_text(exc), 240)
        should(
            None,
            False,
            f"{case.operation.label}: got {response.status_code}, which our spec describes otherwise: "
            f"{violation}",
            rule="ALL-02",
            response=response,
            decision=_decisions_of(run.spec, case.method, case.path, response.status_code, violation),
        )


def checks_for(target: Target) -> dict:
    """The schema layer's check for this run's target: one item per operation of the seed view, tagged
    with the rules it judges. Called when the module is collected (``conformance.rule_plugin.CheckModule``),
    so nothing here reads the target at import."""
    run = RunContract.for_target(target)
    auth_rules = [AUTH_RULE[target.api]] if target.api in AUTH_RULE else []

    @pytest.mark.rule("ALL-01", "ALL-02", "ALL-03", "ALL-05", *auth_rules)
    @run.schema().parametrize()
    @settings(
        max_examples=target.max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check_schema_layer(case, target):  # target: unused, but named so a host session can tag the id
        batch("schema-layer", functools.partial(_send_and_judge, run)).append(case)

    return {"check_schema_layer": check_schema_layer}


def _send_and_judge(run: RunContract, cases) -> None:
    """Every generated case of one operation, sent ``target.concurrency`` at a time, then judged in
    generation order (the findings keep the first request that showed each break)."""
    with ThreadPoolExecutor(max_workers=max(1, min(run.target.concurrency, len(cases)))) as pool:
        outcomes = list(pool.map(_call, cases))
        for case, (response, error) in zip(cases, outcomes, strict=True):
            if error is not None:
                check(False, f"{case.operation.label}: the request failed: {error}", rule="ALL-01")
            else:
                _judge_case(run, case, response)
        done = [(run, c, r) for c, (r, e) in zip(cases, outcomes, strict=True) if e is None]
        pool.map(_clean_up_quietly, done)


def _call(case):
    try:
        return case.call(timeout=30), None
    except Exception as exc:  # a transport error: the server hung up, timed out, refused the connection
        return None, f"{type(exc).__name__}: {exc}"


def _clean_up_quietly(run_case_response) -> None:
    with contextlib.suppress(Exception):  # best effort: a failed clean-up leaves a record, not a verdict
        _clean_up(*run_case_response)


def _unspecified_method(case) -> bool:
    data = case.meta.phase.data if case.meta is not None else None
    return isinstance(data, CoveragePhaseData) and data.scenario == CoverageScenario.UNSPECIFIED_HTTP_METHOD


def _judge_unspecified_method(case, response) -> None:
    """A method the spec does not define: a crash (any 5xx but 501) is MUST; 501 is HTTP's own answer for
    an unsupported method, and 405 with ``Allow`` the recommended one (SHOULD)."""
    method = response.request.method
    if response.status_code >= 500 and response.status_code != 501:
        _judge(case, response, "ALL-01", [not_a_server_error])
        return
    decision = "x-decision: a method the spec does not define gets 405 with Allow (501 is HTTP's own answer)"
    if response.status_code == 501:
        should(
            None,
            False,
            f"{case.operation.label}: {method}, a method the spec does not define, got 501 (not a crash; "
            "405 with Allow is the recommended answer)",
            rule="ALL-01",
            response=response,
            decision=decision,
        )
        return
    if 400 <= response.status_code < 500:
        _judge(case, response, "ALL-01", [unsupported_method], record=_record_should)


def _judge_case(run: RunContract, case, response) -> None:
    if _unspecified_method(case):
        _judge_unspecified_method(case, response)
        return
    _judge(case, response, "ALL-01", [not_a_server_error])
    if response.status_code >= 500:
        return
    negative = case.meta is not None and case.meta.generation.mode == GenerationMode.NEGATIVE
    if negative:
        if _violates(run.seed_wire, response) and _violates(run.full_wire, response):
            broken = _violation(run.seed_wire, response)
            if not _breaks_only_bounds(run, case, response):
                _judge(case, response, "ALL-03", [negative_data_rejection])
            elif not 400 <= response.status_code < 500:
                should(
                    None,
                    False,
                    f"{case.operation.label}: accepted with {response.status_code} a request that breaks "
                    f"only a bound or format: {broken}",
                    rule="ALL-03",
                    response=response,
                    decision=BOUNDS_DECISION,
                )
        return
    _judge(case, response, "ALL-02", SEED_CHECKS)
    _judge_against_full_spec(run, case, response)
    if run.target.api in AUTH_RULE:
        _judge(case, response, AUTH_RULE[run.target.api], [ignored_auth], record=_record_should)
    refused = 400 <= response.status_code < 500 and response.status_code not in STATE_STATUSES
    if refused and (case.method, case.path) not in run.own_checks and not _violates(run.seed_wire, response):
        odd: dict[str, list] = {}
        for where, value, why in degenerate_values(case, run.seed):
            odd.setdefault(where, [value]).append(why)
        text = f"refused with {response.status_code}: {_one_line(response.text, 160)}"
        if odd:
            named = "; ".join(
                f"{where} = {_one_line(repr(value), 40)} ({', '.join(why)})"
                for where, (value, *why) in list(odd.items())[:3]
            )
            should(
                None,
                False,
                f"{case.operation.label}: a request with a degenerate value was {text} [{named}]",
                rule="ALL-05",
                response=response,
                decision=DEGENERATE_DECISION,
            )
        else:
            check(
                False,
                f"{case.operation.label}: a request the seed allows, with ordinary values, was {text}",
                rule="ALL-05",
                response=response,
            )
