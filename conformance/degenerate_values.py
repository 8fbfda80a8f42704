"""Values a seed's type admits but its meaning does not address (a negative count, a zero limit, an empty
name, a type's extreme, control characters): the schema layer refuses to blame a server at MUST for refusing
a generated request that carries one (ALL-05 at SHOULD, naming the value)."""

from __future__ import annotations

import re

from image_api_contracts import resolve_refs

INT32_EXTREME = 2**31 - 1


def _degenerate(value, where: str):
    """Values the seed's type admits but its meaning does not address, as (where, value, why)."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if value < 0:
            yield where, value, "a negative number"
        elif value == 0 and "limit" in where.lower():
            yield where, value, "a zero limit"
        if abs(value) >= INT32_EXTREME:
            yield where, value, "an integer type's extreme"
    elif isinstance(value, float):
        if value < 0:
            yield where, value, "a negative number"
    elif isinstance(value, str):
        if value == "":
            yield where, value, "an empty string"
        elif any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) < 0xE000 for c in value):
            yield where, value, "control characters"
    elif isinstance(value, dict):
        if not value:
            yield where, value, "an object with none of its fields"
        for key, item in value.items():
            yield from _degenerate(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _degenerate(item, f"{where}[{i}]")


def degenerate_values(case, seed: dict) -> list[tuple[str, object, str]]:
    """Every degenerate value a generated case sends, where it sends it."""
    found = []
    for location in ("path_parameters", "query", "headers", "cookies"):
        for name, value in (getattr(case, location, None) or {}).items():
            if location == "headers" and name.lower() in ("authorization", "x-authorization"):
                continue
            if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
                value = int(value)  # a parameter goes on the wire as text: "-1" is the number
            found += _degenerate(value, f"{location.removesuffix('_parameters').rstrip('s')} {name}")
    body = getattr(case, "body", None)
    if isinstance(body, dict | list | str | int | float):
        found += _degenerate(body, "body")
    documented = _body_properties(case, seed)
    if isinstance(body, dict) and body and documented and not documented & set(body):
        found.append(("body", body, "an object with none of its documented fields"))
    return found


def _body_properties(case, seed: dict) -> set[str]:
    """The property names the seed documents for the case's request body."""
    operation = seed["paths"].get(case.path, {}).get(case.method.lower(), {})
    content = resolve_refs(operation.get("requestBody", {}), seed).get("content", {})
    names: set[str] = set()
    for body in content.values():
        names |= set(resolve_refs(body.get("schema", {}), seed).get("properties", {}))
    return names
