"""The mock's log lines: one format for its own, Connexion's and uvicorn's, and an access line that says why.

uvicorn's access line knows the status but not the reason, which the mock learns only inside its stack; so
uvicorn's own access log stays off and :class:`AccessLogMiddleware`, the outermost layer, writes one line per
request after the answer is sent, with the refusal's reason on every 4xx and 5xx (the same words the request
journal keeps). ``--log-format json`` writes each line as one JSON object, for log collectors; the access
line's fields (client, method, path, status, reason, duration) are then separate keys.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from image_api_contracts import APIS
from mockserver.asgi import Receive, Scope, Send
from mockserver.layers.journal import REDACTED, Exchange, is_credential
from mockserver.layers.verdict import contract_verdict, refusal_message
from mockserver.request_state import EXCHANGE

ACCESS_LOGGER = "mockserver.access"
STARTUP_LOGGER = "mockserver.startup"  # what the mock serves, and from what state: at every --log-level
REASON_CHARS = 200  # a log line, not a report: the journal keeps the whole message
_ACCESS_FIELDS = ("client", "method", "path", "query", "status", "reason", "duration_ms")


class TextFormatter(logging.Formatter):
    """``20:15:03.123 INFO    message``: the same columns for every logger, the mock's and uvicorn's."""

    def __init__(self):
        super().__init__("%(asctime)s.%(msecs)03d %(levelname)-7s %(message)s", datefmt="%H:%M:%S")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, and an access line's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in _ACCESS_FIELDS:
            if hasattr(record, field):
                line[field] = getattr(record, field)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def log_config(level: str = "info", fmt: str = "text") -> dict:
    """A ``logging.config.dictConfig`` document for the server process (uvicorn applies it, in each worker
    too): every logger, uvicorn's included, through one handler on stderr in one format."""
    formatter = {"()": f"{__name__}.{'JsonFormatter' if fmt == 'json' else 'TextFormatter'}"}
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"mock": formatter},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "mock", "stream": "ext://sys.stderr"}
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # uvicorn's loggers otherwise carry handlers of their own: theirs go to the root's, in our format.
            **{
                name: {"handlers": [], "level": level, "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access", ACCESS_LOGGER)
            },
            # Connexion narrates each request at INFO ("No auth provided", "Skipping validation"): the
            # access line already says what happened, so its lines show at --log-level debug only.
            "connexion": {"level": level if level == "DEBUG" else "WARNING"},
            STARTUP_LOGGER: {"level": "INFO"},
        },
    }


def redacted_query(query: str) -> str:
    """The query string as sent, but for the values of credential-looking names (``access_token=…``), which
    a log must not keep any more than the journal does."""
    if not query:
        return query
    parts = []
    for part in query.split("&"):
        name, equals, _ = part.partition("=")
        parts.append(f"{name}={REDACTED}" if equals and is_credential(unquote_plus(name)) else part)
    return "&".join(parts)


class AccessLogMiddleware:
    """One line per request once its answer is sent: client, request line, status, time, and for a 4xx or
    5xx the short reason (``400 … the image must be 300x300 pixels; it is 301x300``).

    The reason comes from the request's Exchange, the record the journal's layers fill; with the journal
    off this layer makes one itself, so the reason is there whatever ``--journal-size`` says.
    """

    def __init__(self, server):
        self.app = server
        self.ctx = server.ctx
        self.logger = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        path = scope.get("path", "")
        scope.setdefault(EXCHANGE, Exchange(self.ctx.api_for_path(path) if path != "/" else None))
        status = 0

        async def logged_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        finally:
            self._log(scope, status or 500, time.perf_counter() - started)

    def _log(self, scope, status: int, seconds: float) -> None:
        client = scope.get("client")
        client = f"{client[0]}:{client[1]}" if client else "-"
        method, path = scope["method"], scope.get("path", "")
        query = redacted_query(scope.get("query_string", b"").decode("latin-1"))
        reason = self._reason(scope, status) if status >= 400 else None
        target = path + ("?" + query if query else "")
        version = scope.get("http_version", "1.1")
        line = f'{client} "{method} {target} HTTP/{version}" {status} {seconds * 1000:.1f}ms'
        if reason:
            line += f" - {reason}"
        fields = {
            "client": client,
            "method": method,
            "path": path,
            "query": query,
            "status": status,
            "reason": reason,
            "duration_ms": round(seconds * 1000, 1),
        }
        self.logger.log(logging.WARNING if status >= 500 else logging.INFO, line, extra=fields)

    def _reason(self, scope, status: int) -> str | None:
        exchange = scope.get(EXCHANGE)
        if exchange is None:
            return None
        if exchange.refusal is not None:
            reason = refusal_message(exchange.refusal)
        elif exchange.api is not None:
            verdict = contract_verdict(exchange, self.ctx, scope["method"], scope["path"])
            reason = "; ".join(verdict["messages"])
        else:
            return None
        reason = " ".join(reason.split())  # one line
        return reason[: REASON_CHARS - 1] + "…" if len(reason) > REASON_CHARS else reason or None


def announce(settings, host: str, port: int, seconds: float) -> None:
    """ "ready" once the port is bound, then a URL per API that opens in a browser: its Swagger UI (the
    API's own root is no page). Shown at every ``--log-level``."""
    base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    logger = logging.getLogger(STARTUP_LOGGER)
    logger.info("mockserver: ready in %.2fs at %s/ (Swagger UI of each API below)", seconds, base)
    for name in settings.apis:
        logger.info("  %-14s %s%s/ui/", name, base, APIS[name].base_path(settings.prefixed))
    logger.info("  %-14s %s/__mock__/ui/", "dashboard", base)
