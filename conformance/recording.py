"""An httpx client that remembers its exchanges, so a failing check can be replayed as a curl command."""

from __future__ import annotations

import hashlib
import re
import shlex
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from .images import note_exchange

SECRET_HEADERS = {"authorization", "x-authorization"}
_NOT_REPLAYED = {"host", "content-length", "accept-encoding", "connection", "user-agent", "accept"}
INLINE_BODY_LIMIT = 2000


def _printable(body: bytes) -> str | None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    ok = all(c.isprintable() or c in "\r\n\t" for c in text)
    return text if ok and len(text) <= INLINE_BODY_LIMIT else None


def _body_of(request) -> bytes:
    """The bytes sent: an ``httpx.Request``'s content, or a ``requests.PreparedRequest``'s body."""
    if isinstance(request, httpx.Request):
        try:
            return request.content
        except httpx.RequestNotRead:
            return request.read()
    body = getattr(request, "body", None) or b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def _masked(name: str, value: str) -> str:
    """The credential replaced by ``$TOKEN``, its scheme and wrapping kept: ``Bearer $TOKEN``,
    ``Token token="$TOKEN"`` (sharinpix), ``$TOKEN`` for a bare header value."""
    if name.lower() == "x-authorization":
        return "$TOKEN"
    wrapped = re.match(r'^(\S+\s+token=)"?[^"\s]*"?$', value, re.IGNORECASE)
    if wrapped:
        return f'{wrapped.group(1)}"$TOKEN"'
    return value.split(" ")[0] + " $TOKEN"


def _expanding_token(text: str) -> str:
    """``text`` quoted for a POSIX shell with its ``$TOKEN`` left to expand (shlex.quote's single quotes
    would send the six characters ``$TOKEN``): everything else escaped inside double quotes."""
    head, _, tail = text.partition("$TOKEN")

    def escaped(part: str) -> str:
        return "".join("\\" + c if c in '\\"$`' else c for c in part)

    return f'"{escaped(head)}$TOKEN{escaped(tail)}"'


class _Quoted(str):
    """A command-line word already quoted for the shell (shlex.join would quote it again)."""


def as_curl(request, mask_secrets: bool = True, body_dir: str | Path | None = None) -> str:
    """The request (httpx or requests) exactly as it was sent, pasted into a shell with ``TOKEN`` set to
    the credential. A body that cannot be inlined is written to ``body_dir`` (named by its SHA-256) and
    sent with ``--data-binary @file``."""
    parts = ["curl", "-X", request.method]
    for name, value in request.headers.items():
        if name.lower() in _NOT_REPLAYED:
            continue
        if mask_secrets and name.lower() in SECRET_HEADERS:
            parts += ["-H", _Quoted(_expanding_token(f"{name}: {_masked(name, value)}"))]
            continue
        parts += ["-H", f"{name}: {value}"]
    body = _body_of(request)
    if body:
        text = _printable(body)
        if text is not None:
            parts += ["--data-raw", text]
        else:
            name = f"body-{hashlib.sha256(body).hexdigest()[:16]}.bin"
            if body_dir is not None:
                path = Path(body_dir)
                path.mkdir(parents=True, exist_ok=True)
                (path / name).write_bytes(body)
                name = str(path / name)
            parts += ["--data-binary", f"@{name}"]
    parts.append(str(request.url))
    return " ".join(part if isinstance(part, _Quoted) else shlex.quote(part) for part in parts)


MIN_TOKEN_CHARS = 8  # a small integer id names many things (an image, a tag); a UUID or a file name one
MAX_TOKENS = 20_000
MAX_LEARNED_BODY = 8 * 2**20


class RecordFiles:
    """The file URLs each record was seen with, by the values that name it (an id, a file name): a DELETE of
    ``/images/<id>`` or of ``/DeleteImage?FileName=<name>`` removes the record's file URLs too, which lie
    under no path of the record's. Learnt from the JSON objects of the successful responses the checks'
    clients receive; bounded (the oldest values are forgotten)."""

    def __init__(self):
        self._by_token: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def learn(self, response: httpx.Response) -> None:
        if not response.is_success or "json" not in response.headers.get("content-type", ""):
            return
        if len(response.content) > MAX_LEARNED_BODY:
            return
        try:
            data = response.json()
        except ValueError:
            return
        learnt: dict[str, set[str]] = {}
        pending = [data]
        while pending:
            value = pending.pop()
            if isinstance(value, list):
                pending.extend(value)
            elif isinstance(value, dict):
                pending.extend(v for v in value.values() if isinstance(v, (dict, list)))
                files = {urlsplit(v).path for v in value.values() if isinstance(v, str) and _is_url(v)}
                files.discard("")
                if files:
                    for token in _naming_values(value):
                        learnt.setdefault(token, set()).update(files)
        if not learnt:
            return
        with self._lock:
            for token, files in learnt.items():
                self._by_token[token] = self._by_token.pop(token, frozenset()) | files
            while len(self._by_token) > MAX_TOKENS:
                del self._by_token[next(iter(self._by_token))]

    def files_of(self, request: httpx.Request) -> frozenset[str]:
        """The file URLs (paths) of the records ``request`` names by its last segment or a query value."""
        tokens = [unquote(request.url.path.rstrip("/").rsplit("/", 1)[-1])]
        tokens += [value for _, value in request.url.params.multi_items()]
        with self._lock:
            return frozenset().union(*(self._by_token.get(t, frozenset()) for t in tokens))

    def clear(self) -> None:
        with self._lock:
            self._by_token.clear()


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def _naming_values(record: dict) -> list[str]:
    """The values of a record that could name it in a request: strings and integers long enough to be one."""
    values = []
    for value in record.values():
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            continue
        text = str(value)
        if len(text) >= MIN_TOKEN_CHARS and not _is_url(text):
            values.append(text)
    return values


RECORD_FILES = RecordFiles()


class Removals:
    """The successful DELETEs the checks' clients sent, in order, each as its path and the file URLs of the
    record it removed: a finding's curl that replays against one of them meets data the suite itself
    removed. One run's (the plugin clears it as a session starts); ``len()`` marks a moment,
    ``since(mark)`` what was removed after it."""

    def __init__(self):
        self._removed: list[tuple[str, frozenset[str]]] = []
        self._lock = threading.Lock()

    def note(self, path: str, files: frozenset[str] = frozenset()) -> None:
        with self._lock:
            self._removed.append((path.rstrip("/"), files))

    def clear(self) -> None:
        with self._lock:
            self._removed.clear()

    def __len__(self) -> int:
        return len(self._removed)

    def since(self, mark: int) -> list[tuple[str, frozenset[str]]]:
        with self._lock:
            return self._removed[mark:]


REMOVALS = Removals()


def removed_among(path: str, removed: list[tuple[str, frozenset[str]]]) -> str | None:
    """The first removal that took ``path``: the removed path itself, one it lies under (a record's
    sub-resource under the record), or a file URL of the removed record."""
    path = path.rstrip("/")
    for gone, files in removed:
        if path == gone or path.startswith(gone + "/") or path in files:
            return gone
    return None


class RecordingClient(httpx.Client):
    """``exchanges`` holds the (request, response) pairs since the last ``forget()``."""

    def __init__(self, on_redirect=None, on_response=None, **kwargs):
        """``on_redirect(response)``: called for each 3xx a GET or HEAD gets, which is then followed (at
        most 5 hops), so a check judges what is at its end; without it, redirects are returned as they are.
        ``on_response(response)``: called for every response received (the checks judge each against the
        seed's schema: ``conformance.response_schema``)."""
        super().__init__(**kwargs)
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []
        self.on_redirect = on_redirect
        self.on_response = on_response

    def _exchange(self, request, **kwargs):
        body = request.read()  # multipart bodies stream; keep the bytes for the curl replay
        response = super().send(request, **kwargs)
        response.read()
        note_exchange(request, response, body)  # images sent and served, for the reports' image pairs
        self.exchanges.append((request, response))
        del self.exchanges[:-50]
        if request.method == "DELETE" and response.is_success:
            REMOVALS.note(request.url.path, RECORD_FILES.files_of(request))
        else:
            RECORD_FILES.learn(response)
        if self.on_response is not None:
            self.on_response(response)
        return response

    def send(self, request, **kwargs):
        response = self._exchange(request, **kwargs)
        for _ in range(5):
            if self.on_redirect is None or request.method not in ("GET", "HEAD"):
                break
            if response.next_request is None:
                break
            self.on_redirect(response)
            request = response.next_request
            response = self._exchange(request, **kwargs)
        return response

    def forget(self) -> None:
        self.exchanges.clear()
