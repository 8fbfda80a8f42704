"""Connexion's AsyncApp, with each operation's handler decorated once instead of on every request.

Connexion 3.3 rebuilds an operation's decorators per request (``AsyncOperation.fn`` makes a new
``StarletteDecorator``, whose wrapper calls ``decorate()``: the handler's signature is inspected again and a
URI parser is built again). None of it depends on the request, so here it is built on first use and kept;
what does depend on the request (the request object, its parameters and body) is still read per call.
"""

from __future__ import annotations

import asyncio
import functools

from connexion import AsyncApp
from connexion.apps.asynchronous import AsyncApi, AsyncOperation
from connexion.context import _receive, _scope, operation
from connexion.decorators import StarletteDecorator
from connexion.decorators.parameter import AsyncParameterDecorator, prep_kwargs, unwrap_decorators
from connexion.utils import inspect_function_arguments
from starlette.concurrency import run_in_threadpool

from mockserver.connexion_ext.parameters import BodilessArguments, cached_sanitiser, reuse_parsed
from mockserver.connexion_ext.request_scope import connexion_request
from mockserver.connexion_ext.responses import OperationResponseDecorator


class _BodyOnlyWhereDocumentedParameters(AsyncParameterDecorator):
    """Connexion reads (and parses) the request body for every handler taking ``**kwargs``, a GET
    included; an operation that documents no request body gets none, so its handler never saw one.
    Argument names are sanitised once per name (``mockserver.connexion_ext.parameters``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sanitize_fn = cached_sanitiser(self.sanitize_fn)

    def __call__(self, function):
        """Connexion's wrapper, which also parsed a form for the files of every request, a GET included."""
        unwrapped = unwrap_decorators(function)
        arguments, has_kwargs = inspect_function_arguments(unwrapped)
        plan = None  # (has a body, the bodiless argument tables): known inside the operation's first request

        @functools.wraps(function)
        async def wrapper(request):
            nonlocal plan
            if plan is None:
                has_body = bool(getattr(operation, "request_body", True))
                plan = (
                    has_body,
                    None
                    if has_body
                    else BodilessArguments(operation, self.sanitize_fn, arguments, has_kwargs),
                )
            has_body, bodiless = plan
            if bodiless is not None and bodiless.usable:
                return await function(**bodiless(request))
            body, files = None, {}
            if has_body:
                body = self._maybe_get_body(request, arguments=arguments, has_kwargs=has_kwargs)
                while asyncio.iscoroutine(body):
                    body = await body
                files = await request.files()
            kwargs = prep_kwargs(
                request,
                request_body=body,
                files=files,
                arguments=arguments,
                has_kwargs=has_kwargs,
                sanitize=self.sanitize_fn,
            )
            return await function(**kwargs)

        return wrapper


class OnceDecorator(StarletteDecorator):
    @property
    def _parameter_decorator_cls(self):
        return _BodyOnlyWhereDocumentedParameters

    @property
    def _response_decorator_cls(self):
        return OperationResponseDecorator

    @property
    def _sync_async_decorator(self):
        """Connexion asks on every call whether the handler is a coroutine function; it is asked once."""

        def decorator(function):
            if asyncio.iscoroutinefunction(function):
                return function

            @functools.wraps(function)
            async def in_threadpool(*args, **kwargs):
                return await run_in_threadpool(function, *args, **kwargs)

            return in_threadpool

        return decorator

    def __call__(self, function):
        decorated = self.decorate(function)
        uri_parser = None

        @functools.wraps(function)
        async def wrapper(*args, **kwargs):
            nonlocal uri_parser
            if uri_parser is None:  # needs the operation, known only inside a request
                uri_parser = self.uri_parser
            # the scope itself, not Connexion's proxy of it: the request reads it a dozen times
            current_scope = _scope.get()
            # what the Starlette framework's ``get_request`` makes, without its constructor's detour
            request = connexion_request(current_scope, _receive.get(), uri_parser)
            reuse_parsed(current_scope, request)  # as the parameter validator parsed them
            return await decorated(request)

        return wrapper


class _OnceDecoratedOperation(AsyncOperation):
    @functools.cached_property
    def fn(self):
        return OnceDecorator(pythonic_params=self.pythonic_params, jsonifier=self.jsonifier)(self._fn)


class _OnceDecoratedApi(AsyncApi):
    def make_operation(self, spec_operation) -> AsyncOperation:
        return _OnceDecoratedOperation.from_operation(
            spec_operation, pythonic_params=self.pythonic_params, jsonifier=self.jsonifier
        )


class OnceDecoratedApp(AsyncApp):
    """An ``AsyncApp`` whose APIs (added after construction) decorate each handler once."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._middleware_app.api_cls = _OnceDecoratedApi


__all__ = ["OnceDecoratedApp"]
