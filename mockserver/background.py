"""The mock on a free port of 127.0.0.1, served by uvicorn in a background thread, with a small handle
to reach it: base URLs, ready-made clients carrying the dev credentials, and the ``/__mock__/`` controls.

This is what the ``contract_mock`` pytest fixture yields; it works without pytest too::

    with BackgroundMock(api="tagged-images") as mock:
        mock.client().get("/images")
"""

from __future__ import annotations

import threading
import time
import warnings

import httpx

from .devtokens import auth_headers
from .registry import APIS

START_TIMEOUT_SECONDS = 20
CONTROL_TIMEOUT_SECONDS = 30


class BackgroundMock:
    """All five APIs under ``/<name>/`` (``api=None``), or one API at its real paths."""

    def __init__(self, api: str | None = None, **settings):
        if api is not None and api not in APIS:
            raise ValueError(f"unknown API {api!r}; choose one of {', '.join(APIS)}")
        self.api = api
        self._settings = settings
        self._server = None
        self._thread: threading.Thread | None = None
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

            from .app import create_app

            if self.api is not None:
                self._settings.setdefault("apis", (self.api,))
                self._settings.setdefault("prefixed", False)
            app = self.app = self._build_app(create_app)
            # Port 0: the kernel picks a free port as uvicorn binds, so two sessions never race for one.
            config = uvicorn.Config(
                app, host="127.0.0.1", port=0, log_level="warning", access_log=False, ws="none"
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
        if self._server is not None:
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
                raise ValueError(f"this mock serves all five APIs: name one ({', '.join(APIS)})")
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

    def _control(self, method: str, name: str, **kwargs) -> httpx.Response:
        if not self.url:
            raise RuntimeError("the mock is not started")
        response = httpx.request(
            method, f"{self.url}/__mock__/{name}", timeout=CONTROL_TIMEOUT_SECONDS, **kwargs
        )
        if response.is_error:
            raise ValueError(f"{method} /__mock__/{name}: {response.status_code} {response.text}")
        return response
