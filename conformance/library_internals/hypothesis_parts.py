"""What the suite needs of Hypothesis beyond its public API."""

from __future__ import annotations


def bound_shrinking(seconds: float) -> None:
    """Hypothesis shrinks a failure for up to 300 s, replaying HTTP requests each time; a CI run wants
    the minimal failing request soon, so the suite caps it. The cap is a module constant of Hypothesis 6's
    engine, with no setting for it; where it is gone, shrinking keeps Hypothesis' own limit."""
    from hypothesis.internal.conjecture import engine

    if hasattr(engine, "MAX_SHRINKING_SECONDS"):
        engine.MAX_SHRINKING_SECONDS = seconds
