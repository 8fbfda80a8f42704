"""Legal toy variants: each decides otherwise where the toy's seed is silent."""

from __future__ import annotations

from . import Variant, before_the_mock

API = "toy"


def _trace_is_501(server):
    """TRACE, which no operation defines, gets 501 Not Implemented from the HTTP layer (as many do)."""

    async def decide(scope, body):
        if scope["method"] == "TRACE" and server.ctx.api_for_path(scope["path"]) == API:
            return 501, b"Not Implemented", "text/plain"
        return None

    before_the_mock(server, decide)


VARIANTS = [
    Variant(
        "toy-trace-501",
        API,
        "ALL-01",
        "TRACE (defined by no operation) -> 501 instead of 405 with Allow",
        "HTTP's own answer for an unsupported method",
        _trace_is_501,
    ),
]
