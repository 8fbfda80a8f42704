"""Legal variants of the mock: each decides otherwise where a seed is silent, as another team's faithful
server might. The conformance suite must let every one of them pass in default mode (no FAIL), and with
--strict must fail exactly the rule whose SHOULD part reads that decision: proof that the variant really
differs and that a check reads the decision, at SHOULD and not at MUST.

The counterpart of ``tests/power/mutants/`` (broken variants), after mutation testing's *equivalent mutants*:
changes that alter no specified behaviour, which no MUST check may kill. ``apply`` changes a freshly built
MockServer exactly as a mutant's does."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    id: str
    api: str
    rule: str  # the rule whose SHOULD part (or SHOULD rule) reads the decision
    decides: str  # which x-decision it decides otherwise, and how
    description: str
    apply: Callable  # (MockServer) -> None

    def __str__(self) -> str:
        return self.id


def all_variants() -> list[Variant]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        found += importlib.import_module(f"{__name__}.{info.name}").VARIANTS
    return found


def answer(send, status: int, body: bytes, media: str | None = "application/json", headers=()):
    """Sends a whole answer from an ASGI wrapper (a variant's own reply, before the mock sees the request)."""
    raw = [(b"content-length", str(len(body)).encode()), *headers]
    if media is not None:
        raw.append((b"content-type", media.encode()))
    return _send_all(send, status, raw, body)


async def _send_all(send, status, raw, body):
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def before_the_mock(server, decide) -> None:
    """Wraps ``server.asgi``: ``await decide(scope, body)`` (the request's whole body, read) returns None to
    pass the request on unchanged (its body replayed), or ``(status, body, media)`` to answer it here, or a
    ``scope`` to pass on instead (e.g. with a rewritten query string)."""
    from power.mutants import read_body, replaying

    inner = server.asgi

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return await inner(scope, receive, send)
        body = await read_body(receive)
        decided = await decide(scope, body)
        if isinstance(decided, tuple):
            status, reply, media = decided
            return await answer(send, status, reply, media)
        await inner(decided or scope, replaying(body, receive), send)

    server.asgi = app
