"""Stateful, spec-driven mock of the image-upload APIs (Connexion 3).

Imports are lazy so that the CLI's ``--help`` stays cheap. What the mock knows of each API (its profile,
spec and seed data) is in ``image_api_contracts``; the names below are re-exported for convenience.
"""

from __future__ import annotations

import importlib

__all__ = ["APIS", "FIXTURES_DIR", "SPECS_DIR", "BackgroundMock", "MockServer", "Settings", "create_app"]

_WHERE = {
    "MockServer": "app",
    "create_app": "app",
    "Settings": "state.settings",
    "BackgroundMock": "testing",  # the harness the contract_mock fixture yields
}


def __getattr__(name: str):
    if name in ("APIS", "FIXTURES_DIR", "SPECS_DIR"):
        return getattr(importlib.import_module("image_api_contracts"), name)
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(name)
