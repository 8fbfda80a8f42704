"""Debian's Chromium driven by Playwright, as every browser test here runs it (no browser download works
in CI: ``.ci/run`` installs the ``chromium`` package), and a quiet static server for the pages they load."""

from __future__ import annotations

import contextlib
import os
import shutil
from http.server import SimpleHTTPRequestHandler

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HOSTILE_HOST = "evil.test"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    f"--host-resolver-rules=MAP {HOSTILE_HOST} 127.0.0.1",  # a hostile site, served from this machine
]
PAGE_TIMEOUT_MS = 60_000


def playwright_or_skip():
    """Playwright's ``sync_playwright``; without Playwright or Debian's Chromium the test is skipped, except
    in CI (``CI`` set), where ``.ci/run`` installs both and a skip would hide a broken set-up."""
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "Playwright is not installed (pip install -e '.[dev]')"
    if reason is None and not os.access(CHROMIUM, os.X_OK):
        reason = "Debian's chromium is not installed (apt-get install -y chromium)"
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: .ci/run installs it, so CI must not skip the browser test", pytrace=False)
        pytest.skip(reason)
    return sync_playwright


@contextlib.contextmanager
def chromium(profile_dir, **options):
    """Debian's Chromium, headless, on the fresh profile ``profile_dir`` (Playwright takes
    ``--user-data-dir`` only through a persistent context): the context, closed afterwards. ``options``
    go to the context (a viewport, say)."""
    sync_playwright = playwright_or_skip()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, **options
        )
        try:
            yield context
        finally:
            context.close()


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves a directory, silently: the test's output is the browser's, not the page server's."""

    def log_message(self, format, *args):  # the test's output is the browser's, not the page server's
        pass
