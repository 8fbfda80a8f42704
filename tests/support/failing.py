"""A handler operation that makes its change and then fails: the shape of bug every write must survive
(the atomic layer, or the durable store's transaction, undoes what it changed)."""

from __future__ import annotations

import functools


def fail_after_change(handler, operation: str, message: str = "a bug after the change"):
    """Replace ``handler.<operation>`` by one that runs it, then raises ``RuntimeError(message)``; returns
    the original."""
    original = getattr(handler, operation)

    @functools.wraps(original)  # Connexion reads the parameters it passes from the signature
    async def then_fail(*args, **kwargs):
        await original(*args, **kwargs)
        raise RuntimeError(message)

    setattr(handler, operation, then_fail)
    return original
