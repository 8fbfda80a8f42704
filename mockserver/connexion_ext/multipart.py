"""Parsing a whole multipart body already in memory with Starlette's parser (python-multipart)."""

from __future__ import annotations

import contextlib

from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData, Headers
from starlette.formparsers import MultiPartParser


@contextlib.asynccontextmanager
async def parsed_multipart(content_type: str, data: bytes):
    """The form of ``data``; every part's temporary file is closed on leaving, parsed or not (Starlette
    leaves them open on errors). A body cut off before its closing boundary is malformed: ValueError
    (python-multipart would keep its whole parts)."""
    boundary = parse_options_header(content_type)[1].get(b"boundary", b"")
    if not boundary or not data.rstrip().endswith(b"--" + boundary + b"--"):
        raise ValueError("the multipart body has no closing boundary")

    async def stream():
        yield data

    parser = MultiPartParser(Headers({"content-type": content_type}), stream())
    try:
        form: FormData = await parser.parse()
        yield form
    finally:
        for file in parser._files_to_close_on_error:
            file.close()
