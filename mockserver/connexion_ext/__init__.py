"""The one door to library internals: everything that subclasses Connexion, Starlette, python-multipart or
uvicorn classes (the libraries Connexion serves with), or reads their private attributes or parser state,
lives in this package
(tests/unit/contracts/test_architecture.py keeps it so).

These modules were written against the versions in ``TESTED``; a release outside them may rename what they
rely on, and fail in ways that look like contract breaks. So importing the door checks the installed
versions first and refuses, naming what is supported and what to do. To try other versions anyway (to
upgrade: see docs/development.md, "Upgrading Connexion"), set ``MOCKSERVER_UNTESTED_LIBRARIES=1``: the
check then warns instead.
"""

from __future__ import annotations

import os
import warnings
from importlib.metadata import PackageNotFoundError, version

from mockserver.exceptions import MockError

# distribution -> (lowest tested, first untested), compared as version tuples; pyproject.toml pins the same.
TESTED: dict[str, tuple[str, str]] = {
    "connexion": ("3.3.0", "3.4"),
    "starlette": ("1.10.0", "1.11"),
    "python-multipart": ("0.0.20", "0.1"),
    "uvicorn": ("0.55.0", "0.56"),  # its httptools protocol, subclassed by http_protocol
}
OVERRIDE = "MOCKSERVER_UNTESTED_LIBRARIES"


class UnsupportedLibraryVersion(MockError, ImportError):
    """An installed library is outside the versions the door was written and tested against."""


def _as_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        digits = "".join(c for c in piece if c.isdigit()) if piece[:1].isdigit() else ""
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def untested_versions(installed: dict[str, str | None] | None = None) -> list[str]:
    """One line per library whose installed version is outside ``TESTED`` (or missing)."""
    if installed is None:
        installed = {}
        for name in TESTED:
            try:
                installed[name] = version(name)
            except PackageNotFoundError:
                installed[name] = None
    problems = []
    for name, (lowest, first_untested) in TESTED.items():
        found = installed.get(name)
        if found is None or not (_as_tuple(lowest) <= _as_tuple(found) < _as_tuple(first_untested)):
            problems.append(f"{name} {found or '(not installed)'}: supported >={lowest},<{first_untested}")
    return problems


def check_versions() -> None:
    problems = untested_versions()
    if not problems:
        return
    message = (
        "mockserver's Connexion door (mockserver.connexion_ext) was tested with other library versions: "
        + "; ".join(problems)
        + ". Install the supported versions (pip install -e . restores the project's pins), or set "
        + f"{OVERRIDE}=1 to try these anyway."
    )
    if os.environ.get(OVERRIDE) == "1":
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return
    raise UnsupportedLibraryVersion(message)


check_versions()
