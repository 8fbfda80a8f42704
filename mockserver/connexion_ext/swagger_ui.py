"""Connexion's Swagger UI layer, entered only by the paths it can serve."""

from __future__ import annotations

from connexion.middleware.swagger_ui import SwaggerUIMiddleware

from mockserver.asgi import Receive, Scope, Send

_SPEC_SUFFIXES = ("/openapi.json", "/openapi.yaml")


class SwaggerUIOnItsPaths(SwaggerUIMiddleware):
    """Connexion's Swagger UI middleware, whose router only sees the paths it can serve (``.../ui...``,
    ``.../openapi.json|yaml``): every API request went through it to match nothing, mount by mount."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and "/ui" not in path and not path.endswith(_SPEC_SUFFIXES):
            return await self.app(scope, receive, send)
        await super().__call__(scope, receive, send)
