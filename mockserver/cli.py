"""``mockserver``: serve every API (each under /<name>/) or one at its real paths."""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import logging
import logging.config
import os
import socket
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import urlsplit

from image_api_contracts import APIS, FIXTURES_DIR
from mockserver import serving
from mockserver.layers import guard
from mockserver.state.settings import DEFAULT_JOURNAL_BYTES, DEFAULT_JOURNAL_SIZE, DEFAULT_REPLY_CACHE_BYTES

SETTINGS_ENV = "MOCKSERVER_SETTINGS"  # how --workers hands the settings to each worker process
STORE_ENV = "MOCKSERVER_STORE"  # --store's default: keeps the database password off the command line


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("image-api-contracts")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mockserver",
        description="Stateful mock of the image APIs, driven by their OpenAPI specs.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    p.add_argument("--api", choices=sorted(APIS), help="serve only this API, at its real paths")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument(
        "--seed-data",
        nargs="?",
        const=str(FIXTURES_DIR),
        metavar="DIR",
        help="preload records from DIR/seed/*.json (no DIR: the packaged fixtures)",
    )
    p.add_argument(
        "--state-dir",
        metavar="DIR",
        help="keep records (SQLite) and files in DIR: each write is on disk before it is answered",
    )
    p.add_argument(
        "--store",
        metavar="URL",
        default=os.environ.get(STORE_ENV) or None,
        help="keep the whole state in PostgreSQL (postgresql://user:password@host/db), shared by every "
        f"mockserver pointed at it (default: ${STORE_ENV}; needs the postgresql extra)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="serve with N worker processes sharing one state (requires --state-dir or --store)",
    )
    p.add_argument(
        "--max-store-bytes",
        type=int,
        metavar="N",
        help="total bytes of uploads kept; beyond it uploads get 507 (default without --state-dir: 1 GiB)",
    )
    p.add_argument(
        "--jwt-secret",
        metavar="SECRET",
        help="verify HS256 signatures and expiry of JWTs (default: shape only)",
    )
    p.add_argument(
        "--no-response-validation",
        action="store_true",
        help="skip validating the mock's own responses against the specs",
    )
    p.add_argument(
        "--reply-cache-mb",
        type=int,
        default=DEFAULT_REPLY_CACHE_BYTES // 2**20,
        metavar="MB",
        help="keep encoded replies to repeated reads until the API's state changes (default: 32; 0: off)",
    )
    p.add_argument(
        "--journal-size",
        type=int,
        default=DEFAULT_JOURNAL_SIZE,
        metavar="N",
        help="keep the last N requests for GET /__mock__/requests (default: 1000; 0: no journal)",
    )
    p.add_argument(
        "--journal-mb",
        type=int,
        default=DEFAULT_JOURNAL_BYTES // 2**20,
        metavar="MB",
        help="and at most about MB of memory for them, oldest dropped first (default: 64)",
    )
    p.add_argument(
        "--public-url",
        metavar="URL",
        help="origin of every URL the mock hands out, e.g. http://localhost:5173 behind a dev proxy "
        "(default: the request's own, or X-Forwarded-Proto/-Host)",
    )
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument(
        "--log-format",
        default="text",
        choices=("text", "json"),
        help="text (default) or json: one object a line, for log collectors",
    )
    p.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log each request (default: on; --no-access-log for load tests)",
    )
    serving.add_arguments(p)
    guard.add_arguments(p)
    return p


def settings_from_args(args: argparse.Namespace):
    from mockserver.state.persistence import signing_key
    from mockserver.state.settings import Settings

    if args.max_store_bytes is not None and args.max_store_bytes < 0:
        raise SystemExit("mockserver: --max-store-bytes must be >= 0")
    if args.reply_cache_mb < 0:
        raise SystemExit("mockserver: --reply-cache-mb must be >= 0")
    if args.journal_size < 0:
        raise SystemExit("mockserver: --journal-size must be >= 0")
    state_dir = Path(args.state_dir) if args.state_dir else None
    if args.store and not args.store.startswith(("postgresql://", "postgres://")):
        raise SystemExit("mockserver: --store must be a postgresql://user:password@host:port/database URL")
    if args.store and state_dir:
        raise SystemExit("mockserver: choose --store or --state-dir, not both")
    return Settings(
        apis=(args.api,) if args.api else tuple(APIS),
        prefixed=args.api is None,
        jwt_secret=args.jwt_secret,
        max_store_bytes=serving.default_store_cap(args),
        seed_data=Path(args.seed_data) if args.seed_data else None,
        state_dir=state_dir,
        store=args.store,
        validate_responses=not args.no_response_validation,
        reply_cache_bytes=args.reply_cache_mb * 2**20,
        signing_key=signing_key(state_dir) if state_dir else None,
        journal_size=args.journal_size,
        journal_bytes=max(args.journal_mb, 1) * 2**20,
        public_url=_public_url(args.public_url),
        freeze_heap=True,  # a server process of its own (tests building apps in one process do not)
        **guard.settings_values(args),
    )


def _public_url(url: str | None) -> str | None:
    """``scheme://host[:port]`` and an optional path prefix (a proxy that strips one): the mock's own
    paths follow it in every URL it hands out."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SystemExit(f"mockserver: --public-url must be like http://localhost:5173, not {url!r}")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _settings_to_env(settings, access_log: bool) -> str:
    """The settings as JSON for the worker processes (the signing key stays in the state dir)."""
    values = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    del values["signing_key"]
    values["access_log"] = access_log
    return json.dumps(values, default=str)  # Path -> str, tuple -> list


def worker_app():
    """uvicorn's app factory in each ``--workers`` process: the settings come from ``MOCKSERVER_SETTINGS``."""
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from mockserver.app import create_app
    from mockserver.logs import AccessLogMiddleware
    from mockserver.state.settings import Settings

    values = json.loads(os.environ[SETTINGS_ENV])
    access_log = values.pop("access_log")
    for name in ("apis", "allow_origins", "allow_hosts"):
        values[name] = tuple(values[name])
    for name in ("state_dir", "seed_data"):
        values[name] = Path(values[name]) if values[name] else None
    # uvicorn configured its loggers from --log-level in this process before calling the factory.
    _quiet_client_errors(logging.getLogger("uvicorn.error").getEffectiveLevel() <= logging.DEBUG)
    app = create_app(Settings(**values))  # mockserver.state.durable reads the signing key from state_dir
    return AccessLogMiddleware(app) if access_log else app


def _quiet_client_errors(debug: bool) -> None:
    # Connexion logs each rejected client request at ERROR ("Validation error: …", "Function argument …
    # not defined"): those are the client's 4xx, already in the access log, not the server's errors.
    for name in ("connexion.validators", "connexion.decorators.parameter"):
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.CRITICAL)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything says "ready"; a port in use is the user's to fix."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise SystemExit(
                f"mockserver: port {port} on {host} is already in use; stop what listens there, "
                f"or choose another port with --port N"
            ) from None
        raise SystemExit(f"mockserver: cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.workers > 1 and not (args.state_dir or args.store):
        parser.error("--workers N needs --state-dir DIR or --store URL: the workers share their state there")
    started = time.perf_counter()
    # Connexion imports starlette.testclient, which warns about its own httpx use: noise for users.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    import uvicorn

    from mockserver.app import create_app
    from mockserver.logs import STARTUP_LOGGER, AccessLogMiddleware, announce, log_config

    settings = settings_from_args(args)
    logs = log_config(args.log_level, args.log_format)
    logging.config.dictConfig(logs)
    _quiet_client_errors(args.log_level == "debug")
    sock = bind(args.host, args.port)
    port = sock.getsockname()[1]
    for note in [*serving.startup_notes(settings), *guard.startup_notes(args, settings)]:
        logging.getLogger(STARTUP_LOGGER).info("mockserver: %s", note)
    if args.workers > 1:
        # uvicorn's workers bind the address themselves: the check above only made a busy port a clear error.
        sock.close()
        os.environ[SETTINGS_ENV] = _settings_to_env(settings, args.access_log)
        announce(settings, args.host, port, time.perf_counter() - started)
        workers = f"{args.workers} workers share {settings.state_dir or 'one database'}"
        logging.getLogger(STARTUP_LOGGER).info("mockserver: %s", workers)
        uvicorn.run(
            "mockserver.cli:worker_app",
            factory=True,
            workers=args.workers,
            host=args.host,
            port=port,
            log_level=args.log_level,
            log_config=logs,
            access_log=False,
            **serving.uvicorn_options(args),
        )
        return 0
    server = create_app(settings)
    app = AccessLogMiddleware(server) if args.access_log else server
    config = uvicorn.Config(
        app, log_level=args.log_level, log_config=logs, access_log=False, **serving.uvicorn_options(args)
    )
    announce(settings, args.host, port, time.perf_counter() - started)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
