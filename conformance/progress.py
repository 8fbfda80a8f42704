"""The CLI's running commentary: one line per rule the moment its verdict is known, with a running
count; on a terminal a live line of checks run, elsewhere (CI logs) a heartbeat every 15 s.

It writes to a duplicate of the process's stdout taken before pytest starts, so pytest's own output
capture does not hold the lines back until the end."""

from __future__ import annotations

import os
import sys
import threading
import time

from .rule_plugin import Progress
from .rules import load_rules

HEARTBEAT_SECONDS = 15.0


class PrintedProgress(Progress):
    def __init__(self, stream=None):
        if stream is None:
            try:
                stream = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
            except (AttributeError, OSError, ValueError):  # no real stdout (an embedding host)
                stream = sys.stdout
        self._out = stream
        self._live = stream.isatty()
        self._rules = load_rules()
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_line = self._started
        self._checks = (0, 0)
        self._stopped = threading.Event()
        if not self._live:  # a CI log: a line when nothing else was printed for a while, even mid-check
            threading.Thread(target=self._heartbeat, name="conformance-heartbeat", daemon=True).start()

    def _heartbeat(self) -> None:
        while not self._stopped.wait(1.0):
            if time.monotonic() - self._last_line >= HEARTBEAT_SECONDS:
                done, total = self._checks
                elapsed = time.monotonic() - self._started
                self._write(f"… {done} of {total or '?'} checks run ({elapsed:.0f}s)\n")

    def _write(self, text: str) -> None:
        with self._lock:
            if self._live:
                text = "\r\033[K" + text
            self._out.write(text)
            self._out.flush()
            self._last_line = time.monotonic()

    def rule_done(self, rule_id: str, status: str, done: int, total: int) -> None:
        rule = self._rules.get(rule_id)
        level = rule.level if rule else ""
        text = " ".join(rule.rule.split())[:70] if rule else ""
        elapsed = time.monotonic() - self._started
        self._write(
            f"[{done:>{len(str(total))}}/{total}] {status.upper():4} {rule_id:7} {level:6} {text} "
            f"({elapsed:.0f}s)\n"
        )
        self._redraw()

    def check_done(self, done: int, total: int) -> None:
        self._checks = (done, total)
        if self._live:
            self._redraw()

    def _redraw(self) -> None:
        done, total = self._checks
        if self._live and total:
            with self._lock:
                self._out.write(f"\r\033[K  checks run: {done}/{total}")
                self._out.flush()

    def close(self) -> None:
        self._stopped.set()
        if self._live:
            self._write("")
        if self._out is not sys.stdout:
            self._out.close()
