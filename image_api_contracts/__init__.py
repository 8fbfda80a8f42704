"""What the mock and the conformance suite both know about the APIs, and nothing of either.

Each API is one ``ApiProfile`` in ``image_api_contracts.profiles``; its spec and seed data ship beside
it. This package imports only the standard library and PyYAML, so both sides (and a user's own tests)
can read it without starting anything.
"""

from __future__ import annotations

from .profiles import APIS, ApiProfile, auth_headers
from .specs import FIXTURES_DIR, SPECS_DIR, load_spec, resolve_refs

__all__ = ["APIS", "FIXTURES_DIR", "SPECS_DIR", "ApiProfile", "auth_headers", "load_spec", "resolve_refs"]
