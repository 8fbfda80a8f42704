"""Inline host projects for the pytest plugin's tests, each run in a fresh process as a real host's is."""

from __future__ import annotations

import pytest

# The host projects here are strict on purpose: the plugin must work under a demanding host's ini.
STRICT_HOST_INI = """
[pytest]
filterwarnings = error
addopts = --strict-markers -p no:cacheprovider
"""


class Host:
    """An inline project whose pytest runs in a fresh process, as a real host's does (in-process, the
    outer session's imports of our packages would leak in and trip the host's assertion rewriting)."""

    def __init__(self, pytester):
        self.pytester = pytester
        self.makeini, self.makepyfile = pytester.makeini, pytester.makepyfile

    def runpytest(self, *args) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess(*args, timeout=600)
