"""Where the tests find the source documents (the five seeds and the product owner's BEHAVIOURS.md).

They are other parties' texts, so the repository does not carry them: a fresh clone has everything it needs
to install, serve and test, and the few checks that compare the project with the documents themselves
(every rule's quote is in its source, every seed operation and field is in its spec, the spec's copy of
sharinpix's example request is the seed's) run only where the documents are.

``IMAGE_API_SOURCES=DIR`` names a directory holding ``seeds/`` and ``BEHAVIOURS.md``; when it is set, the
directory must be there (CI sets it, so the checks can never be skipped silently there). When it is not
set, a ``shared/`` directory beside the repository is used if it has ``seeds/``; otherwise those checks are
reported as skipped, naming the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]  # tests/support/ -> the repository
SOURCES_ENV = "IMAGE_API_SOURCES"


def _sources_dir() -> Path | None:
    named = os.environ.get(SOURCES_ENV)
    if named:
        directory = Path(named).resolve()
        if not (directory / "seeds").is_dir() or not (directory / "BEHAVIOURS.md").is_file():
            raise pytest.UsageError(
                f"{SOURCES_ENV}={named}: that directory must hold seeds/ and BEHAVIOURS.md"
            )
        return directory
    beside = ROOT.parent / "shared"
    return beside if (beside / "seeds").is_dir() and (beside / "BEHAVIOURS.md").is_file() else None


SOURCES_DIR = _sources_dir()
SEEDS_DIR = SOURCES_DIR / "seeds" if SOURCES_DIR else None
BEHAVIOURS = SOURCES_DIR / "BEHAVIOURS.md" if SOURCES_DIR else None

ABSENT = (
    f"not run: the source documents are absent (set {SOURCES_ENV}=DIR, DIR holding seeds/ and BEHAVIOURS.md)"
)
needs_sources = pytest.mark.skipif(SOURCES_DIR is None, reason=ABSENT)


def report_line() -> str:
    """The line the test session's header shows, so a run says whether the source checks ran."""
    if SOURCES_DIR is None:
        return f"source documents: absent; the checks against them are skipped ({SOURCES_ENV} names them)"
    return f"source documents: {SOURCES_DIR} ({len(list(SEEDS_DIR.glob('*.txt')))} seeds)"
