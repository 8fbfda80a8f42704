"""What uvicorn is given to serve the mock: its HTTP protocol with limits on request heads, and the process's
open-file limit. The one place that knows uvicorn's protocol classes.

uvicorn has no limit on the size or number of header fields with httptools, and no deadline for a request's
head (its keep-alive timeout starts only after an answer; uvicorn#157): one unfinished 200 MB header line
held 198 MiB, and 1,100 connections that never finished their headers took every file descriptor. So, as
Go's ``ReadHeaderTimeout`` and Node's ``headersTimeout``/``maxHeaderSize`` do:

- a request head (request line and headers) over 16 KiB or 100 fields gets 431 and the connection is
  closed, before the parser buffers any more of it;
- a connection whose request head is not complete within ``header_timeout`` seconds (10 by default) of the
  connection (kept alive: of the next request's first byte; an idle kept-alive connection is closed by
  uvicorn's own 5 s keep-alive timeout) gets 408 and is closed; one that sent nothing at all (a browser's
  preconnect) is closed without an answer, as Go's and Node's servers do.
"""

from __future__ import annotations

import functools
import logging
import resource

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # uvicorn[standard], via connexion

logger = logging.getLogger("mockserver")

MAX_HEADER_BYTES = 16 * 1024
MAX_HEADER_COUNT = 100
HEADER_TIMEOUT_SECONDS = 10.0
LINGER_SECONDS = 2.0
TOO_LARGE = (431, "Request Header Fields Too Large")


def _answer(status: int, reason: str, message: str) -> bytes:
    body = message.encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


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


def _writes_vectors(transport) -> bool:
    """uvloop's ``writelines`` is one ``writev``; asyncio's (Python 3.11) joins the pieces, a copy of the
    body, so its transports are left as they are."""
    return type(transport).__module__.startswith("uvloop")


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with each request head bounded in bytes, fields and time. The head is
    measured as its bytes arrive, before the parser buffers them."""

    def __init__(self, *args, header_timeout: float = HEADER_TIMEOUT_SECONDS, **kwargs):
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self._head_bytes: int | None = 0  # of the request head being read; None once it is complete
        self._head_lines = 0
        self._head_deadline = None
        self._refused = False

    def connection_made(self, transport) -> None:
        if _writes_vectors(transport):
            transport = HeadWithBodyTransport(transport, self.loop)
        super().connection_made(transport)
        self._arm_head_deadline()

    def _arm_head_deadline(self) -> None:
        if self._head_deadline is None and self.header_timeout:
            self._head_deadline = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self._head_bytes == 0:  # nothing sent (a browser's preconnect): closed without an answer
            self.transport.close()
        elif self._head_bytes is not None and not self._refused:
            message = f"the request's headers did not arrive within {self.header_timeout:g} s"
            self._refuse(408, "Request Timeout", message)

    def _refuse(self, status: int, reason: str, message: str) -> None:
        """Answer, then a lingering close (as Apache's): what the client still sends is read and dropped
        for up to ``LINGER_SECONDS``, so it reads the answer instead of a connection reset."""
        logger.info("mockserver: %s %s (%s)", status, message, self.client)
        self._disarm_head_deadline()
        self._refused = True
        self.transport.write(_answer(status, reason, message))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._head_deadline = self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # dropped: the connection is closing
        if self._head_bytes is not None:  # still reading a request head
            end = data.find(b"\r\n\r\n")
            head = data if end < 0 else data[:end]
            self._head_bytes += len(head)
            self._head_lines += head.count(b"\n")
            if self._head_bytes > MAX_HEADER_BYTES:
                return self._refuse(*TOO_LARGE, f"the request's headers exceed {MAX_HEADER_BYTES} bytes")
            if self._head_lines > MAX_HEADER_COUNT:  # the request line and the fields
                return self._refuse(*TOO_LARGE, f"the request has more than {MAX_HEADER_COUNT} header fields")
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_bytes is None:  # the next request on a kept-alive connection
            self._head_bytes, self._head_lines = 0, 0
            self._arm_head_deadline()

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        self._disarm_head_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)


def http_protocol(header_timeout: float = HEADER_TIMEOUT_SECONDS):
    """uvicorn's ``http=`` argument: the limited protocol (a picklable factory, for ``--workers``)."""
    return functools.partial(LimitedHttpProtocol, header_timeout=header_timeout)


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
        f"{MAX_HEADER_COUNT} fields (431 beyond)",
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
    return {"http": http_protocol(args.header_timeout)}


def startup_notes(settings) -> list[str]:
    if settings.max_store_bytes is None or settings.state_dir:
        return []
    cap = settings.max_store_bytes / 2**20
    return [f"uploads kept in memory up to {cap:g} MiB (507 beyond; --max-store-bytes to change)"]
