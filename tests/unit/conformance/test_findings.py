"""A check's setup that did not succeed says why in words a report can show: never the bytes of an image."""

from __future__ import annotations

import httpx
import pytest

from conformance.findings import NotExercised, needs


def _answer(status: int, content: bytes, media: str | None) -> httpx.Response:
    headers = {"content-type": media} if media else {}
    return httpx.Response(
        status, content=content, headers=headers, request=httpx.Request("GET", "http://t/x")
    )


@pytest.mark.parametrize(
    ("content", "media", "said"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "image/png", "<264 bytes of image/png>"),
        (b'{"code": 404,\n  "message": "none"}', "application/json", '{"code": 404, "message": "none"}'),
        (b"\xff\xfe\xfd", None, "<3 bytes that are not UTF-8 text>"),
        (b"not found\n", "text/plain; charset=utf-8", "not found"),
    ],
)
def test_a_refused_setup_names_its_answer_without_binary_bytes(content, media, said):
    with pytest.raises(NotExercised) as refused:
        needs(_answer(404, content, media), "the download", "EDP-05")
    assert f"the download answered 404: {said} (see EDP-05)" in str(refused.value)
    assert "\x89PNG" not in str(refused.value) and "\ufffd" not in str(refused.value)


def test_a_setup_that_succeeded_is_returned():
    ok = _answer(200, b"[]", "application/json")
    assert needs(ok, "the listing", "TIM-04") is ok
