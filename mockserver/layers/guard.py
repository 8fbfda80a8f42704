"""Who may use the mock: the Host a request names, the Origin of the page that sent it, and the controls.

A mock on a developer's loopback is reachable by every web page that developer opens, so it answers as
Vite and Jupyter do after their advisories (Vite CVE-2025-24010, webpack-dev-server CVE-2025-30360,
Jupyter's ``allow_origin``/``local_hostnames``):

- **Hosts.** ``localhost``, ``*.localhost``, IP literals, ``--public-url``'s host and each ``--allow-host``
  (exact, or ``.example.com`` for it and its subdomains; ``*`` for any): anything else is a DNS-rebinding
  page and gets 421 with a one-line reason. ``X-Forwarded-Host`` is believed only with ``--trust-proxy``.
- **Origins.** A request carrying an ``Origin`` is served only when that origin is the mock's own, a
  loopback origin (``http(s)://localhost``, ``*.localhost``, ``127.0.0.1``, ``[::1]``, any port),
  ``--public-url``'s, or one named by ``--allow-origin`` (exact match; ``*`` for anyone). Any other
  origin gets 403 whatever the method or content type, preflights included, so a hostile page can
  neither read nor change anything (a no-cors ``<img>`` still loads, and its pixels stay unreadable).
  CORS headers, credentials and Private Network Access are then given only to allowed origins
  (``mockserver.layers.cors``).
- **Controls.** ``/__mock__/*`` (the file URLs the APIs hand out aside) also needs ``X-Mock-Token`` when a
  control token is set (``--control-token``, or generated at start-up when the mock listens beyond
  loopback).

``Sec-Fetch-*`` headers are not relied on: browsers send them only to secure contexts.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from urllib.parse import urlsplit

from mockserver.asgi import Receive, Scope, Send
from mockserver.request_state import EXCHANGE

CONTROL_TOKEN_HEADER = "X-Mock-Token"
ANYONE = "*"
_LOOPBACK_ORIGIN = re.compile(
    r"https?://(?:localhost|[a-z0-9.-]+\.localhost|127\.0\.0\.1|\[::1\])(?::\d{1,5})?"
)
LOOPBACK_ORIGIN_REGEX = _LOOPBACK_ORIGIN.pattern  # for Starlette's CORSMiddleware (it full-matches too)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def host_name(host: str) -> str:
    """``example.test:8000`` -> ``example.test``; ``[::1]:8000`` -> ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def is_loopback_bind(host: str) -> bool:
    """Whether ``--host`` keeps the mock on this machine."""
    if host_name(host) == "localhost":
        return True
    try:
        return ipaddress.ip_address(host_name(host)).is_loopback
    except ValueError:
        return False


class Policy:
    """The settings' allow-lists, compiled once."""

    def __init__(self, settings):
        public = settings.public_url
        self.public_origin = origin_of(public) if public else None
        self.public_host = host_name(urlsplit(public).netloc) if public else None
        self.origins = frozenset(o.rstrip("/").lower() for o in settings.allow_origins)
        self.hosts = tuple(h.lower() for h in settings.allow_hosts)
        self.trust_proxy = settings.trust_proxy
        self.token = settings.control_token
        self._host_verdicts: dict[str, bool] = {}

    def host_allowed(self, name: str) -> bool:
        """The verdict depends on the name and the settings only: kept per name (a client sends the same
        Host on every request, and parsing it as an IP address was most of this layer's time)."""
        verdict = self._host_verdicts.get(name)
        if verdict is None:
            verdict = self._judge_host(name)
            if len(self._host_verdicts) < 256:  # names are the client's to choose: only the first few kept
                self._host_verdicts[name] = verdict
        return verdict

    def _judge_host(self, name: str) -> bool:
        if name == "localhost" or name.endswith(".localhost") or name == self.public_host:
            return True
        return is_ip_literal(name) or any(_host_matches(name, allowed) for allowed in self.hosts)

    def origin_allowed(self, origin: str) -> bool:
        """Not the request's own origin: that one is always allowed (see ``refusal``)."""
        return (
            ANYONE in self.origins
            or origin in self.origins
            or origin == self.public_origin
            or _LOOPBACK_ORIGIN.fullmatch(origin) is not None
        )

    def refusal(self, scope) -> tuple[int, str] | None:
        """None when the request may go on, else its status and a one-line reason."""
        headers = scope.get("headers", ())
        host = origin = forwarded = token = None
        for name, value in headers:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1").lower()
            elif name == b"x-forwarded-host" and self.trust_proxy:
                forwarded = value.decode("latin-1").split(",")[0].strip()
            elif name == b"x-mock-token":
                token = value.decode("latin-1")
        seen_host = forwarded or host
        if seen_host is not None and not self.host_allowed(host_name(seen_host)):
            shown = host_name(seen_host)
            return 421, (
                f"Host {shown!r} is not served by this mock (DNS rebinding guard); "
                f"start it with --allow-host {shown} to serve it"
            )
        if origin is not None and not self.origin_allowed(origin):
            own = f"{scope.get('scheme', 'http')}://{seen_host}".lower() if seen_host else None
            if origin != own:
                return 403, (
                    f"Origin {origin!r} is not allowed to use this mock; "
                    f"start it with --allow-origin {origin} to allow it"
                )
        if self.token and _is_control(scope.get("path", "")) and not _same(token, self.token):
            return 401, f"the mock's controls need the control token in the {CONTROL_TOKEN_HEADER} header"
        return None


def _host_matches(name: str, allowed: str) -> bool:
    """``*``, the name itself, or ``.example.com`` for it and its subdomains (as Vite's allowedHosts)."""
    return allowed in (ANYONE, name) or (allowed.startswith(".") and f".{name}".endswith(allowed))


def _same(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


DASHBOARD_ASSETS = ("/__mock__/ui", "/__mock__/ui/")  # and /__mock__/ui/static/*: no data, no control


def _is_control(path: str) -> bool:
    """The dashboard's page and assets hold no data, so they load without the token (the page takes it
    from its URL's ``#token=`` and sends it with every call it makes)."""
    if path in DASHBOARD_ASSETS or path.startswith("/__mock__/ui/static/"):
        return False
    return path.startswith("/__mock__/") and not path.startswith("/__mock__/files/")


class GuardMiddleware:
    """The first layer (mockserver.stack): a refused request is answered here, before CORS, the journal or
    any API sees it."""

    def __init__(self, app, ctx):
        self.app = app
        self.ctx = ctx
        self.policy = Policy(ctx.settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refused = self.policy.refusal(scope)
        if refused is None:
            return await self.app(scope, receive, send)
        from mockserver.errors import (  # Connexion's import is the command line's to time
            ApiError,
            error_messages,
        )

        status, reason = refused
        exchange = scope.get(EXCHANGE)  # the access log's reason (mockserver.logs)
        if exchange is not None:
            exchange.refusal = ApiError(status, reason)
        api = self.ctx.api_for_path(scope.get("path", "")) or "__mock__"
        for message in error_messages(api, status, reason):
            await send(message)


# -- the command line ------------------------------------------------------------------------------------


def add_arguments(parser) -> None:
    group = parser.add_argument_group("who may use the mock (docs/security.md)")
    group.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="also serve pages from ORIGIN, e.g. https://app.example.com (exact; repeatable; '*': any "
        "origin, with a warning). Loopback origins and --public-url's are always allowed",
    )
    group.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="also answer requests for HOST (exact, or .example.com with its subdomains; repeatable). "
        "localhost, *.localhost, IP literals and --public-url's host are always answered; others get 421",
    )
    group.add_argument(
        "--trust-proxy",
        action="store_true",
        help="believe X-Forwarded-Host (a reverse proxy in front of the mock sets it)",
    )
    group.add_argument(
        "--control-token",
        metavar="TOKEN",
        help=f"/__mock__/ controls need '{CONTROL_TOKEN_HEADER}: TOKEN' (generated and printed when --host "
        "is not loopback)",
    )


def settings_values(args) -> dict:
    for origin in args.allow_origin:
        parts = urlsplit(origin)
        if origin != ANYONE and (
            parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/") or parts.query
        ):
            raise SystemExit(
                f"mockserver: --allow-origin takes an origin like https://app.test, not {origin!r}"
            )
    token = args.control_token
    if token is None and not is_loopback_bind(args.host):
        import secrets

        token = secrets.token_urlsafe(24)
    return {
        "allow_origins": tuple(o.rstrip("/") for o in args.allow_origin),
        "allow_hosts": tuple(args.allow_host),
        "trust_proxy": args.trust_proxy,
        "control_token": token or None,
    }


def startup_notes(args, settings) -> list[str]:
    """What the developer must know at start-up: who else may use the mock."""
    notes = []
    if ANYONE in settings.allow_origins:
        notes.append("WARNING: --allow-origin '*': every web page you open can read and change this mock")
    if ANYONE in settings.allow_hosts:
        notes.append("WARNING: --allow-host '*': DNS-rebinding pages can reach this mock")
    if settings.control_token and args.control_token is None:
        notes.append(
            f"listening beyond loopback ({args.host}): the /__mock__/ controls need "
            f"'{CONTROL_TOKEN_HEADER}: {settings.control_token}'"
        )
    return notes
