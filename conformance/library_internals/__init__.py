"""The one door to the internals of the libraries the suite runs on: pytest, Schemathesis, Hypothesis.

Every use of a private name (``session._fixturemanager``, ``item._id``), of a module Schemathesis does not
document (``schemathesis.core.failures``, ``schemathesis.specs.openapi.expressions`` ...) or of
``hypothesis.internal`` lives in this package, and nowhere else in ``conformance`` (``tests/`` checks it).
Such names change without notice between minor releases, so importing this package checks that the
installed versions are ones the door was tested with, and refuses to go on otherwise, naming them and what
to do: an unchecked upgrade would otherwise fail deep inside a run, or silently judge differently.

The pins in ``pyproject.toml`` are exactly these ranges. To support a new release: install it, run the
suite's own tests (``tests/``, the power proofs included), and widen both the range here and the pin.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ..errors import UnsupportedLibraryVersion

# distribution -> (lowest tested, first untested) as (major, minor); the pins in pyproject.toml match.
TESTED = {
    "pytest": ((9, 2), (9, 3)),
    "schemathesis": ((4, 32), (4, 33)),
    # Only one module constant is touched (guarded by hasattr: without it, shrinking is merely slower).
    "hypothesis": ((6, 170), (7, 0)),
}


def _major_minor(text: str) -> tuple[int, int]:
    parts = [*text.split("."), "0", "0"][:2]
    return tuple(int("".join(c for c in part if c.isdigit()) or 0) for part in parts)


def check_versions(tested: dict = TESTED) -> None:
    """Raise ``UnsupportedLibraryVersion`` naming every library outside its tested range."""
    problems = []
    for name, (low, high) in tested.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            problems.append(f"{name} is not installed")
            continue
        if not low <= _major_minor(installed) < high:
            wanted = f">={low[0]}.{low[1]},<{high[0]}.{high[1]}"
            problems.append(f"{name} {installed} is installed; the suite was tested with {name}{wanted}")
    if problems:
        raise UnsupportedLibraryVersion(
            "conformance reaches into library internals that change between releases, and "
            + "; ".join(problems)
            + ". Install the versions image-api-contracts pins (pip install image-api-contracts, "
            "without --no-deps), or see conformance/library_internals/__init__.py to support a new one."
        )


check_versions()
