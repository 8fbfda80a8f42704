"""The gate's URL check: a path or query string that is not UTF-8 once percent-decoded is refused with the
place of the offending byte, whether it came escaped or raw; UTF-8 text passes either way."""

from __future__ import annotations

import pytest

from mockserver.layers.gate import Refused, check_raw_url


def _scope(path: bytes = b"/v1/images", query: bytes = b"") -> dict:
    return {"path": path.decode("latin-1"), "raw_path": path, "query_string": query}


UTF8_QUERIES = [b"", b"a=1", b"a=1&b=%C3%A9", b"a=\xc3\xa9&b=x+y", b"a=%2B&&b", b"tag=%25"]


@pytest.mark.parametrize("query", UTF8_QUERIES)
def test_utf8_urls_pass(query):
    check_raw_url(_scope(b"/v1/images/caf\xc3\xa9", query))
    check_raw_url(_scope(b"/v1/images/caf%C3%A9", query))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (b"a=1&b=\xff", "the query string is not UTF-8 text (byte 0xff at 2)"),
        (b"a=1&b=%FF", "the query string is not UTF-8 text (byte 0xff at 2)"),
        (b"a=\xc3&b=1", "the query string is not UTF-8 text (byte 0xc3 at 2)"),
        (b"a=%C3&b=\xa9", "the query string is not UTF-8 text (byte 0xc3 at 2)"),
    ],
)
def test_a_query_that_is_not_utf8_is_refused_naming_the_byte_in_its_pair(query, message):
    with pytest.raises(Refused) as refused:
        check_raw_url(_scope(query=query))
    assert str(refused.value) == message


@pytest.mark.parametrize("path", [b"/v1/images/\xff", b"/v1/images/%FF"])
def test_a_path_that_is_not_utf8_is_refused(path):
    with pytest.raises(Refused) as refused:
        check_raw_url(_scope(path))
    assert str(refused.value) == "the path is not UTF-8 text (byte 0xff at 11)"
