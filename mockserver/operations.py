"""The spec's operations as the layers look them up: the request's routed operation, an API's operations
by id, the methods a path documents. Built once per API from its profile's spec."""

from __future__ import annotations

import re

from image_api_contracts import APIS, resolve_refs
from mockserver.request_state import MOCK_CONTEXT, ROUTED


def routed_operation(scope) -> tuple[str, dict] | None:
    """After Connexion's routing: the API name and the spec's operation object for this request.

    Several layers ask; the answer is kept in the scope with the routing it was read from, so it is
    worked out once per request and never outlives the routing it came from."""
    routing = scope.get("extensions", {}).get("connexion_routing", {})
    kept = scope.get(ROUTED)
    if kept is not None and kept[0] is routing:
        return kept[1]
    ctx = scope.get(MOCK_CONTEXT)  # a MockContext (mockserver.state.context)
    operation_id = routing.get("operation_id")
    if ctx is None or operation_id is None:
        return None
    api = ctx.api_for_path(routing.get("api_base_path", "") + "/")
    if api is None:
        return None
    routed = api, operation_index(api).get(operation_id, {})
    scope[ROUTED] = routing, routed
    return routed


_OPERATIONS: dict[str, dict] = {}
_PATHS: dict[str, list] = {}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def operation_index(api: str) -> dict:
    """operationId -> the operation object, with its ``$ref``s resolved."""
    if api not in _OPERATIONS:
        spec = APIS[api].spec
        _OPERATIONS[api] = {
            op["operationId"]: resolve_refs(op, spec)
            for item in spec.get("paths", {}).values()
            for method, op in item.items()
            if method in _METHODS and "operationId" in op
        }
    return _OPERATIONS[api]


def allowed_methods(api: str, relative_path: str) -> list[str]:
    """The methods the spec documents for the path template matching ``relative_path``."""
    if api not in _PATHS:
        _PATHS[api] = [
            (_template_regex(template), sorted(m.upper() for m in item if m in _METHODS))
            for template, item in APIS[api].spec.get("paths", {}).items()
        ]
    for regex, methods in _PATHS[api]:
        if regex.match(relative_path):
            return methods
    return []


def _template_regex(template: str) -> re.Pattern:
    parts = re.split(r"(\{[^}]+\})", template)
    body = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
    return re.compile(f"^{body}$", re.S)
