"""The request's scope as Connexion's context holds it, for code that runs outside the mock's own layers,
and Connexion's request object made from a scope."""

from __future__ import annotations

from connexion.context import scope as _connexion_scope
from connexion.lifecycle import ConnexionRequest
from starlette.requests import Request as StarletteRequest


def connexion_scope() -> dict:
    """The current request's ASGI scope from Connexion's context variable (a werkzeug-style proxy)."""
    return _connexion_scope._get_current_object()


def connexion_request(scope: dict, receive=None, uri_parser=None) -> ConnexionRequest:
    """``ConnexionRequest(scope, receive, uri_parser=...)``, the same object, made through Connexion's
    ``from_starlette_request``: the constructor asks ``hasattr(self, "_starlette_request")`` before it is
    set, which goes through the class's ``__getattr__`` and two raised ``AttributeError`` s, a
    microsecond of each request's security check, parameters and handler call."""
    if receive is None:
        return ConnexionRequest.from_starlette_request(StarletteRequest(scope), uri_parser=uri_parser)
    return ConnexionRequest.from_starlette_request(StarletteRequest(scope, receive), uri_parser=uri_parser)
