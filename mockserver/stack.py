"""The request path, written once: every ASGI layer a request passes, outermost first, and why it sits there.

``MockServer.__call__`` comes first (it gives the request the dict its layers share, ``SHARED``, and
closes the uploads' files when the answer is out); then ``OUTER_LAYERS``; then ``MockServer._dispatch``,
which sends ``/`` and ``/__mock__/...`` to the mock's own routes (``AtomicWriteMiddleware`` around
``control.mock_routes``) and everything else into Connexion, whose middleware list is ``CONNEXION_LAYERS``
verbatim, ending in the API handler. The composition root (``mockserver.app``) builds the app from these
two lists and nothing else; ``tests/unit/mockserver/test_stack.py`` walks the app as built and compares.

What the layers hand each other is declared in ``mockserver.request_state``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connexion.middleware.context import ContextMiddleware as ConnexionContextMiddleware
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware

from mockserver.connexion_ext.cors import OriginlessFastCORS
from mockserver.connexion_ext.lean_validation import (
    SpecOnceRequestValidationMiddleware,
    SpecOnceResponseValidationMiddleware,
)
from mockserver.connexion_ext.routing import RememberingRoutingMiddleware
from mockserver.connexion_ext.security import DirectCheckSecurityMiddleware
from mockserver.connexion_ext.swagger_ui import SwaggerUIOnItsPaths
from mockserver.layers.atomic import AtomicWriteMiddleware
from mockserver.layers.cors import browser_cors
from mockserver.layers.gate import GateMiddleware
from mockserver.layers.guard import GuardMiddleware
from mockserver.layers.journal import JournalMiddleware
from mockserver.layers.limits import BodyLimitMiddleware
from mockserver.layers.postgres_transactions import PostgresMiddleware
from mockserver.layers.prefer import PreferMiddleware
from mockserver.layers.reply_cache import ReplyCacheMiddleware, StateVersionMiddleware
from mockserver.layers.transactions import DurableMiddleware
from mockserver.layers.verdict import Checkpoint, RoutedCheckpoint
from mockserver.state.context import ContextMiddleware


@dataclass(frozen=True)
class OuterLayer:
    """A layer outside Connexion. ``wrap(app, server)`` builds it around ``app``; ``server`` is the
    MockServer being built (its ``ctx``, ``settings``, ``durable``). ``kind``: the class it builds."""

    kind: type
    wrap: Callable[[Any, Any], Any]
    why: str
    only_with_state_dir: bool = False
    only_with_store: bool = False  # --store postgresql://...


OUTER_LAYERS: tuple[OuterLayer, ...] = (
    OuterLayer(
        GuardMiddleware,
        lambda app, server: GuardMiddleware(app, server.ctx),
        "Host and Origin checks first, so a refused request costs nothing (mockserver.layers.guard)",
    ),
    OuterLayer(
        OriginlessFastCORS,
        lambda app, server: browser_cors(app, server.settings),
        "CORS covers every answer, the durable layer's own 503 too, so a page on another origin reads each",
    ),
    OuterLayer(
        JournalMiddleware,
        lambda app, server: JournalMiddleware(app, server.ctx),
        "the journal records what the client sees, after every layer below has answered",
    ),
    OuterLayer(
        DurableMiddleware,
        lambda app, server: DurableMiddleware(app, server.durable),
        "--state-dir: one transaction per request around everything that reads or writes records",
        only_with_state_dir=True,
    ),
    OuterLayer(
        PostgresMiddleware,
        lambda app, server: PostgresMiddleware(app, server.durable),
        "--store: brings the process up to date, and runs a write in one database transaction under its "
        "APIs' advisory locks, around everything that reads or writes records (mockserver.state.postgres)",
        only_with_store=True,
    ),
    OuterLayer(
        ContextMiddleware,
        lambda app, server: ContextMiddleware(app, server.ctx),
        "puts the MockContext in the scope and CURRENT_SCOPE, for every layer and handler below",
    ),
    OuterLayer(
        StateVersionMiddleware,
        lambda app, server: StateVersionMiddleware(app, server.ctx),
        "notes a write's API so the reply cache drops that API's kept replies (mock routes included)",
    ),
)


@dataclass(frozen=True)
class ConnexionLayer:
    """An entry of Connexion's middleware list: a class, or a partial of one, built with the inner app."""

    factory: Callable[..., Any]
    why: str

    @property
    def kind(self) -> type:
        return self.factory.func if isinstance(self.factory, functools.partial) else self.factory


CONNEXION_LAYERS: tuple[ConnexionLayer, ...] = (
    ConnexionLayer(ServerErrorMiddleware, "Connexion's: a last-resort 500 for what escapes the handlers"),
    ConnexionLayer(ExceptionMiddleware, "Connexion's: renders every exception in the API's own error format"),
    ConnexionLayer(SwaggerUIOnItsPaths, "Connexion's Swagger UI, entered only by its own paths"),
    ConnexionLayer(
        RememberingRoutingMiddleware,
        "Connexion's routing, its matches remembered per request line; everything below knows the operation",
    ),
    ConnexionLayer(RoutedCheckpoint, "notes the operation, and what any layer below raised (the verdict)"),
    ConnexionLayer(PreferMiddleware, "Prefer: code=/example= and forced behaviours answer before security"),
    ConnexionLayer(
        DirectCheckSecurityMiddleware,
        "Connexion's: the spec's security schemes (mockserver.auth); an accepted credential checked directly",
    ),
    ConnexionLayer(
        functools.partial(Checkpoint, stage="authenticated"),
        "past security: a later refusal is not the API's auth rule",
    ),
    ConnexionLayer(BodyLimitMiddleware, "a body over the mock's limit gets 413 before anything reads it"),
    ConnexionLayer(GateMiddleware, "the upload checks that must see the body before validation parses it"),
    ConnexionLayer(AtomicWriteMiddleware, "a write that fails with 5xx leaves no trace; one writer per API"),
    ConnexionLayer(SpecOnceRequestValidationMiddleware, "request validation, its spec tables built once"),
    ConnexionLayer(
        functools.partial(Checkpoint, stage="validated"),
        "past validation: the request honoured the contract",
    ),
    ConnexionLayer(ReplyCacheMiddleware, "a kept reply to a validated read; below it only fresh answers"),
    ConnexionLayer(SpecOnceResponseValidationMiddleware, "response validation: the mock keeps its own spec"),
    ConnexionLayer(LifespanMiddleware, "Connexion's: start-up and shut-down (MockServer._lifespan)"),
    ConnexionLayer(ConnexionContextMiddleware, "Connexion's: connexion.request/context for the handler"),
)


def outer_layers(state_dir: bool, store: bool = False) -> tuple[OuterLayer, ...]:
    """The outer layers a server with (or without) ``--state-dir`` or ``--store`` has, outermost first."""
    return tuple(
        layer
        for layer in OUTER_LAYERS
        if (state_dir or not layer.only_with_state_dir) and (store or not layer.only_with_store)
    )


def wrap_outer(app, server, state_dir: bool, store: bool = False):
    """``app`` inside every outer layer, the first of ``OUTER_LAYERS`` outermost."""
    for layer in reversed(outer_layers(state_dir, store)):
        app = layer.wrap(app, server)
    return app


def connexion_middlewares() -> list:
    """Connexion's ``middlewares`` option: the list it builds its stack from, outermost first."""
    return [layer.factory for layer in CONNEXION_LAYERS]
