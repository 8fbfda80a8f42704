"""Where the specs and seed data are, and how a spec is read (once per process; `$ref`s inlined on demand)."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

_PACKAGE_DIR = Path(__file__).resolve().parent


def _data_dir(packaged: str, checkout: str) -> Path:
    """Installed wheels carry the data inside the package; a checkout keeps it at the top level."""
    inside = _PACKAGE_DIR / packaged
    return inside if inside.is_dir() else _PACKAGE_DIR.parent / checkout


SPECS_DIR = _data_dir("_specs", "specs")
FIXTURES_DIR = _data_dir("_fixtures", "fixtures")

# libyaml's C parser is ~10x faster than PyYAML's pure-Python one; start-up time is mostly spec parsing.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def load_spec(path: Path) -> dict:
    """Parsed once per process; callers must not mutate it (copy first)."""
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)  # a safe loader (C or Python)


def resolve_refs(node, spec: dict):
    """A copy of ``node`` with every local ``$ref`` inlined (the specs have no recursive references)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return resolve_refs(target, spec)
        return {k: resolve_refs(v, spec) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve_refs(v, spec) for v in node]
    return node
