"""The mock on a free port of 127.0.0.1, served by uvicorn in a background thread, with a small handle
to reach it: base URLs, ready-made clients carrying the dev credentials, the ``/__mock__/`` controls, and
the request journal with its assertions.

This is what the ``contract_mock`` pytest fixture yields; it works without pytest too::

    with BackgroundMock(api="tagged-images") as mock:
        mock.client().get("/images")
        mock.assert_received("listImages", count=1)

``BackgroundMock(in_process=True)`` opens no port: its clients reach the ASGI app through
``httpx.ASGITransport`` (on an event loop of its own thread), with the same state, controls and journal.
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
import threading
import time
import typing
import warnings
from urllib.parse import urlsplit

import httpx

from image_api_contracts import APIS, auth_headers

if typing.TYPE_CHECKING:  # mockserver.layers.journal imports Connexion: only a started mock needs it
    from mockserver.layers.journal import RequestEntry

IN_PROCESS_URL = "http://contract-mock.test"  # the origin of the in-process mock's URLs (.test: reserved)

START_TIMEOUT_SECONDS = 20
CONTROL_TIMEOUT_SECONDS = 30


class BackgroundMock:
    """Every API under ``/<name>/`` (``api=None``), or one API at its real paths."""

    def __init__(self, api: str | None = None, *, in_process: bool = False, **settings):
        if api is not None and api not in APIS:
            raise ValueError(f"unknown API {api!r}; choose one of {', '.join(APIS)}")
        self.api = api
        self.in_process = in_process
        self._settings = settings
        self._server = None
        self._thread: threading.Thread | None = None
        self._transport: InProcessTransport | None = None
        self._controls: httpx.Client | None = None  # the client of the /__mock__/ controls
        self._clients: list[httpx.Client] = []
        self.exchanges: list[tuple[str, httpx.Response]] = []  # (api, response) of every client() call
        self.url = ""
        self.port = 0
        self.app = None  # the MockServer, once started

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> BackgroundMock:
        # Imported here: Connexion and uvicorn take a second to import, and only a started mock needs them.
        # A host project's ``filterwarnings = error`` must not turn our libraries' own warnings at import
        # and start-up (Starlette's, Connexion's deprecations) into errors: they are not the host's to fix.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import uvicorn

            from mockserver.app import create_app

            if self.api is not None:
                self._settings.setdefault("apis", (self.api,))
                self._settings.setdefault("prefixed", False)
            if self.in_process:  # its URLs name a host of its own (the Host check answers it)
                hosts = self._settings.get("allow_hosts", ())
                self._settings["allow_hosts"] = (*hosts, urlsplit(IN_PROCESS_URL).hostname)
            app = self.app = self._build_app(create_app)
            if self.in_process:
                self._transport = InProcessTransport(app)
                self.url = IN_PROCESS_URL
                return self
            # Port 0: the kernel picks a free port as uvicorn binds, so two sessions never race for one.
            from mockserver.serving import http_protocol

            config = uvicorn.Config(
                app,
                host="127.0.0.1",
                port=0,
                log_level="warning",
                access_log=False,
                ws="none",
                http=http_protocol(
                    apis=tuple(self._settings.get("apis", APIS)),
                    prefixed=self._settings.get("prefixed", True),
                ),
            )
            self._server = uvicorn.Server(config)
            self._thread = threading.Thread(target=self._server.run, name="background-mock", daemon=True)
            self._thread.start()
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while not self._server.started:
                if time.monotonic() > deadline or not self._thread.is_alive():
                    self.stop()
                    raise RuntimeError("the mock did not start on 127.0.0.1")
                time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        return self

    def _build_app(self, create_app):
        """The ASGI app to serve; a subclass may wrap or alter it (the test suite's broken variants)."""
        return create_app(**self._settings)

    def stop(self) -> None:
        self.close_clients()
        if self._controls is not None:
            self._controls.close()
            self._controls = None
        if self._transport is not None:
            self._transport.shutdown()
        if self._server is not None:
            from mockserver.dashboard.feed import close_feeds  # an open dashboard would hold up the stop

            close_feeds(getattr(getattr(self.app, "ctx", None), "journal", None))
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundMock:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- where the APIs are --------------------------------------------------------------------------
    def base_url(self, api: str | None = None) -> str:
        """The API's base URL, its server path included (tagged-images ends in ``/v1``)."""
        api = self._served(api)
        prefix = "" if self.api is not None else f"/{api}"
        return self.url + prefix + APIS[api].server_path

    def client(self, api: str | None = None, **kwargs) -> httpx.Client:
        """An httpx client on ``base_url(api)`` with the API's dev credential; its responses are kept in
        ``exchanges`` (to be checked against the contract) and it is closed by ``close_clients``."""
        api = self._served(api)
        headers = {**auth_headers(api), **kwargs.pop("headers", {})}
        hooks = dict(kwargs.pop("event_hooks", {}))
        hooks["response"] = [*hooks.get("response", []), lambda reply: self.exchanges.append((api, reply))]
        if self._transport is not None:
            kwargs.setdefault("transport", self._transport)
        client = httpx.Client(base_url=self.base_url(api), headers=headers, event_hooks=hooks, **kwargs)
        self._clients.append(client)
        return client

    def close_clients(self) -> None:
        """Close the clients ``client()`` made, and forget their exchanges."""
        while self._clients:
            self._clients.pop().close()
        self.exchanges.clear()

    def _served(self, api: str | None) -> str:
        if api is None:
            if self.api is None:
                raise ValueError(f"this mock serves every API: name one ({', '.join(APIS)})")
            return self.api
        if api not in APIS or self.api not in (None, api):
            raise ValueError(f"this mock does not serve {api!r} (it serves {self.api or ', '.join(APIS)})")
        return api

    # -- the /__mock__/ controls ---------------------------------------------------------------------
    def reset(self) -> None:
        """Empty every API and clear latency and forced errors."""
        self._control("POST", "reset")

    def load_fixtures(self, directory: str | None = None) -> dict[str, int]:
        """Load the packaged seed data (or ``<directory>/seed/*.json``); returns the count per API."""
        body = {"dir": str(directory)} if directory is not None else None
        return self._control("POST", "fixtures", json=body).json()["loaded"]

    def state(self) -> dict:
        """The ``/__mock__/state`` dump: every API's records, stored bytes and files."""
        return self._control("GET", "state").json()

    def behaviour(self) -> dict:
        return self._control("GET", "behaviour").json()

    def set_behaviour(self, latency_ms: int = 0, status: int | None = None, path_prefix: str = "/") -> dict:
        body = {"latency_ms": latency_ms, "status": status, "path_prefix": path_prefix}
        return self._control("POST", "behaviour", json=body).json()

    def set_latency(self, ms: int) -> dict:
        """Delay every API response by ``ms`` milliseconds (keeps any forced status)."""
        return self.set_behaviour(**{**self.behaviour(), "latency_ms": ms})

    def force_status(self, status: int | None, path: str | None = None) -> dict:
        """Answer ``status`` (in the API's error format) to requests under ``path`` (default: everything).

        Operations that do not document ``status`` answer 400 naming the codes they do; ``None`` clears.
        """
        current = self.behaviour()
        prefix = path if path is not None else "/"
        return self.set_behaviour(latency_ms=current["latency_ms"], status=status, path_prefix=prefix)

    # -- the request journal -------------------------------------------------------------------------
    def requests(self, api: str | None = None, operation: str | None = None, **filters) -> list[RequestEntry]:
        """What the mock received, oldest first (``GET /__mock__/requests``): ``api``, ``operation``
        (an operationId) and the journal's other filters, ``method``, ``path`` (``*`` wildcards),
        ``status`` (``201`` or ``"4xx"``), ``since`` (an entry id or ISO time), ``verdict``."""
        params = {key: str(value) for key, value in {"api": api, "operation": operation, **filters}.items()}
        params = {key: value for key, value in params.items() if value != "None"}
        from mockserver.layers.journal import RequestEntry

        raw = self._control("GET", "requests", params=params).json()["requests"]
        return [RequestEntry.from_json(entry) for entry in raw]

    def clear_requests(self) -> None:
        """Empty the journal (``reset()`` does too)."""
        self._control("DELETE", "requests")

    def assert_received(self, operation: str, count: int | None = None, where=None, **filters):
        """At least one request to ``operation`` (an operationId, or ``"POST /path/*"``), or exactly
        ``count``, among those for which ``where(entry)`` is true; else an AssertionError that lists what
        was received. Returns the matching entries."""
        __tracebackhide__ = True
        method, _, path = operation.partition(" ")
        if path:
            received = self.requests(method=method, path=path, **filters)
        else:
            received = self.requests(operation=operation, **filters)
        matching = [entry for entry in received if where is None or where(entry)]
        if (len(matching) >= 1) if count is None else (len(matching) == count):
            return matching
        wanted = "at least 1" if count is None else f"exactly {count}"
        condition = f" where {_source_of(where)}" if where is not None else ""
        lines = [f"expected {wanted} {operation} request(s){condition}; received {len(matching)}"]
        if received:
            lines.append(f"{operation} requests received ({len(received)}):")
            for entry in received:
                mark = "" if where is None else ("  [where: true]" if where(entry) else "  [where: false]")
                lines.append(f"  {entry.describe()}{mark}")
        else:
            everything = self.requests()
            lines.append(
                f"no {operation} request at all{self._unknown(operation) if not path else ''}; "
                f"all requests received ({len(everything)}):"
            )
            lines.extend(f"  {entry.describe()}" for entry in everything)
        raise AssertionError("\n".join(lines))

    def _unknown(self, operation: str) -> str:
        """`` (not an operationId of …; did you mean …?)`` for a name no served spec has."""
        from mockserver.operations import operation_index

        served = [self.api] if self.api else list(APIS)
        known = {op for api in served for op in operation_index(api)}
        if operation in known:
            return ""
        close = difflib.get_close_matches(operation, sorted(known), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        return f" ({operation} is not an operationId of {', '.join(served)}{hint})"

    def assert_all_requests_honoured_the_contract(self, **filters) -> None:
        """Every journaled request honoured its API's spec, as the mock's own validation judged it;
        else an AssertionError naming each offending request, the rule it breaks and why."""
        __tracebackhide__ = True
        received = self.requests(**filters)
        broken = [entry for entry in received if entry.verdict == "broken"]
        if broken:
            lines = [f"{len(broken)} of {len(received)} requests did not honour the contract:"]
            lines.extend(f"  {entry.describe()}" for entry in broken)
            raise AssertionError("\n".join(lines))

    def _control(self, method: str, name: str, **kwargs) -> httpx.Response:
        if not self.url:
            raise RuntimeError("the mock is not started")
        if self._controls is None:
            from mockserver.layers.guard import (
                CONTROL_TOKEN_HEADER,  # imported by start() already (Connexion's warnings)
            )

            token = self._settings.get("control_token")
            headers = {CONTROL_TOKEN_HEADER: token} if token else {}
            self._controls = httpx.Client(
                timeout=CONTROL_TIMEOUT_SECONDS, transport=self._transport, headers=headers
            )
        response = self._controls.request(method, f"{self.url}/__mock__/{name}", **kwargs)
        if response.is_error:
            raise ValueError(f"{method} /__mock__/{name}: {response.status_code} {response.text}")
        return response


def _source_of(where) -> str:
    """``lambda e: e.status == 201`` as written, or the function's name."""
    name = getattr(where, "__name__", repr(where))
    if name != "<lambda>":
        return name
    try:
        source = inspect.getsource(where).strip()
    except (OSError, TypeError):
        return name
    start = source.find("lambda")
    return source[start:].rstrip(",)") if start >= 0 else source


class InProcessTransport(httpx.BaseTransport):
    """A synchronous httpx transport onto the ASGI app: ``httpx.ASGITransport`` run on an event loop in
    a thread of its own, so the app's state lives on one loop whichever thread the test calls from."""

    def __init__(self, app):
        self._asgi = httpx.ASGITransport(app=app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="in-process-mock", daemon=True)
        self._thread.start()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a byte stream both sync and async clients can send

        async def exchange() -> httpx.Response:
            response = await self._asgi.handle_async_request(request)
            body = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers.raw, content=body)

        return asyncio.run_coroutine_threadsafe(exchange(), self._loop).result()

    def close(self) -> None:
        """Each httpx client closes its transport; this one is shared and lives as long as the mock."""

    def shutdown(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
