"""The seed-only view of a spec: the spec with every decision undone, so MUST checks rest on the seed alone.

``specs/<api>.yaml`` is the mock's contract: the seed plus what we decided where the seed is silent. Each
decision sits on the node it changes, as ``x-decision`` (prose, for people) and ``x-decided`` (for this
module), optionally with ``x-seed`` (the seed's own, looser statement):

- ``x-decided: true``: the node does not exist in the seed view;
- ``x-decided: [key, ...]``: these keys are dropped from the node;
- ``x-decided: {key: [item, ...]}``: these items are dropped from the list at ``key`` (``{key: true}``
  drops the key);
- ``x-decided: []``: the decision narrows nothing (a name, an example, a widening);
- ``x-seed: {key: value}``: in the seed view these keys are set to the seed's value.

A ``$ref`` to a node the view dropped is dropped too. Every operation also gets a ``4XX`` response with
no content, unless it has one or a ``default``: where a seed names no status for an error, any client
error passes at MUST. The view is built from the raw document, before ``$ref`` resolution, so a decision
tagged on a component undoes it everywhere.
"""

from __future__ import annotations

import copy
import functools

from image_api_contracts import APIS, load_spec

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ANY_CLIENT_ERROR = {
    "description": (
        "Seed view: the seed names no such status. A client error of any code, with any body, passes at "
        "MUST; the spec's own statuses and bodies are checked at SHOULD."
    )
}


_DROPPED = object()  # what a node that is itself a decision becomes (``None`` is a value: ``data: null``)


def _undo(node, where: str, problems: list[str]):
    """``node`` with the decisions under it undone; ``_DROPPED`` when the node itself is a decision."""
    if isinstance(node, list):
        undone = [_undo(item, f"{where}/{i}", problems) for i, item in enumerate(node)]
        return [item for item in undone if item is not _DROPPED]
    if not isinstance(node, dict):
        return node
    if "x-decision" in node and "x-decided" not in node:
        problems.append(f"{where}: x-decision without x-decided")
    decided = node.get("x-decided", [])
    if decided is True:
        return _DROPPED
    out = {}
    for key, value in node.items():
        if key == "x-decided" or (key == "x-seed" and isinstance(value, dict)):
            continue
        if isinstance(decided, list) and key in decided:
            continue
        if isinstance(decided, dict) and decided.get(key) is True:
            continue
        if isinstance(decided, dict) and key in decided:
            if not isinstance(value, list):
                problems.append(f"{where}: x-decided lists items of {key!r}, which is not a list")
                continue
            value = [item for item in value if item not in decided[key]]
            if not value and key == "required":
                continue  # JSON Schema draft 4 (OpenAPI 3.0) wants a non-empty required list
        undone = _undo(value, f"{where}/{key}", problems)
        if undone is not _DROPPED:
            out[key] = undone
    names = decided if isinstance(decided, list) else list(decided) if isinstance(decided, dict) else []
    missing = [key for key in names if key not in node]
    if missing:
        problems.append(f"{where}: x-decided names {missing}, which the node does not have")
    seed = node.get("x-seed")
    if isinstance(seed, dict):  # (info.x-seed is the seed's file name, a string)
        out.update(copy.deepcopy(seed))
    return out


def _resolves(view: dict, ref: str) -> bool:
    node = view
    for part in ref.removeprefix("#/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _drop_dangling_refs(node, view: dict):
    """A reference to a decision is a decision: ``{$ref}`` nodes whose target the view dropped go too."""
    if isinstance(node, list):
        kept = [_drop_dangling_refs(item, view) for item in node]
        return [item for item in kept if item is not _DROPPED]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and not _resolves(view, ref):
        return _DROPPED
    kept = {key: _drop_dangling_refs(value, view) for key, value in node.items()}
    return {key: value for key, value in kept.items() if value is not _DROPPED}


def build_seed_view(spec: dict, problems: list[str] | None = None) -> dict:
    """``problems`` collects tags that are missing or name nothing
    (tests/unit/conformance/test_seed_view.py wants none);
    an untagged decision narrows nothing here, so that test is what keeps decisions out of MUST."""
    view = _undo(spec, "#", [] if problems is None else problems)
    view = _drop_dangling_refs(view, view)
    for item in view.get("paths", {}).values():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            if not any(code in responses for code in ("4XX", "4xx", "default")):
                responses["4XX"] = dict(ANY_CLIENT_ERROR)
    return view


@functools.cache
def _seed_view(api: str) -> dict:
    return build_seed_view(load_spec(APIS[api].spec_path))


def seed_view(api: str) -> dict:
    """The seed-only view of ``api``'s spec (a fresh copy: callers may change it)."""
    return copy.deepcopy(_seed_view(api))


def admitting_unnamed_media_types(view: dict) -> dict:
    """Where a seed types a body ``string`` and names no media type (the view's ``*/*``), any media type,
    or none, and any string, the empty one included, pass at MUST: such a response documents no content
    to hold a server to (Schemathesis would want a Content-Type and, for ``*/*``, JSON). Our decided media
    type is judged at SHOULD against the full spec."""
    for item in view.get("paths", {}).values():
        for method in HTTP_METHODS:
            for response in (item.get(method) or {}).get("responses", {}).values():
                content = response.get("content") if isinstance(response, dict) else None
                if not content or set(content) != {"*/*"}:
                    continue
                schema = content["*/*"].get("schema", {})
                if schema.get("type") == "string" and schema.get("format") not in ("binary", "byte"):
                    del response["content"]
    return view


def decisions(spec: dict) -> list[tuple[str, str, object]]:
    """Every decision of a spec: (JSON pointer, x-decision text, x-decided), in document order."""
    found = []

    def walk(node, pointer: str) -> None:
        if isinstance(node, dict):
            if "x-decision" in node:
                found.append((pointer or "/", str(node["x-decision"]), node.get("x-decided")))
            for key, value in node.items():
                walk(value, f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{pointer}/{i}")

    walk(spec, "")
    return found
