"""A request without ``Origin`` gets from the mock's CORS layer exactly what Starlette's would give it:
``Vary: Origin`` joined to the answer's own ``Vary`` headers, in the first one's place, and nothing else;
a request with ``Origin`` still gets Starlette's CORS headers."""

from __future__ import annotations

import asyncio

import pytest
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware

from mockserver.connexion_ext.cors import OriginlessFastCORS, vary_on_origin

ANSWERS = [
    [],
    [(b"content-type", b"application/json")],
    [(b"vary", b"Accept")],
    [(b"vary", b"Accept"), (b"content-length", b"2"), (b"vary", b"Cookie, Accept-Encoding")],
    [(b"content-length", b"2"), (b"vary", b"")],
]


@pytest.mark.parametrize("headers", ANSWERS)
def test_vary_is_set_as_starlettes_mutable_headers_set_it(headers):
    starlette = {"type": "http.response.start", "headers": list(headers)}
    MutableHeaders(scope=starlette)["Vary"] = ", ".join(
        [*MutableHeaders(scope=starlette).getlist("Vary"), "Origin"]
    )
    ours = {"type": "http.response.start", "headers": tuple(headers)}
    vary_on_origin(ours)
    assert ours["headers"] == starlette["headers"]


def _answer_through(layer_class, request_headers, answer_headers):
    sent = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": list(answer_headers)})
        await send({"type": "http.response.body", "body": b"{}"})

    async def send(message):
        sent.append(message)

    layer = layer_class(
        app,
        allow_origin_regex=r"https?://localhost(:\d+)?",
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["Location"],
    )
    scope = {"type": "http", "method": "GET", "path": "/", "headers": list(request_headers)}
    asyncio.run(layer(scope, None, send))
    return sent


@pytest.mark.parametrize(
    "request_headers",
    [
        [(b"host", b"localhost")],
        [(b"host", b"localhost"), (b"origin", b"http://localhost:3000")],
        [(b"host", b"localhost"), (b"origin", b"http://elsewhere.test")],
    ],
)
@pytest.mark.parametrize("answer_headers", ANSWERS)
def test_the_answer_is_starlettes_with_or_without_origin(request_headers, answer_headers):
    assert _answer_through(OriginlessFastCORS, request_headers, answer_headers) == _answer_through(
        CORSMiddleware, request_headers, answer_headers
    )
