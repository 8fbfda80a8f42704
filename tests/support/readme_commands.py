"""The README's ``sh`` blocks, read as the test suite runs them, and the mock servers they start.

A block is one of three kinds:

- marked with ``<!-- exercised-by: tests/test_x.py::test_y key: TEXT -->`` on the line just above it: a
  long-running command that another test covers (the test must exist and its file must contain TEXT);
- a server block, one ``mockserver …`` line: started in the background on the port ``$PORT`` names;
- any other block: run for real with ``bash`` (``set -euo pipefail``) against the latest server block
  above it. A ``text`` block right after it is an excerpt of what it prints (``…`` stands for anything;
  whitespace is ignored).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

_BLOCK = re.compile(
    r"(?:<!--\s*exercised-by:\s*(?P<test>\S+?)(?:\s+key:\s*(?P<key>.*?))?\s*-->[ \t]*\n)?"
    r"```sh\n(?P<body>.*?)```"
    r"(?:\s*?\n```text\n(?P<output>.*?)```)?",
    re.S,
)
_LANG_BLOCK = r"```{lang}\n(.*?)```"

# The tools a README command may use: the project's console scripts (next to this interpreter) first.
VENV_BIN = str(Path(sys.executable).parent)


@dataclass(frozen=True)
class ShBlock:
    line: int  # the README line of the opening fence
    text: str
    exercised_by: str | None = None  # "tests/test_x.py::test_y"
    key: str | None = None
    output: str | None = None

    @property
    def id(self) -> str:
        return f"L{self.line}"

    @property
    def command(self) -> str:
        """The block without comments and blank lines (comments: `#` after a space, outside quotes enough)."""
        lines = (re.sub(r"(^|\s+)#\s.*$", "", line).rstrip() for line in self.text.splitlines())
        return "\n".join(line for line in lines if line)

    @property
    def starts_server(self) -> bool:
        return self.exercised_by is None and re.fullmatch(r"mockserver( .*)?", self.command) is not None


def sh_blocks(readme: str) -> list[ShBlock]:
    return [
        ShBlock(
            line=readme.count("\n", 0, m.start()) + 1 + (1 if m.group("test") else 0),
            text=m.group("body"),
            exercised_by=m.group("test"),
            key=m.group("key"),
            output=m.group("output"),
        )
        for m in _BLOCK.finditer(readme)
    ]


def code_blocks(readme: str, lang: str) -> list[str]:
    return re.findall(_LANG_BLOCK.format(lang=re.escape(lang)), readme, re.S)


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def missing_from_output(excerpt: str, stdout: str) -> list[str]:
    """The excerpt's lines not found in ``stdout``, in order; ``…`` stands for anything.

    Whitespace is ignored, so that compact and spaced JSON (and a body with or without its final newline)
    read the same: the README shows what a user sees, not the serializer's exact bytes.
    """
    printed, position, missing = _squeezed(stdout), 0, []
    for line in excerpt.splitlines():
        if not line.strip():
            continue
        pattern = re.compile(".*?".join(re.escape(part) for part in _squeezed(line).split("…")))
        found = pattern.search(printed, position)
        if found is None:
            missing.append(line)
        else:
            position = found.end()
    return missing


def command_env(port: int) -> dict[str, str]:
    return {**os.environ, "PORT": str(port), "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}


def run_block(block: ShBlock, cwd: Path, port: int, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + block.text],
        cwd=cwd,
        env=command_env(port),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BackgroundServer:
    """A server command run exactly as written, in the background, on a free ``$PORT``."""

    def __init__(self, command: str, cwd: Path, log: Path, port: int | None = None):
        self.command = command
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                ["bash", "-c", "set -euo pipefail\nexec " + command],
                cwd=cwd,
                env=command_env(self.port),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"`{command}` did not serve {self.url}/:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        try:
            return httpx.get(self.url + "/", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
