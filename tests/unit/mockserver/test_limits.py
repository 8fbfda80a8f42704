"""What one request, or one connection, may cost the mock, tried on a real ``mockserver`` process: a refused
8 MiB body costs no lasting memory and is not echoed, request heads are bounded in bytes and fields
(431), a connection that never finishes its head is closed by the deadline (each head of a kept-alive
connection by its own), the open-file limit is raised,
and the in-memory storage cap is announced."""

from __future__ import annotations

import contextlib
import socket
import time

import httpx
import pytest
from support.mock_process import MockProcess
from support.raw_http import Connection

MiB = 2**20
KEY = "a signing key of 32 bytes or more"


@pytest.fixture(scope="module")
def mock(tmp_path_factory):
    server = MockProcess("--header-timeout", "1", "--no-access-log", log_dir=tmp_path_factory.mktemp("logs"))
    yield server
    server.stop()


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return int(status.read().split("VmRSS:")[1].split()[0]) / 1024


def raw_exchange(port: int, request: bytes, wait: float = 10) -> bytes:
    """Send ``request`` and read the answer's first line (sending may fail once the server answered)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(request)
        return sock.recv(4096).split(b"\r\n", 1)[0]


def test_refused_8_mib_json_bodies_cost_no_lasting_memory_and_are_not_echoed(mock):
    body = b"[" + b"{}," * (8 * MiB // 3 - 1) + b"{}]"  # ~2.8 million objects once parsed (~200 MiB)

    def send():
        started = time.perf_counter()
        response = httpx.post(
            f"{mock.url}/tagged-images/v1/tags",
            content=body,
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        assert response.status_code == 400 and len(response.content) < 1024, response.text[:200]
        return time.perf_counter() - started

    send()  # warm-up: buffers of this size once
    baseline = rss_mib(mock.proc.pid)
    seconds = [send() for _ in range(4)]
    grown = rss_mib(mock.proc.pid) - baseline
    # Before the bound: each such body added ~310 MiB and took ~8 s. Today 3 to 9 MiB on a quiet machine and
    # up to 25 on a busy one (the allocator keeps freed arenas a while); a leak of one body's parse shows.
    assert grown < 48, f"RSS grew {grown:.1f} MiB over four 8 MiB bodies"
    assert max(seconds) < 5, seconds
    entry = httpx.get(f"{mock.url}/__mock__/requests", params={"path": "/tagged-images/v1/tags"}).json()
    kept = entry["requests"][-1]["body"]
    assert kept["size"] == len(body) and kept["fields"] is None  # hashed, not parsed


def test_request_heads_are_bounded_in_bytes_and_fields(mock):
    head = b"GET /__mock__/state HTTP/1.1\r\nHost: localhost\r\n"
    assert raw_exchange(mock.port, head + b"X-Big: " + b"a" * 4_000_000 + b"\r\n\r\n").startswith(
        b"HTTP/1.1 431"
    )
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(101))
    assert raw_exchange(mock.port, head + many + b"\r\n").startswith(b"HTTP/1.1 431")
    fine = b"".join(b"X-%d: 1\r\n" % i for i in range(90)) + b"X-Fine: " + b"a" * 8000 + b"\r\n"
    assert raw_exchange(mock.port, head + fine + b"Connection: close\r\n\r\n") == b"HTTP/1.1 200 OK"


def test_a_connection_that_never_finishes_its_head_is_closed_by_the_deadline(mock):
    """--header-timeout 1: the slow connections are closed at about 1 s, and other requests go on."""
    slow = []
    for i in range(50):
        sock = socket.create_connection(("127.0.0.1", mock.port), timeout=15)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: local" if i % 2 else b"")  # half send nothing at all
        slow.append(sock)
    started = time.perf_counter()
    try:
        assert httpx.get(f"{mock.url}/__mock__/state", timeout=5).status_code == 200
        answers = [sock.recv(200) for sock in slow]
        closed_after = time.perf_counter() - started
    finally:
        for sock in slow:
            sock.close()
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers[1::2]), set(answers)
    assert all(a == b"" for a in answers[::2]), set(answers)  # sent nothing: closed without an answer
    assert 0.5 < closed_after < 6, closed_after  # the deadline, with room for a loaded machine


def test_the_deadline_runs_from_each_heads_first_byte_on_a_kept_alive_connection(mock):
    """--header-timeout 1: requests spread over more than the deadline on one connection are all answered;
    a head that stops halfway, begun 0.9 s after the connection's first, gets its 408 about 1 s after its
    own first byte, not at the first head's deadline."""
    request = b"GET /__mock__/state HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    connection = Connection(mock)
    try:
        for _ in range(4):  # 1.6 s in all: past the deadline of the connection's first head
            connection.send(request)
            assert connection.answer().status_code == 200, "a complete head is never cut off"
            time.sleep(0.4)
    finally:
        connection.close()
    connection = Connection(mock)
    try:
        opened = time.perf_counter()
        for _ in range(3):
            connection.send(request)
            assert connection.answer().status_code == 200
            time.sleep(0.25)
        time.sleep(max(0.0, 0.9 - (time.perf_counter() - opened)))
        connection.send(b"GET /__mock__/state HTTP/1.1\r\nHost: 127")
        began = time.perf_counter()
        answer = connection.sock.recv(200)
        waited = time.perf_counter() - began
    finally:
        connection.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert 0.8 < waited < 5, waited  # its own second, with room for a loaded machine


def test_the_open_file_limit_is_raised_to_the_hard_limit(mock):
    with open(f"/proc/{mock.proc.pid}/limits") as limits:
        line = next(row for row in limits if row.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    assert soft == hard, line


def test_the_in_memory_storage_cap_is_announced(mock):
    assert "uploads kept in memory up to 1024 MiB (507 beyond" in mock.output()


def test_the_token_cache_is_bounded_in_count_and_token_size():
    import jwt

    from mockserver import auth

    auth._decoded.cache_clear()
    for i in range(auth.CACHED_TOKENS + 50):
        assert auth.decode_jwt(jwt.encode({"sub": str(i), "exp": 2**40}, KEY), None) is not None
    assert auth._decoded.cache_info().currsize == auth.CACHED_TOKENS
    auth._decoded.cache_clear()
    long = jwt.encode({"sub": "x", "exp": 2**40, "padding": "p" * 8000}, KEY)
    assert auth.decode_jwt(long, None)["padding"] == "p" * 8000
    assert auth._decoded.cache_info().currsize == 0  # decoded each time, never kept
