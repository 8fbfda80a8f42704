"""The uploaded bytes of every API, under one storage quota (``--max-store-bytes``).

``BlobStore`` keeps the bytes in memory (the default). ``FileBlobStore`` (``--state-dir``) keeps them in
files named by an index that ``mockserver.state.durable`` loads from SQLite, and holds a request's new bytes
as
pending changes until the request's transaction commits them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mockserver.exceptions import MockError


class StoreFull(MockError):
    """Storing these bytes would exceed the configured quota; the API answers 507."""


@dataclass(frozen=True)
class Blob:
    data: bytes
    content_type: str


@dataclass
class Journal:
    prefixes: tuple[str, ...]  # the keys of these APIs
    replaced: dict[str, Blob | None] = field(default_factory=dict)  # key -> its bytes before the write


class BlobStore:
    """A dict with a byte budget.

    All mutations are synchronous, so on one event loop a check-then-store can never interleave with
    another request: concurrent uploads cannot overrun the quota or overwrite each other.
    """

    def __init__(self, max_bytes: int | None = None):
        self.max_bytes = max_bytes
        self._blobs: dict[str, Blob] = {}
        self.used_bytes = 0
        self._journals: list[Journal] = []

    def put(self, key: str, data: bytes, content_type: str) -> None:
        old = self._blobs.get(key)
        new_total = self.used_bytes - (len(old.data) if old else 0) + len(data)
        if self.max_bytes is not None and new_total > self.max_bytes:
            raise self._full(len(data))
        self._note(key)
        self._blobs[key] = Blob(data, content_type)
        self.used_bytes = new_total

    def _full(self, size: int) -> StoreFull:
        return StoreFull(
            f"the mock's storage quota of {self.max_bytes} bytes is exhausted "
            f"({self.used_bytes} bytes stored, {size} more requested); "
            "delete images, POST /__mock__/reset, or restart with a larger --max-store-bytes"
        )

    def get(self, key: str) -> Blob | None:
        return self._blobs.get(key)

    def delete(self, key: str) -> None:
        self._note(key)
        old = self._blobs.pop(key, None)
        if old is not None:
            self.used_bytes -= len(old.data)

    def clear(self) -> None:
        for key in list(self._blobs):
            self._note(key)
        self._blobs.clear()
        self.used_bytes = 0

    # -- undo for in-memory writes (mockserver.layers.atomic)
    # -----------------------------------------------------
    def start_journal(self, apis) -> Journal:
        """From now on, remember the bytes each first change of these APIs' keys replaces."""
        journal = Journal(tuple(f"{api}/" for api in apis))
        self._journals.append(journal)
        return journal

    def _note(self, key: str) -> None:
        for journal in self._journals:
            if key.startswith(journal.prefixes) and key not in journal.replaced:
                journal.replaced[key] = self._blobs.get(key)

    def end_journal(self, journal: Journal) -> None:
        self._journals.remove(journal)

    def undo_journal(self, journal: Journal) -> None:
        """Put back what the journal's changes replaced."""
        self.end_journal(journal)
        for key, old in journal.replaced.items():
            current = self._blobs.pop(key, None)
            self.used_bytes -= len(current.data) if current is not None else 0
            if old is not None:
                self._blobs[key] = old
                self.used_bytes += len(old.data)

    def __len__(self) -> int:
        return len(self._blobs)

    def items(self):
        return self._blobs.items()


@dataclass(frozen=True)
class StoredBlob:
    """Where committed bytes live: a file in the blob directory, written once and never rewritten."""

    file: str
    content_type: str
    size: int


class FileBlobStore(BlobStore):
    """Committed bytes are read from their file on each ``get`` (workers do not each hold every blob in
    memory); a request's puts and deletes wait in ``pending`` until its transaction commits or rolls back.
    """

    def __init__(self, directory: Path, max_bytes: int | None = None):
        super().__init__(max_bytes)
        self.directory = directory
        self.index: dict[str, StoredBlob] = {}
        self.committed_bytes = 0  # of the rows in the index
        self.pending: dict[str, Blob | None] = {}  # key -> new bytes, or None: deleted

    def _size(self, key: str) -> int:
        if key in self.pending:
            blob = self.pending[key]
            return len(blob.data) if blob is not None else 0
        stored = self.index.get(key)
        return stored.size if stored is not None else 0

    def put(self, key: str, data: bytes, content_type: str) -> None:
        new_total = self.used_bytes - self._size(key) + len(data)
        if self.max_bytes is not None and new_total > self.max_bytes:
            raise self._full(len(data))
        self.pending[key] = Blob(data, content_type)
        self.used_bytes = new_total

    def get(self, key: str) -> Blob | None:
        if key in self.pending:
            return self.pending[key]
        stored = self.index.get(key)
        if stored is None:
            return None
        try:
            data = (self.directory / stored.file).read_bytes()
        except FileNotFoundError:  # deleted by another worker since this one last synced
            return None
        return Blob(data, stored.content_type)

    def _exists(self, key: str) -> bool:
        return self.pending[key] is not None if key in self.pending else key in self.index

    def delete(self, key: str) -> None:
        if self._exists(key):
            self.used_bytes -= self._size(key)
            self.pending[key] = None

    def clear(self) -> None:
        self.pending = {key: None for key in (*self.index, *self.pending)}
        self.used_bytes = 0

    def keys(self) -> set[str]:
        return {key for key in (*self.index, *self.pending) if self._exists(key)}

    def __len__(self) -> int:
        return len(self.keys())

    def items(self):
        return ((key, self.get(key)) for key in sorted(self.keys()))

    # -- used by mockserver.state.durable
    # ---------------------------------------------------------------------
    def load_index(self, index: dict[str, StoredBlob]) -> None:
        """The committed index, as read from the database; pending changes are dropped."""
        self.index = index
        self.pending = {}
        self.committed_bytes = self.used_bytes = sum(s.size for s in index.values())

    def discard_pending(self) -> None:
        self.pending = {}
        self.used_bytes = self.committed_bytes

    def apply(self, written: dict[str, StoredBlob], deleted: list[str]) -> None:
        """After a commit (this process's, or rows another one committed): those changes are now part of
        the committed index; the bytes counted follow, at the cost of the changes alone."""
        index = self.index
        for key in (*deleted, *written):
            stored = index.pop(key, None)
            if stored is not None:
                self.committed_bytes -= stored.size
        index.update(written)
        self.committed_bytes += sum(s.size for s in written.values())
        self.used_bytes = self.committed_bytes
        self.pending = {}
