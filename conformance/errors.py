"""The suite's own errors, under one root, so a caller can catch "anything the suite refused" at once.

    ConformanceError
    ├── UsageError (ValueError)               bad options or values: the CLI exits 2
    ├── TargetUnreachable (RuntimeError)      the preflight found no API at the base URL: exit 3
    ├── SuiteCouldNotRun (RuntimeError)       pytest could not run the checks, or a worker stopped: exit 4
    ├── UnsupportedLibraryVersion (ImportError)
    │                                         pytest, Schemathesis or Hypothesis at a version the suite's
    │                                         door to their internals was not tested with
    └── SpecViolation (AssertionError)        a request or response its API's spec does not allow

Each also derives from the built-in it always was, so ``except ValueError`` and the like keep working.

Outside the tree on purpose: ``conformance.findings.NotExercised`` (and ``conformance.readonly``'s
``UnsafeRequestRefused`` under it) is a pytest skip outcome, not an error: a check that could not reach its
rule. Deriving it from ``Exception`` would let code that catches ``Exception`` swallow it.
"""

from __future__ import annotations


class ConformanceError(Exception):
    """The root of the suite's errors."""


class UsageError(ConformanceError, ValueError):
    """Bad options: the CLI exits 2."""


class TargetUnreachable(ConformanceError, RuntimeError):
    """The target did not answer the preflight as an API would: the CLI exits 3 with this one line."""

    refused = False  # the connection was refused (worth waiting for: a server still starting)


class SuiteCouldNotRun(ConformanceError, RuntimeError):
    """The checks could not run (pytest's internal or usage error, a worker process that stopped): exit 4."""


class UnsupportedLibraryVersion(ConformanceError, ImportError):
    """An installed library is at a version the suite was not tested with (see conformance.library_door)."""


class SpecViolation(ConformanceError, AssertionError):
    """A request or response that its API's spec does not allow."""
