"""uvicorn's httptools protocol with each request head bounded in bytes, fields and time: the one place that
subclasses uvicorn's protocol and reads its parser state (``url``, ``headers``).

uvicorn has no limit on the size or number of header fields with httptools, and no deadline for a request's
head (its keep-alive timeout starts only after an answer; uvicorn#157): one unfinished 200 MB header line
held 198 MiB, and 1,100 connections that never finished their headers took every file descriptor. So, as
Go's ``ReadHeaderTimeout`` and Node's ``headersTimeout``/``maxHeaderSize`` do:

- a request head over ``MAX_HEADER_BYTES`` or ``MAX_HEADER_COUNT`` fields is refused (414 while the request
  line is still arriving, 431 once the fields are) and the connection closed, before the parser buffers any
  more of it. Every request on a connection is held to it: the count starts again as soon as the previous
  request is complete, so a kept-alive or pipelined request meets the same limit as the first;
- a connection whose request head is not complete within ``header_timeout`` seconds (of the connection, or
  kept alive: of the next request's first byte; an idle kept-alive connection is closed by uvicorn's own 5 s
  keep-alive timeout) gets 408 and is closed; one that sent nothing at all (a browser's preconnect) is closed
  without an answer, as Go's and Node's servers do.

What a refusal says is the caller's (``refusal``): the head's first bytes name the path, and so the API
whose format the answer takes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger("mockserver")

# Bounded per connection, yet above what a client the specs allow may send: a search with a few thousand
# tags (its arrays have no maximum) fills a request line of tens of KiB. Node's 16 KiB refused such
# schema-valid requests; Go allows 1 MiB.
MAX_HEADER_BYTES = 64 * 1024
MAX_HEADER_COUNT = 100
HEADER_TIMEOUT_SECONDS = 10.0
LINGER_SECONDS = 2.0
HEAD_START_BYTES = 2048  # enough of a head to read its request line's path from
URI_TOO_LONG = (414, "URI Too Long")
TOO_LARGE = (431, "Request Header Fields Too Large")

# (status, reason, message, the first bytes of the refused head) -> the whole HTTP answer
Refusal = Callable[[int, str, str, bytes], bytes]


def plain_refusal(status: int, reason: str, message: str, head_start: bytes) -> bytes:
    """A refusal in plain text, for a server that knows no API's format."""
    body = message.encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


class LimitedHttpProtocol(HttpToolsProtocol):
    """The head is measured as its bytes arrive, before the parser buffers them. A pipelined request's head
    can begin in the chunk that ends the body before it, which was passed to the parser uncounted: such a
    head is measured again once parsed, by its URL and fields."""

    def __init__(
        self,
        *args,
        header_timeout: float = HEADER_TIMEOUT_SECONDS,
        refusal: Refusal = plain_refusal,
        wrap_transport: Callable | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self._refusal = refusal
        self._wrap_transport = wrap_transport
        self._head_bytes: int | None = 0  # of the request head being read; None while a body is
        self._head_lines = 0
        self._request_line_bytes = 0  # of the head being read
        self._head_start = b""
        self._in_uncounted_chunk = False  # the parser is reading bytes that were not counted as a head's
        self._head_partly_uncounted = False  # the head being parsed began in such bytes
        self._head_began: float | None = None  # loop time the head being read began; None between heads
        self._head_timer = None  # one pending check of the head's deadline at most (see _arm_head_deadline)
        self._linger = None  # the close after a refusal's answer
        self._refused = False
        self._deferred_answer: bytes | None = None  # a refusal waiting for the answers before it

    def connection_made(self, transport) -> None:
        if self._wrap_transport is not None:
            transport = self._wrap_transport(transport, self.loop)
        super().connection_made(transport)
        self._arm_head_deadline()

    def _arm_head_deadline(self) -> None:
        """A head begins (unless one already is): its deadline is ``header_timeout`` from now. The timer is
        not set and cancelled per request (two timer operations on every request of a kept-alive
        connection): one check stays pending, and when it fires it judges the head then being read, if
        any, or waits again for the rest of that head's time."""
        if not self.header_timeout:
            return
        if self._head_began is None:
            self._head_began = self.loop.time()
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._check_head_deadline)

    def _disarm_head_deadline(self) -> None:
        """The head is complete: no deadline runs until the next one begins (the pending check finds none)."""
        self._head_began = None

    def _cancel_head_timer(self) -> None:
        self._head_began = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _check_head_deadline(self) -> None:
        self._head_timer = None
        if self._head_began is None or self._refused:
            return  # between heads: the next head's beginning sets the check again
        left = self._head_began + self.header_timeout - self.loop.time()
        if left > 0:  # a later head than the one this check was set for
            self._head_timer = self.loop.call_later(left, self._check_head_deadline)
        else:
            self._head_too_slow()

    def _head_too_slow(self) -> None:
        self._head_began = None
        if self._head_bytes == 0:  # nothing sent (a browser's preconnect): closed without an answer
            self.transport.close()
        elif self._head_bytes is not None and not self._refused:
            message = f"the request's headers did not arrive within {self.header_timeout:g} s"
            self._refuse(408, "Request Timeout", message)

    def _refuse(self, status: int, reason: str, message: str) -> None:
        """Refuse the request being read: nothing more is read, and once the answers to the requests before
        it are sent (pipelined: answers keep their requests' order), its own is."""
        logger.info("mockserver: %s %s (%s)", status, message, self.client)
        self._cancel_head_timer()
        self._refused = True
        answer = self._refusal(status, reason, message, self._head_start)
        if self.cycle is not None and not self.cycle.response_complete:
            self._deferred_answer = answer  # written by on_response_complete
        else:
            self._answer_and_close(answer)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._deferred_answer is not None and self.cycle.response_complete:
            answer, self._deferred_answer = self._deferred_answer, None
            self._answer_and_close(answer)

    def _answer_and_close(self, answer: bytes) -> None:
        """Answer, then a lingering close (as Apache's): what the client still sends is read and dropped
        for up to ``LINGER_SECONDS``, so it reads the answer instead of a connection reset."""
        if self.transport.is_closing():  # the answer before it closed the connection
            return
        self.transport.write(answer)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._linger = self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _refuse_too_large(self, request_line_bytes: int) -> None:
        """414 when the request line alone is past the limit (its URI is what is too long), else 431."""
        if request_line_bytes > MAX_HEADER_BYTES:
            return self._refuse(*URI_TOO_LONG, f"the request line exceeds {MAX_HEADER_BYTES} bytes")
        return self._refuse(*TOO_LARGE, f"the request's head exceeds {MAX_HEADER_BYTES} bytes")

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # dropped: the connection is closing
        uncounted = True  # a body's bytes, which may end with the next request's head
        if self._head_bytes is not None:  # reading a request head
            end = data.find(b"\r\n\r\n")
            head = data if end < 0 else data[:end]
            if not self._head_bytes:
                self._head_start = bytes(head[:HEAD_START_BYTES]).lstrip(b"\r\n")
            if not self._head_lines:  # the request line is still arriving
                line_end = head.find(b"\n")
                self._request_line_bytes += len(head) if line_end < 0 else line_end
            self._head_bytes += len(head)
            self._head_lines += head.count(b"\n")
            if self._head_bytes > MAX_HEADER_BYTES:
                return self._refuse_too_large(self._request_line_bytes)
            if self._head_lines > MAX_HEADER_COUNT:  # the request line and the fields
                return self._refuse(*TOO_LARGE, f"the request has more than {MAX_HEADER_COUNT} header fields")
            uncounted = 0 <= end < len(data) - 4
        self._in_uncounted_chunk = uncounted
        try:
            super().data_received(data)
        finally:
            self._in_uncounted_chunk = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_head_deadline()  # kept alive: from the next request's first byte

    def on_headers_complete(self) -> None:
        if self._refused:
            return  # a request pipelined behind a refused one: never started
        self._head_bytes = None
        self._disarm_head_deadline()
        if self._head_partly_uncounted:  # measured as parsed: its URL and fields
            self._head_partly_uncounted = False
            url_bytes = len(self.url)
            head_bytes = url_bytes + sum(len(name) + len(value) + 4 for name, value in self.headers)
            self._head_start = self.parser.get_method() + b" " + self.url[:HEAD_START_BYTES]
            if head_bytes > MAX_HEADER_BYTES:
                return self._refuse_too_large(url_bytes)
            if len(self.headers) > MAX_HEADER_COUNT:
                return self._refuse(*TOO_LARGE, f"the request has more than {MAX_HEADER_COUNT} header fields")
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        super().on_message_complete()
        # The next request's head starts with the next byte: counted from here, not from the parser's
        # ``on_message_begin``, which runs only after that head's first chunk went by uncounted.
        self._head_bytes, self._head_lines, self._request_line_bytes, self._head_start = 0, 0, 0, b""
        self._head_partly_uncounted = self._in_uncounted_chunk

    def connection_lost(self, exc) -> None:
        self._cancel_head_timer()
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        super().connection_lost(exc)
