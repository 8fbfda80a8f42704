"""What a write waits out before it takes a lock: its forced delay, its whole body and an upload's pixels
decoded, so that a delay, a slow client or a large image holds up no other write. One preamble for the
three write layers: in memory (``atomic``), under ``--state-dir`` (``transactions``) and under ``--store``
(``postgres_transactions``)."""

from __future__ import annotations

from mockserver.asgi import Receive, Scope, buffered_receive, declared_length
from mockserver.images import decode_before_locks
from mockserver.layers.prefer import delay_before_locks


async def ready_for_the_lock(scope: Scope, receive: Receive, ctx) -> Receive | None:
    """``receive`` with the body read whole, or as it was when the declared body is over the limit (the
    body-limit layer answers 413 without reading it); None when the client went away before sending it."""
    await delay_before_locks(scope, ctx)
    limit = ctx.settings.max_body_bytes
    if declared_length(scope) > limit:
        return receive
    buffered = await buffered_receive(receive, limit)
    if buffered is not None:
        await decode_before_locks(scope["headers"], buffered.body)
    return buffered
