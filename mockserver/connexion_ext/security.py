"""Connexion's security, with the verifying function's signature inspected once and an accepted credential
verified without Connexion's chain of wrappers.

The verdict is always the spec's security function's (``mockserver.auth``), called with the arguments
Connexion gives it. For an operation with one requirement of one scheme (an HTTP bearer token, or an API
key in a header: every operation of the specs), Connexion wraps that call in four closures and two
coroutines, reads the header through Starlette's ``Headers`` (a copy of the request's header list) and
asks twice per request whether the function takes ``required_scopes`` and ``request``. Here the header
is read from the request's raw headers as ``Headers.get`` reads it (the first field of that name), the
function is called as Connexion calls it, and when it accepts (a ``dict`` of token information) the
request's context gets ``user`` and ``token_info`` as Connexion sets them. Anything else (no header, a
malformed one, another scheme, a refusal, an exception, a result Connexion would not take as a
``dict``) goes through Connexion's own verification, which decides again and answers as it always did
(401, 403, its messages); the security functions are pure, so calling one twice changes nothing.
"""

from __future__ import annotations

import asyncio
import functools

from connexion.middleware.security import SecurityAPI, SecurityMiddleware, SecurityOperation
from connexion.security import (
    SECURITY_HANDLERS,
    AbstractSecurityHandler,
    ApiKeySecurityHandler,
    BearerSecurityHandler,
)

from mockserver.asgi import Receive, Scope, Send
from mockserver.connexion_ext.request_scope import connexion_request


def _signature_once(handler_cls):
    """Connexion's security handler, which inspected the verifying function's signature on every request
    (twice: for ``required_scopes`` and ``request``); here once per function and keyword."""

    @functools.lru_cache(maxsize=256)
    def accepts_kwarg(func, keyword: str) -> bool:
        return handler_cls._accepts_kwarg(func, keyword)

    return type(handler_cls.__name__, (handler_cls,), {"_accepts_kwarg": staticmethod(accepts_kwarg)})


SECURITY_MAP = {name: _signature_once(cls) for name, cls in SECURITY_HANDLERS.items()}


class _DirectCheck:
    """One scheme's credential read from the raw headers and handed to its function, as Connexion would."""

    __slots__ = ("bearer", "func", "header", "pass_request", "pass_scopes", "required_scopes")

    def __init__(self, func, header: str, bearer: bool, required_scopes):
        self.func = func
        self.header = header.lower().encode("latin-1")
        self.bearer = bearer
        # Connexion passes no scopes to a bearer function (its wrapper drops them), the requirement's
        # scopes to an API-key function
        self.required_scopes = None if bearer else required_scopes
        accepts = AbstractSecurityHandler._accepts_kwarg
        self.pass_scopes = accepts(func, AbstractSecurityHandler.required_scopes_kw)
        self.pass_request = accepts(func, AbstractSecurityHandler.request_kw)

    async def token_info(self, scope: Scope) -> dict | None:
        """The function's token information when it accepts the request's credential, else None."""
        value = None
        for name, raw in scope["headers"]:
            if name == self.header:
                value = raw.decode("latin-1")
                break
        if value is None:
            return None
        if self.bearer:
            parts = value.split(maxsplit=1)
            if len(parts) != 2 or parts[0].lower() != "bearer":
                return None
            value = parts[1]
        kwargs = {}
        if self.pass_scopes:
            kwargs["required_scopes"] = self.required_scopes
        if self.pass_request:
            kwargs["request"] = connexion_request(scope)
        try:
            info = self.func(value, **kwargs)
            while asyncio.iscoroutine(info):
                info = await info
        except Exception:  # Connexion's path raises it again, and picks what to answer
            return None
        return info if type(info) is dict else None


def direct_check(operation: SecurityOperation) -> _DirectCheck | None:
    """The direct check of an operation whose security is one requirement of one bearer or header API-key
    scheme verified by Connexion's own handlers; else None (Connexion's path alone)."""
    if len(operation.security) != 1 or len(operation.security[0]) != 1:
        return None
    ((scheme_name, required_scopes),) = operation.security[0].items()
    scheme = operation.security_schemes.get(scheme_name, {})
    handlers = operation.security_handler_factory.security_handlers
    kind = scheme.get("type")
    if kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
        handler_cls, header, bearer = handlers.get("bearer"), "Authorization", True
        if handler_cls is None or not issubclass(handler_cls, BearerSecurityHandler):
            return None
    elif (
        kind == "apiKey"
        and scheme.get("in") == "header"
        and scheme.get("x-authentication-scheme", "").lower() != "bearer"
    ):
        handler_cls, header, bearer = handlers.get("apiKey"), scheme.get("name", ""), False
        if handler_cls is None or not issubclass(handler_cls, ApiKeySecurityHandler):
            return None
    else:
        return None
    if handler_cls._get_verify_func is not getattr(
        SECURITY_HANDLERS.get("bearer" if bearer else "apiKey"), "_get_verify_func", None
    ):
        return None  # a handler that verifies in its own way
    func = handler_cls()._resolve_func(scheme)
    if func is None or not header:
        return None
    return _DirectCheck(func, header, bearer, required_scopes)


class DirectCheckSecurityOperation(SecurityOperation):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.direct = direct_check(self) if self.security else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.direct is not None:
            info = await self.direct.token_info(scope)
            if info is not None:
                context = scope.setdefault("extensions", {}).setdefault("connexion_context", {})
                context.update({"user": info.get("sub", info.get("uid")), "token_info": info})
                return await self.next_app(scope, receive, send)
        await super().__call__(scope, receive, send)


class _DirectCheckSecurityAPI(SecurityAPI):
    def make_operation(self, operation) -> SecurityOperation:
        return DirectCheckSecurityOperation.from_operation(
            operation, next_app=self.next_app, security_handler_factory=self.security_handler_factory
        )


class DirectCheckSecurityMiddleware(SecurityMiddleware):
    """IUP-01, EVT-01, SPX-01: the spec's security schemes, verified by ``mockserver.auth`` (see the
    module doc)."""

    api_cls = _DirectCheckSecurityAPI
