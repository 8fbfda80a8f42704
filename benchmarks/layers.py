"""What each layer of the mock's ASGI stack costs an uncached read, measured in process.

``python benchmarks/layers.py [--requests 3000] [--path "/tagged-images/v1/images?limit=20"]``
``python benchmarks/layers.py --path /image-upload/GetAllImages`` (1,000 images uploaded first, ``--records``;
reads with the development Bearer token)

The mock is driven directly as an ASGI app (no sockets, no uvicorn), every request a reply-cache miss
(a distinct, ignored query parameter). Each layer's ``__call__`` is wrapped with a clock read at entry
and exit; the layers nest, so a layer's own time is its span minus the span of the next one inside it,
summed over the request (a layer's work on the answer, as it passes back out through ``send``, counts
to the layer that wraps ``send``). The clock reads add about a microsecond per layer, reported as such
("instrumentation": the whole request timed without the wrappers, minus the sum).

Only a measurement: the layers are what the mock needs (the journal, CORS, validation, atomic
writes, ...); it shows where the time of an uncached read goes and what is left to cut.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

from connexion.apps.asynchronous import AsyncOperation  # noqa: E402
from connexion.middleware.context import ContextOperation  # noqa: E402
from connexion.middleware.lifespan import LifespanMiddleware  # noqa: E402
from connexion.middleware.routing import RoutingMiddleware, RoutingOperation  # noqa: E402
from starlette.middleware.errors import ServerErrorMiddleware  # noqa: E402
from starlette.middleware.exceptions import ExceptionMiddleware  # noqa: E402

from image_api_contracts.devtokens import image_upload_token  # noqa: E402
from mockserver.apis.image_upload import ImageUploadApi  # noqa: E402
from mockserver.apis.tagged_images import TaggedImagesApi  # noqa: E402
from mockserver.app import MockServer, create_app  # noqa: E402
from mockserver.connexion_ext import once_decorated  # noqa: E402
from mockserver.connexion_ext.compiled_schemas import CompiledJSONResponseValidator  # noqa: E402
from mockserver.connexion_ext.cors import OriginlessFastCORS  # noqa: E402
from mockserver.connexion_ext.fastjson import OrjsonJsonifier  # noqa: E402
from mockserver.connexion_ext.lean_validation import (  # noqa: E402
    SpecOnceRequestValidationOperation,
    SpecOnceResponseValidationOperation,
)
from mockserver.connexion_ext.once_decorated import OnceDecorator  # noqa: E402
from mockserver.connexion_ext.security import DirectCheckSecurityOperation  # noqa: E402
from mockserver.connexion_ext.swagger_ui import SwaggerUIOnItsPaths  # noqa: E402
from mockserver.layers.atomic import AtomicWriteMiddleware  # noqa: E402
from mockserver.layers.gate import GateMiddleware  # noqa: E402
from mockserver.layers.journal import JournalMiddleware  # noqa: E402
from mockserver.layers.limits import BodyLimitMiddleware  # noqa: E402
from mockserver.layers.prefer import PreferMiddleware  # noqa: E402
from mockserver.layers.reply_cache import ReplyCacheMiddleware, StateVersionMiddleware  # noqa: E402
from mockserver.layers.verdict import Checkpoint, RoutedCheckpoint  # noqa: E402
from mockserver.state.context import ContextMiddleware  # noqa: E402

# (name, class, method): outermost first; the methods are async and nest.
LAYERS = [
    ("the mock's entry (request state)", MockServer, "__call__"),
    ("CORS (Starlette's, without Origin its raw headers)", OriginlessFastCORS, "__call__"),
    ("request journal", JournalMiddleware, "__call__"),
    ("mock context", ContextMiddleware, "__call__"),
    ("state version", StateVersionMiddleware, "__call__"),
    ("server errors (Starlette)", ServerErrorMiddleware, "__call__"),
    ("exceptions (Starlette, Connexion's handlers)", ExceptionMiddleware, "__call__"),
    ("Swagger UI (bypassed)", SwaggerUIOnItsPaths, "__call__"),
    ("routing (Connexion: a Starlette router of five mounts)", RoutingMiddleware, "__call__"),
    ("routing: the operation found", RoutingOperation, "__call__"),
    ("journal checkpoint: routed", RoutedCheckpoint, "__call__"),
    ("Prefer", PreferMiddleware, "__call__"),
    ("security (Connexion)", DirectCheckSecurityOperation, "__call__"),
    ("journal checkpoints: authenticated, validated", Checkpoint, "__call__"),
    ("body limit", BodyLimitMiddleware, "__call__"),
    ("gate (URL, charset)", GateMiddleware, "__call__"),
    ("atomic writes (a read: nothing to do)", AtomicWriteMiddleware, "__call__"),
    ("request validation (Connexion, compiled schemas)", SpecOnceRequestValidationOperation, "__call__"),
    ("reply cache (a miss: key, keeping the reply)", ReplyCacheMiddleware, "__call__"),
    ("response validation (Connexion, compiled schemas)", SpecOnceResponseValidationOperation, "__call__"),
    ("lifespan (Connexion)", LifespanMiddleware, "__call__"),
    ("Connexion's context", ContextOperation, "__call__"),
    ("Connexion's operation: the Starlette response, the send chain out", AsyncOperation, "__call__"),
    ("Connexion's decorators: request object, arguments, response decorator", OnceDecorator, "__call__"),
    ("  inside the above: the handler (page, records, envelope)", TaggedImagesApi, "list_images"),
    ("  inside the above: the handler (every image's fragment, envelope)", ImageUploadApi, "get_all_images"),
    ("  inside the above: the handler's arguments (Connexion's prep_kwargs)", once_decorated, "prep_kwargs"),
    ("  inside the above: JSON encoding (orjson)", OrjsonJsonifier, "dumps"),
    ("  inside the above: the response body's schema check", CompiledJSONResponseValidator, "_validate"),
]
_SYNC = {"prep_kwargs", "dumps", "_validate"}

_SPANS: list | None = None


def _timed(name: str, method):
    async def timed(*args, **kwargs):
        if _SPANS is None:
            return await method(*args, **kwargs)
        entry = [name, time.perf_counter(), 0.0]
        _SPANS.append(entry)
        try:
            return await method(*args, **kwargs)
        finally:
            entry[2] = time.perf_counter()

    return timed


def _timed_sync(name: str, function):
    def timed(*args, **kwargs):
        if _SPANS is None:
            return function(*args, **kwargs)
        entry = [name, time.perf_counter(), 0.0]
        _SPANS.append(entry)
        try:
            return function(*args, **kwargs)
        finally:
            entry[2] = time.perf_counter()

    return timed


def _instrument() -> None:
    for name, cls, attribute in LAYERS:
        if attribute in _SYNC:
            original = cls.__dict__.get(attribute) if isinstance(cls, type) else getattr(cls, attribute)
            setattr(cls, attribute, _timed_sync(name, original))
            continue
        if attribute == "__call__" and cls is OnceDecorator:
            original_call = cls.__call__

            def decorated(self, function, _name=name, _original=original_call):
                return _timed(_name, _original(self, function))

            cls.__call__ = decorated  # wraps the wrapper it returns (decorated once per operation)
            continue
        setattr(cls, attribute, _timed(name, cls.__dict__.get(attribute) or getattr(cls, attribute)))


def _own_times(spans: list) -> dict[str, float]:
    """Each span's time minus the time of the spans directly inside it."""
    spans = sorted(spans, key=lambda span: span[1])
    own: dict[str, float] = {}
    for i, (name, entry, exit_) in enumerate(spans):
        inner = 0.0
        cursor = entry
        for _other, o_entry, o_exit in spans[i + 1 :]:
            if o_entry >= exit_:
                break
            if o_entry >= cursor:  # a direct child (the next ones nest inside it)
                inner += o_exit - o_entry
                cursor = o_exit
        own[name] = own.get(name, 0.0) + (exit_ - entry) - inner
    return own


async def _request(app, method: str, path: str, query: bytes, body: bytes = b"", headers=()) -> int:
    all_headers = [(b"host", b"127.0.0.1:8000"), *headers]
    if body:
        all_headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": all_headers,
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 8000),
    }
    status = 0
    messages = iter([{"type": "http.request", "body": body, "more_body": False}])

    async def receive():
        return next(messages, {"type": "http.disconnect"})

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


ICON = ROOT / "fixtures" / "images" / "icon-64.png"


async def _fill(app, path: str, records: int) -> list:
    """Stores ``records`` records in the API the read goes to; the headers the read needs."""
    if path.startswith("/image-upload/"):
        auth = [(b"authorization", f"Bearer {image_upload_token()}".encode())]
        boundary = b"layersboundary"
        for i in range(records):
            body = (
                b"--"
                + boundary
                + b'\r\nContent-Disposition: form-data; name="file"; filename="icon-'
                + str(i).encode()
                + b'.png"\r\nContent-Type: image/png\r\n\r\n'
                + ICON.read_bytes()
                + b"\r\n--"
                + boundary
                + b"--\r\n"
            )
            status = await _request(
                app,
                "POST",
                "/image-upload/UploadImage",
                b"",
                body,
                [(b"content-type", b"multipart/form-data; boundary=" + boundary), *auth],
            )
            assert status == 200, status
        return auth
    for i in range(records):
        body = json.dumps({"filename": f"f{i}.png", "size": 10, "tags": ["a", f"t{i % 5}"]}).encode()
        status = await _request(
            app, "POST", "/tagged-images/v1/images", b"", body, [(b"content-type", b"application/json")]
        )
        assert status == 201, status
    return []


async def measure(path: str, query: str, requests: int, records: int) -> dict:
    global _SPANS
    _instrument()  # before the first request: Connexion decorates each handler on first use
    app = create_app()
    headers = await _fill(app, path, records)
    joiner = "&" if query else ""

    async def read(i: int, tag: str) -> None:
        unique = f"{query}{joiner}uncached={tag}{i}".encode()
        status = await _request(app, "GET", path, unique, headers=headers)
        if status != 200:
            raise RuntimeError(f"{path}?{query}: {status}")

    for i in range(300):
        await read(i, "warm")
    plain = []
    for i in range(requests):  # the wrappers in place, but reading no clock
        started = time.perf_counter()
        await read(i, "plain")
        plain.append(time.perf_counter() - started)
    totals: dict[str, list[float]] = {name: [] for name, _, _ in LAYERS}
    whole = []
    for i in range(requests):
        _SPANS = []
        started = time.perf_counter()
        await read(i, "timed")
        whole.append(time.perf_counter() - started)
        for name, seconds in _own_times(_SPANS).items():
            totals[name].append(seconds)
        _SPANS = None
    plain_us = statistics.median(plain) * 1e6
    layers = {name: statistics.median(values) * 1e6 for name, values in totals.items() if values}
    shown = f"{path}?{query}" if query else path
    timed_us = statistics.median(whole) * 1e6
    return {"path": shown, "plain_us": plain_us, "timed_us": timed_us, "layers_us": layers}


def table(result: dict) -> str:
    plain = result["plain_us"]
    lines = [
        f"Uncached `GET {result['path']}`, in process: {plain:.0f} µs per request (median); with the "
        f"clock reads {result['timed_us']:.0f} µs.",
        "",
        "| layer (outermost first; a layer's own time includes its work on the answer going out) "
        "| own µs per request (median) | share |",
        "|---|---|---|",
    ]
    for name, cost in result["layers_us"].items():
        lines.append(f"| {name} | {cost:.1f} | {cost / result['timed_us']:.0%} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default="/tagged-images/v1/images?limit=20")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--records", type=int, help="records stored first (200; 1,000 for image-upload)")
    args = parser.parse_args(argv)
    if args.records is None:
        args.records = 1000 if args.path.startswith("/image-upload/") else 200
    path, _, query = args.path.partition("?")
    result = asyncio.run(measure(path, query, args.requests, args.records))
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
