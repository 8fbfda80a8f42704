"""``--access-log`` / ``--no-access-log`` reach uvicorn (off for load tests; on by default for developers)."""

from __future__ import annotations

import logging

import pytest
import uvicorn

from mockserver import cli


@pytest.mark.parametrize(("flags", "expected"), [([], True), (["--no-access-log"], False),
                                                 (["--access-log"], True)])
def test_access_log_flag_reaches_uvicorn(monkeypatch, flags, expected):
    for name in ("connexion.validators", "connexion.decorators.parameter"):  # main() quietens them
        monkeypatch.setattr(logging.getLogger(name), "level", logging.getLogger(name).level)
    monkeypatch.setattr(logging.root, "handlers", list(logging.root.handlers))
    monkeypatch.setattr(logging.root, "level", logging.root.level)
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    assert cli.main(["--api", "evotor", "--port", "0", *flags]) == 0
    assert seen["access_log"] is expected
    assert seen["host"] == "127.0.0.1"
