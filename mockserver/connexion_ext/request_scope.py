"""The request's scope as Connexion's context holds it, for code that runs outside the mock's own layers."""

from __future__ import annotations

from connexion.context import scope as _connexion_scope


def connexion_scope() -> dict:
    """The current request's ASGI scope from Connexion's context variable (a werkzeug-style proxy)."""
    return _connexion_scope._get_current_object()
