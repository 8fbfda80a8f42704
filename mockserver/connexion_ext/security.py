"""Connexion's security handlers, with the verifying function's signature inspected once."""

from __future__ import annotations

import functools

from connexion.security import SECURITY_HANDLERS


def _signature_once(handler_cls):
    """Connexion's security handler, which inspected the verifying function's signature on every request
    (twice: for ``required_scopes`` and ``request``); here once per function and keyword."""

    @functools.lru_cache(maxsize=256)
    def accepts_kwarg(func, keyword: str) -> bool:
        return handler_cls._accepts_kwarg(func, keyword)

    return type(handler_cls.__name__, (handler_cls,), {"_accepts_kwarg": staticmethod(accepts_kwarg)})


SECURITY_MAP = {name: _signature_once(cls) for name, cls in SECURITY_HANDLERS.items()}
