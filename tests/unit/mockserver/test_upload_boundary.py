"""An upload's pixels are decoded before the write lock whatever the case of its multipart boundary
(browsers send mixed-case ones, ``----WebKitFormBoundaryX7aB...``)."""

from __future__ import annotations

import asyncio

from support.images import image_bytes

import mockserver.images as images


def test_a_mixed_case_boundary_still_finds_the_file_part(monkeypatch):
    decoded: list[bytes] = []

    async def record(data):
        decoded.append(data)

    monkeypatch.setattr(images, "decode_off_loop", record)
    png = image_bytes()
    boundary = "----WebKitFormBoundaryX7aBcDeF"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        f"Content-Type: image/png\r\n\r\n".encode()
        + png
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = [(b"content-type", f"multipart/form-data; boundary={boundary}".encode())]
    asyncio.run(images.decode_before_locks(headers, body))
    assert decoded == [png]
