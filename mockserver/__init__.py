"""Stateful, spec-driven mock of five image-upload APIs (Connexion 3).

Imports are lazy so that ``mockserver.registry`` and the CLI's ``--help`` stay cheap.
"""

from __future__ import annotations

import importlib

__all__ = ["APIS", "FIXTURES_DIR", "SPECS_DIR", "MockServer", "Settings", "create_app"]

_WHERE = {
    "APIS": "registry",
    "FIXTURES_DIR": "registry",
    "SPECS_DIR": "registry",
    "MockServer": "app",
    "create_app": "app",
    "Settings": "context",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(name)
