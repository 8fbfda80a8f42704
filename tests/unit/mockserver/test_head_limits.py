"""Every request on a connection meets the request-head limit (64 KiB, 100 fields), not only the first: a
kept-alive or pipelined request that passes it is refused as the first would be. A refusal comes in the
format of the API its path names (414 for a request line past the limit, 431 for fields), at the prefixed
paths and at an API's real paths, and the connection is closed after it; the server goes on."""

from __future__ import annotations

import httpx
import pytest
from support.api_errors import assert_api_error
from support.live_server import LiveServer
from support.raw_http import Connection

from mockserver.connexion_ext.http_protocol import MAX_HEADER_BYTES, MAX_HEADER_COUNT

TIMEOUT = 10
TIM = "/tagged-images/v1"
HUGE = "x" * 100_000


@pytest.fixture(scope="module")
def every_api():
    server = LiveServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def evotor_alone():
    server = LiveServer(api="evotor")
    yield server
    server.stop()


def get(path: str, *fields: str, close: bool = False) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *fields, *(["Connection: close"] if close else [])]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_kept_alive_request_past_the_limit_is_refused_as_the_first_would_be(every_api):
    connection = Connection(every_api)
    try:
        for _ in range(3):  # a few ordinary requests first: the connection is kept alive
            connection.send(get(f"{TIM}/images?limit=1"))
            assert connection.answer().status_code == 200
        connection.send(get(f"{TIM}/images?limit=1&q={HUGE}"))
        refused = connection.answer()
        assert refused.status_code == 414, refused.text
        assert_api_error("tagged-images", refused)
        assert refused.headers["connection"] == "close"
        assert connection.closed_by_server()
    finally:
        connection.close()
    assert httpx.get(f"{every_api.url}{TIM}/images?limit=1", timeout=TIMEOUT).status_code == 200


SECOND_REQUESTS = {
    # (sent in the same write as the first, the second request, its status)
    "too-many-fields": (False, get(f"{TIM}/tags", *(f"X-{i}: 1" for i in range(MAX_HEADER_COUNT + 1))), 431),
    # both heads in one write: the second lies in the chunk that ends the first, past the byte count, and
    # is measured once parsed
    "pipelined-past-the-limit": (True, get(f"{TIM}/tags", f"X-Big: {'a' * (MAX_HEADER_BYTES + 10)}"), 431),
    "within-the-limit": (False, get(f"{TIM}/images?limit={'9' * 15_000}"), 400),  # the API's own verdict
}


@pytest.mark.parametrize(("pipelined", "second", "status"), SECOND_REQUESTS.values(), ids=SECOND_REQUESTS)
def test_a_second_request_on_a_connection_meets_the_limit_too(every_api, pipelined, second, status):
    first = get(f"{TIM}/tags")
    connection = Connection(every_api)
    try:
        connection.send(first + second if pipelined else first)
        assert connection.answer().status_code == 200
        if not pipelined:
            connection.send(second)
        answer = connection.answer()
        assert answer.status_code == status, answer.text
        assert_api_error("tagged-images", answer)
    finally:
        connection.close()


def refusal(server: LiveServer, path: str) -> httpx.Response:
    """The answer to a GET of ``path`` sent on a socket of its own (httpx refuses a URL over 64 KiB)."""
    connection = Connection(server)
    try:
        connection.send(get(path))
        return connection.answer()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("api", "path"),
    [
        ("everydaypic", f"/everydaypic/v1/image/info?id={HUGE}"),
        ("image-upload", f"/image-upload/DeleteImage?FileName={HUGE}"),
        ("sharinpix", f"/sharinpix/api/v1/albums/{HUGE}/images"),
        ("evotor", f"/evotor/stores/{HUGE}/products/p/images"),
        ("tagged-images", f"{TIM}/search/images?" + "&".join(["exact_tags=a"] * 8000)),
    ],
)
def test_every_api_gets_its_refusal_in_its_own_format(every_api, api, path):
    response = refusal(every_api, path)
    assert response.status_code == 414, response.text
    assert_api_error(api, response)


def test_an_api_served_alone_refuses_in_its_format_at_its_real_paths(evotor_alone):
    response = refusal(evotor_alone, f"/stores/{HUGE}/products/p/images")
    assert response.status_code == 414, response.text
    assert_api_error("evotor", response)


def test_outside_every_api_the_refusal_takes_the_mocks_own_format(every_api):
    response = refusal(every_api, f"/__mock__/state?q={HUGE}")
    assert response.status_code == 414
    assert response.json() == {"error": f"the request line exceeds {MAX_HEADER_BYTES} bytes", "status": 414}
