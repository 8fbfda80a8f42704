"""Connexion's routing, with each route match kept per request line instead of found again per request.

Connexion routes through a Starlette router of one mount per API, each holding a router of that API's
operations; every request is matched against the mounts' and then the routes' regular expressions, in
order, and its path parameters converted. What a match finds depends only on the request's method, path,
root path and the path parameters the scope already carries, and the routes never change once the app is
built. So here each router remembers, for those inputs, the route its first full match found and the
scope entries that match set (its ``child_scope``); a request that comes again is handed to the same
route with the same entries, exactly as Starlette's loop would have done. A partial match (a method the
path does not document: 405) and no match (404, redirects) take Starlette's own path every time.

The memo is bounded: it forgets everything after ``MAX_REMEMBERED`` request lines (paths carry ids) and
keeps no path longer than ``MAX_PATH_CHARS``.
"""

from __future__ import annotations

from connexion.middleware.routing import RoutingAPI, RoutingMiddleware
from starlette.routing import Match, Mount, Router

from mockserver.asgi import Receive, Scope, Send

MAX_REMEMBERED = 4096
MAX_PATH_CHARS = 512


def _request_line(scope: Scope) -> tuple | None:
    """What a route match reads of the scope, as a key; None when it cannot be one."""
    path = scope["path"]
    if len(path) > MAX_PATH_CHARS:
        return None
    root_path = scope.get("root_path", "")
    carried = scope.get("path_params")
    try:
        params = frozenset(carried.items()) if carried else None
    except TypeError:  # an unhashable value: not remembered
        return None
    return scope["method"], path, root_path, scope.get("app_root_path", root_path), params


class RememberingRouter(Router):
    """A Starlette router that remembers its full matches per request line (see the module doc)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._full: dict[tuple, tuple] = {}  # request line -> (route, child_scope of its full match)

    @classmethod
    def replacing(cls, router: Router) -> RememberingRouter:
        """This router with ``router``'s routes and settings (Connexion builds plain ones)."""
        return cls(routes=router.routes, redirect_slashes=router.redirect_slashes, default=router.default)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await super().app(scope, receive, send)
        key = _request_line(scope)
        found = self._full.get(key) if key is not None else None
        if found is None:
            found = self._first_full_match(scope)
            if found is None:  # Starlette's loop: partial matches, 404s, redirects
                return await super().app(scope, receive, send)
            if key is not None:
                if len(self._full) >= MAX_REMEMBERED:
                    self._full.clear()
                self._full[key] = found
        route, child_scope = found
        if "router" not in scope:
            scope["router"] = self
        scope["route"] = route
        scope.update(child_scope)
        scope["path_params"] = dict(child_scope["path_params"])  # each request's own, as Starlette's
        await route.handle(scope, receive, send)

    def _first_full_match(self, scope: Scope) -> tuple | None:
        """Starlette's choice: the first route in order that matches fully."""
        for route in self.routes:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                return route, child_scope
        return None


class _RememberingRoutingAPI(RoutingAPI):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)  # adds the API's operations to a plain router
        self.router = RememberingRouter.replacing(self.router)


class RememberingRoutingMiddleware(RoutingMiddleware):
    """Connexion's routing middleware with remembering routers at both levels (the mounts of the APIs,
    and each API's operations)."""

    def __init__(self, app):
        super().__init__(app)
        self.router = RememberingRouter.replacing(self.router)

    def add_api(self, specification, base_path=None, arguments=None, **kwargs) -> None:
        """Connexion's, with the API's router a remembering one (Connexion builds ``RoutingAPI`` itself)."""
        api = _RememberingRoutingAPI(
            specification, base_path=base_path, arguments=arguments, next_app=self.app, **kwargs
        )
        # an API already mounted at this base path: the new one is its default
        for route in self.router.routes:
            if isinstance(route, Mount) and route.path == api.base_path:
                route.app.default = api.router
        self.router.mount(api.base_path, app=api.router)
