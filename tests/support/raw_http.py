"""HTTP/1.1 on a raw socket, for tests of what a connection carries: kept-alive and pipelined requests, heads
that stop halfway, refusals and closes, which a client library would not send or would hide."""

from __future__ import annotations

import socket

import httpx

TIMEOUT = 10


class Connection:
    """One socket to ``server`` (anything with a ``port`` on 127.0.0.1), answers read whole (by
    content-length), so that the next request rides the same connection."""

    def __init__(self, server):
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self) -> httpx.Response:
        while b"\r\n\r\n" not in self.buffer:
            self._read()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines)}
        length = int(headers["content-length"])
        while len(self.buffer) < length:
            self._read()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return httpx.Response(int(status_line.split()[1]), headers=headers, content=body)

    def closed_by_server(self) -> bool:
        self.sock.settimeout(TIMEOUT)
        try:
            return self.buffer == b"" and self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def _read(self) -> None:
        data = self.sock.recv(65536)
        assert data, "the server closed the connection without a whole answer"
        self.buffer += data

    def close(self) -> None:
        self.sock.close()
