"""Per request, the contract verdict that Connexion already reached: did the request honour the spec?

Nothing is validated a second time. Checkpoints in Connexion's middleware stack note how far a request
got: past routing (an operation of the spec matched), past security, past request validation. An
exception that stops it before the last one is Connexion's (or our validators') refusal, and names why:

- refused by security: the API's authentication rule (EVT-01, IUP-01, SPX-01);
- refused by request validation, or no operation of the spec for the method and path: ALL-03;
- answered before validation by the mock's own choices (``Prefer: code=``, a body over the mock's limit)
  or outside every spec (the file URLs under ``/__mock__/files/``): "unjudged".
"""

from __future__ import annotations

from connexion.exceptions import ProblemException
from starlette.exceptions import HTTPException

from image_api_contracts import APIS
from mockserver.asgi import Receive, Scope, Send
from mockserver.errors import clipped
from mockserver.operations import allowed_methods
from mockserver.request_state import EXCHANGE

REFUSAL_RULE = "ALL-03"
RESOURCE_LIMITS = frozenset({413, 507})


class Checkpoint:
    """Marks the request's Exchange as having reached this point of Connexion's stack."""

    def __init__(self, app, stage: str):
        self.app = app
        self.stage = stage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exchange = scope.get(EXCHANGE)
        if exchange is not None:
            setattr(exchange, self.stage, True)
        await self.app(scope, receive, send)


class RoutedCheckpoint:
    """Right after Connexion's routing: which operation, and what any layer below it raised."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exchange = scope.get(EXCHANGE)
        if exchange is None:
            return await self.app(scope, receive, send)
        routing = scope.get("extensions", {}).get("connexion_routing", {})
        exchange.operation = routing.get("operation_id")
        exchange.routed = exchange.operation is not None
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            exchange.refusal = exc
            raise


def refusal_message(exc: Exception) -> str:
    """The refusal's first paragraph (jsonschema's "Failed validating … in schema" dump is dropped)."""
    if isinstance(exc, ProblemException):
        text = str(exc.detail or exc.title or type(exc).__name__)
    elif isinstance(exc, HTTPException):
        text = str(exc.detail)
    else:
        text = str(getattr(exc, "message", None) or exc or type(exc).__name__)
    return clipped(text.split("\n\nFailed validating", 1)[0])


def _status_of(exc: Exception | None) -> int | None:
    return getattr(exc, "status", None) or getattr(exc, "status_code", None)


def is_honoured(exchange, path: str) -> bool:
    """Whether ``contract_verdict`` says "honoured": a spec's operation matched and every check passed."""
    return exchange.validated and exchange.routed and not path.startswith("/__mock__/files/")


def honoured_verdict() -> dict:
    return _verdict("honoured", None)


def contract_verdict(exchange, ctx, method: str, path: str) -> dict:
    """``{"verdict": "honoured" | "broken" | "unjudged", "rule": ..., "messages": [...]}``."""
    if is_honoured(exchange, path):
        return honoured_verdict()
    if path.startswith("/__mock__/files/"):
        return _verdict("unjudged", None, "a file URL the mock handed out: no spec describes it")
    api = exchange.api
    if not exchange.routed:  # Connexion lets such a request through its checks, to answer 404 or 405
        base = ctx.info(api).base_path(ctx.settings.prefixed) if api else ""
        methods = allowed_methods(api, path[len(base) :]) if api else []
        if methods:
            why = f"the spec documents {path[len(base) :] or '/'} for {', '.join(methods)} only, not {method}"
        else:
            why = f"the spec has no operation for {method} {path[len(base) :] or '/'}"
        return _verdict("broken", REFUSAL_RULE, why)
    if exchange.validated:
        return _verdict("honoured", None)
    exc = exchange.refusal
    status = _status_of(exc) or exchange.status
    if status in RESOURCE_LIMITS:
        why = refusal_message(exc) if exc else f"answered {status} by the mock's own limit"
        return _verdict("unjudged", None, f"refused by the mock's limit before validation: {why}")
    if exc is None:  # a response sent before security or validation ran: Prefer, a forced behaviour
        return _verdict("unjudged", None, f"answered {exchange.status} before validation (Prefer: code=)")
    if not exchange.authenticated:
        return _verdict("broken", _auth_rule(api), refusal_message(exc))
    return _verdict("broken", REFUSAL_RULE, refusal_message(exc))


def _auth_rule(api: str | None) -> str:
    """The API's authentication rule (its profile names it); ALL-03 for an API without one."""
    profile = APIS.get(api)
    return profile.auth_rule if profile is not None and profile.auth_rule else REFUSAL_RULE


def _verdict(verdict: str, rule: str | None, *messages: str) -> dict:
    return {"verdict": verdict, "rule": rule, "messages": list(messages)}
