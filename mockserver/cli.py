"""``mockserver``: serve all five APIs (each under /<name>/) or one at its real paths."""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

from .registry import APIS, FIXTURES_DIR


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mockserver",
        description="Stateful mock of the five image APIs, driven by their OpenAPI specs.",
    )
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
    p.add_argument("--state-dir", metavar="DIR", help="keep state in DIR across restarts")
    p.add_argument(
        "--max-store-bytes",
        type=int,
        metavar="N",
        help="total bytes of uploads kept; beyond it uploads get 507",
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
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log each request (default: on; --no-access-log for load tests)",
    )
    return p


def settings_from_args(args: argparse.Namespace):
    from .context import Settings
    from .persistence import signing_key

    if args.max_store_bytes is not None and args.max_store_bytes < 0:
        raise SystemExit("mockserver: --max-store-bytes must be >= 0")
    state_dir = Path(args.state_dir) if args.state_dir else None
    return Settings(
        apis=(args.api,) if args.api else tuple(APIS),
        prefixed=args.api is None,
        jwt_secret=args.jwt_secret,
        max_store_bytes=args.max_store_bytes,
        seed_data=Path(args.seed_data) if args.seed_data else None,
        state_dir=state_dir,
        validate_responses=not args.no_response_validation,
        signing_key=signing_key(state_dir) if state_dir else None,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    # Connexion imports starlette.testclient, which warns about its own httpx use: noise for users.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    import uvicorn

    from .app import create_app

    settings = settings_from_args(args)
    server = create_app(settings)
    base = f"http://{args.host}:{args.port}"
    print(f"mockserver: ready in {time.perf_counter() - started:.2f}s at {base}/", file=sys.stderr)
    for name in settings.apis:
        path = APIS[name].base_path(settings.prefixed)
        print(f"  {name:14} {base}{path}/   (Swagger UI: {base}{path}/ui/)", file=sys.stderr)
    logging.basicConfig(level=args.log_level.upper())
    # Connexion logs each rejected client request at ERROR ("Validation error: …", "Function argument …
    # not defined"): those are the client's 4xx, already in the access log, not the server's errors.
    for name in ("connexion.validators", "connexion.decorators.parameter"):
        logging.getLogger(name).setLevel(logging.CRITICAL if args.log_level != "debug" else logging.DEBUG)
    uvicorn.run(server, host=args.host, port=args.port, log_level=args.log_level, access_log=args.access_log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
