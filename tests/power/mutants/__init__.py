"""Deliberately broken variants of the mock: each is one realistic defect the conformance suite must
catch, on the rule named here. ``apply`` breaks a freshly built MockServer (``server.ctx.apis[name]`` is
the API's handler object; replacing one of its methods takes effect at once)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    id: str
    api: str
    rule: str  # the rule whose check must fail
    description: str
    apply: Callable  # (MockServer) -> None

    def __str__(self) -> str:
        return self.id


async def read_body(receive) -> bytes:
    """A request's whole body, from its ASGI ``receive``."""
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def replaying(body: bytes, receive):
    """A ``receive`` that hands the app ``body`` (already read), then whatever ``receive`` says next."""
    replayed = False

    async def replay():
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def serving_only_the_first_mib(api) -> None:
    """The API's stored files are served cut at 1 MiB (a fixed read buffer); smaller files come whole."""
    original = api.serve_file

    async def serve_file(key, request):
        response = await original(key, request)
        if len(response.body) > 2**20:
            response.body = response.body[: 2**20]
            response.headers["content-length"] = str(len(response.body))
        return response

    api.serve_file = serve_file


def on_arrival(server, method: str, path: str, seen: Callable) -> None:
    """Calls ``seen(body)`` as each matching request arrives, before the mock's write lock
    (``mockserver.layers.atomic``) orders the writes: what a racy server reads early, a later request changes.
    ``path`` is a regex matched against the request path; the body is passed on unchanged."""
    inner = server.asgi

    async def app(scope, receive, send):
        if scope["type"] != "http" or scope["method"] != method or not re.fullmatch(path, scope["path"]):
            return await inner(scope, receive, send)
        body = await read_body(receive)
        seen(body)
        await inner(scope, replaying(body, receive), send)

    server.asgi = app


def all_mutants() -> list[Mutant]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        found += importlib.import_module(f"{__name__}.{info.name}").MUTANTS
    return found
