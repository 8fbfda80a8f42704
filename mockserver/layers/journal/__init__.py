"""The request journal behind ``GET /__mock__/requests``: what the mock received, and what the contract said.

Credentials are never kept: the values of headers, query fields and JSON/form body fields whose names look
like one (``CREDENTIAL_NAME``: token, key, secret, signature, password, session, auth, cookie, CSRF) read
``[redacted]`` (``Bearer [redacted]`` for an Authorization scheme).

A frontend's end-to-end test asks the mock what the page sent ("exactly one 300x300 PNG, with the token";
"never a DELETE"). Each entry holds the request (credentials redacted), a summary of its body (media type,
size, SHA-256, and the parsed fields of JSON and form bodies), the response's status and media type, and
the contract verdict that ``mockserver.layers.verdict`` took from Connexion's own security and request
validation.

The store keeps the last ``--journal-size`` entries (0: no journal). In memory by default; under
``--state-dir`` in ``<dir>/journal.sqlite3``, which every ``--workers`` process appends to and reads, with
``synchronous=OFF``: the journal is a diagnostic, so it must not cost an fsync per request.
"""

from __future__ import annotations

from mockserver.layers.journal.entries import Exchange, RequestEntry
from mockserver.layers.journal.middleware import JournalMiddleware
from mockserver.layers.journal.store import (
    REDACTED,
    BadFilter,
    MemoryJournal,
    SqliteJournal,
    is_credential,
    matcher,
    open_journal,
)

__all__ = [
    "REDACTED",
    "BadFilter",
    "Exchange",
    "JournalMiddleware",
    "MemoryJournal",
    "RequestEntry",
    "SqliteJournal",
    "is_credential",
    "matcher",
    "open_journal",
]
