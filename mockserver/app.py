"""Builds the mock: one Connexion API per spec, the mock's own routes, and the middlewares around them."""

from __future__ import annotations

import contextlib
import copy
import functools
import gc
import logging

from connexion.exceptions import ProblemException
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.responses import Response

from image_api_contracts import SPECS_DIR
from mockserver.apis.base import snake_case
from mockserver.asgi import Receive, Scope, Send
from mockserver.connexion_ext.app_options import trusting_bundled_specs, validator_map
from mockserver.connexion_ext.fastjson import OrjsonJsonifier
from mockserver.connexion_ext.once_decorated import OnceDecoratedApp
from mockserver.connexion_ext.parameters import TablesOnceURIParser
from mockserver.connexion_ext.security import SECURITY_MAP
from mockserver.control import mock_routes
from mockserver.errors import ApiError, make_error_handler
from mockserver.layers.atomic import AtomicWriteMiddleware
from mockserver.logs import STARTUP_LOGGER
from mockserver.request_state import CURRENT_SCOPE, SHARED, close_at_end, close_files
from mockserver.stack import connexion_middlewares, wrap_outer
from mockserver.state.context import MockContext, Settings
from mockserver.state.durable import DurableState
from mockserver.state.fixtures import load_seed_data


def open_store(ctx, url: str):
    """The PostgreSQL store, imported only when asked for (its driver is the ``postgresql`` extra)."""
    from mockserver.state.postgres import PostgresState
    from mockserver.state.postgres_journal import PostgresJournal

    state = PostgresState(ctx, url)
    if ctx.settings.journal_size > 0:
        ctx.journal = PostgresJournal(ctx.settings.journal_size, state)
    return state


def _handler_for(api_handler):
    """operationId -> a handler that closes its uploads and finds its method at call time.

    Connexion parses multipart parts into temporary files and never closes them; the wrapper has them
    closed when the request is over (the journal reads them as the answer goes out).
    Looking the method up per call lets the tests' mutants and variants set an operation method on a
    running handler (the contract is on mockserver.apis.base.BaseApi).
    """

    def resolve(operation_id: str):
        name = snake_case(operation_id)

        @functools.wraps(getattr(api_handler, name))  # Connexion reads the parameters from here
        async def handler(*args, **kwargs):
            try:
                return _without_body_type(await getattr(api_handler, name)(*args, **kwargs))
            finally:
                uploads = (p for v in kwargs.values() for p in (v if isinstance(v, list) else [v]))
                close_at_end(CURRENT_SCOPE.get(None), uploads)

        return handler

    return resolve


def _without_body_type(result):
    """``(None, 204)``: Connexion would give the empty answer a JSON media type; a 204 has no body to type."""
    if isinstance(result, tuple) and len(result) >= 2 and result[0] is None and result[1] == 204:
        return Response(status_code=204, headers=result[2] if len(result) > 2 else None)
    return result


class MockServer:
    """The ASGI app: ``/`` and ``/__mock__/`` go to the mock's routes, everything else to Connexion."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()
        self.ctx = MockContext(self.settings)
        self.connexion = self._build_connexion()
        self.routes = AtomicWriteMiddleware(mock_routes(), self.ctx)
        self.durable = None
        if self.settings.store:
            self.durable = open_store(self.ctx, self.settings.store)
            logging.getLogger(STARTUP_LOGGER).info("mockserver: %s", self.durable.summary())
        elif self.settings.state_dir:
            self.durable = DurableState(self.ctx, self.settings.state_dir)
            logging.getLogger(STARTUP_LOGGER).info("mockserver: %s", self.durable.summary())
        elif self.settings.seed_data:
            load_seed_data(self.ctx, self.settings.seed_data)
        self.asgi = wrap_outer(  # mockserver.stack
            self._dispatch, self, state_dir=bool(self.settings.state_dir), store=bool(self.settings.store)
        )

    def _build_connexion(self) -> OnceDecoratedApp:
        app = OnceDecoratedApp(
            __name__,
            specification_dir=str(SPECS_DIR),
            lifespan=self._lifespan,
            jsonifier=OrjsonJsonifier(),
            middlewares=connexion_middlewares(),  # mockserver.stack: the whole list, in order
        )
        validators = validator_map()
        with trusting_bundled_specs():
            self._add_apis(app, validators)
        handler = make_error_handler(self.ctx)
        # Starlette picks the most specific registered class, so each family Connexion knows is listed.
        for exc_class in (Exception, HTTPException, ProblemException, MultiPartException, ApiError):
            app.add_error_handler(exc_class, handler)
        return app

    def _add_apis(self, app: OnceDecoratedApp, validators: dict) -> None:
        for name, handler in self.ctx.apis.items():
            info = self.ctx.info(name)
            app.add_api(
                copy.deepcopy(info.spec),  # parsed once; Connexion would re-parse the file
                name=name,
                base_path=info.base_path(self.settings.prefixed),
                resolver=Resolver(function_resolver=_handler_for(handler)),
                strict_validation=False,
                uri_parser_class=TablesOnceURIParser,
                security_map=SECURITY_MAP,
                validate_responses=self.settings.validate_responses,
                validator_map=validators,
            )

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app):
        """At start-up (Connexion has built its stack by now), in the server process: what the mock is
        built from (five specs, Connexion's tables, the fixtures) is moved out of the garbage collector's
        reach; it walked all of it on every full collection, an eighth of a 1,000-record listing's time.
        ``--state-dir``: every write is already committed; shutting down only closes the database."""
        if self.settings.freeze_heap:
            gc.collect()
            gc.freeze()
        yield
        if self.durable is not None:
            closed = self.durable.close()
            if closed is not None:  # the PostgreSQL store closes its connections on the loop
                await closed

    async def _dispatch(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == "/" or path.startswith("/__mock__/")):
            return await self.routes(scope, receive, send)
        await self.connexion(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.asgi(scope, receive, send)
        scope[SHARED] = state = {}
        try:
            await self.asgi(scope, receive, send)
        finally:
            close_files(state)  # the uploads' temporary files, read by the handler and the journal


def create_app(settings: Settings | None = None, **options) -> MockServer:
    """``create_app(apis=("evotor",), prefixed=False, jwt_secret=...)``: keyword options fill Settings."""
    if settings is None:
        settings = Settings(**options)
    return MockServer(settings)
