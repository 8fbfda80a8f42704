"""What uvicorn is given to serve the mock: its HTTP protocol (request heads bounded in bytes, fields and
time: ``mockserver.connexion_ext.http_protocol``), refusals of a head in the format of the API its path
names, one ``writev`` per answer under uvloop, and the process's open-file limit.
"""

from __future__ import annotations

import functools
import logging
import resource
from dataclasses import dataclass

from image_api_contracts import APIS
from mockserver.connexion_ext.http_protocol import (
    HEADER_TIMEOUT_SECONDS,
    MAX_HEADER_BYTES,
    MAX_HEADER_COUNT,
    LimitedHttpProtocol,
)
from mockserver.mounts import MountPoints

logger = logging.getLogger("mockserver")


@dataclass(frozen=True)
class ApiFormatRefusal:
    """A request head refused before it reaches the app (too large, too slow) is answered as the API its
    path names answers any error: its own error body (a client parses one format, whatever failed), the
    mock's own format outside every API. Plain data, so uvicorn's workers can be given it."""

    mounts: MountPoints

    def __call__(self, status: int, reason: str, message: str, head_start: bytes) -> bytes:
        # Imported here: the errors' module imports Connexion, which the command line loads only once its
        # warnings are filtered (and ``mockserver --help`` not at all).
        from mockserver.errors import error_body

        api = self.mounts.api_for_path(_request_path(head_start)) or "__mock__"
        body, content_type = error_body(api, status, message)
        return (
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        ).encode() + body


def _request_path(head_start: bytes) -> str:
    """The path of a request line's target (``GET /v1/images?limit=… HTTP/1.1``), however much of it came;
    "" when there is none to read."""
    _, _, target = head_start.partition(b"\r\n")[0].partition(b" ")
    path = target.split(b" ", 1)[0].split(b"?", 1)[0]
    return path.decode("latin-1") if path.startswith(b"/") else ""


HELD_WRITE_BYTES = 4096  # a response's status line and headers, well within


class HeadWithBodyTransport:
    """A uvloop transport whose small writes wait for the next one, so that a response's head and body
    leave in one ``writev`` instead of two system calls (and the client's two wake-ups, one for a head
    alone). uvicorn writes the head as the answer starts and the body right after, in the same step of
    the event loop; what is held is written at the latest when that step ends, and before any close.
    Everything else is the transport's own."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport, loop):
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.writelines((held, data))  # one writev: no copy of the body
        elif len(data) <= HELD_WRITE_BYTES:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name):
        return getattr(self._transport, name)


def with_one_writev(transport, loop):
    """uvloop's ``writelines`` is one ``writev``; asyncio's (Python 3.11) joins the pieces, a copy of the
    body, so its transports are left as they are."""
    if type(transport).__module__.startswith("uvloop"):
        return HeadWithBodyTransport(transport, loop)
    return transport


def http_protocol(
    header_timeout: float = HEADER_TIMEOUT_SECONDS, apis: tuple[str, ...] = tuple(APIS), prefixed: bool = True
):
    """uvicorn's ``http=`` argument: the limited protocol, its refusals in the served APIs' formats (a
    picklable factory, for ``--workers``)."""
    return functools.partial(
        LimitedHttpProtocol,
        header_timeout=header_timeout,
        refusal=ApiFormatRefusal(MountPoints(apis, prefixed)),
        wrap_transport=with_one_writev,
    )


def raise_open_file_limit() -> tuple[int, int]:
    """Soft open-file limit up to the hard one (1,024 is a common soft default): ``(before, after)``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft, soft
    return soft, max(soft, target)


DEFAULT_MEMORY_STORE_BYTES = 1024 * 2**20  # uploads kept in memory, without --state-dir


def add_arguments(parser) -> None:
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=HEADER_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"close a connection whose request headers are not complete within SECONDS (default: "
        f"{HEADER_TIMEOUT_SECONDS:g}); headers are limited to {MAX_HEADER_BYTES // 1024} KiB and "
        f"{MAX_HEADER_COUNT} fields (414 or 431 beyond, in the API's error format)",
    )


def default_store_cap(args) -> int | None:
    """Without --state-dir uploads live in memory: capped by default (507 beyond), unless said otherwise."""
    if args.max_store_bytes is not None or args.state_dir:
        return args.max_store_bytes
    return DEFAULT_MEMORY_STORE_BYTES


def uvicorn_options(args) -> dict:
    """What ``mockserver`` adds to uvicorn's options; raises the open-file limit on the way."""
    before, after = raise_open_file_limit()
    if after > before:
        logger.debug("mockserver: open-file limit raised from %d to %d", before, after)
    if args.header_timeout <= 0:
        raise SystemExit("mockserver: --header-timeout must be > 0")
    apis, prefixed = ((args.api,), False) if args.api else (tuple(APIS), True)
    return {"http": http_protocol(args.header_timeout, apis, prefixed)}


def startup_notes(settings) -> list[str]:
    if settings.max_store_bytes is None or settings.state_dir:
        return []
    cap = settings.max_store_bytes / 2**20
    return [f"uploads kept in memory up to {cap:g} MiB (507 beyond; --max-store-bytes to change)"]
