"""Conformance suite for the image APIs: schema checks plus behaviour rules, by rule ID.

Imports are lazy: pytest imports ``conformance.installed_plugin`` (and so this package) in every session of
every project that installed us, which must stay cheap.
"""

from __future__ import annotations

import importlib

__all__ = ["ConformanceError", "Rule", "SpecViolation", "UsageError", "assert_honours_contract", "load_rules"]

_WHERE = {
    "Rule": "rules",
    "load_rules": "rules",
    "ConformanceError": "errors",
    "SpecViolation": "errors",
    "UsageError": "errors",
    "assert_honours_contract": "openapi_check",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(name)
