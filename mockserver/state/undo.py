"""An undo log: what one write changed, so that a failed write is undone at the cost of what it touched.

Copying an API's indexes before each write made every write cost O(records) (an evotor upload spent
568 µs of its time copying two dicts after 21,000 uploads). Here the containers a handler keeps its
records in note, while a write is being recorded, each key they change and the value it had;
:meth:`UndoLog.rollback` puts back exactly those, newest first. The durable stores (``--state-dir``,
``--store``) record their writes too: the log tells the commit which records to store
(mockserver.state.rows). Outside a recorded write (a reload of what another process wrote) a change
costs one attribute test.

A :class:`JournaledDict` keeps its insertion order through an undo: a key deleted and put back returns to
its place, not to the end (listings are in upload order), at O(n) on the undo only.
"""

from __future__ import annotations

import itertools
import typing as t

_MISSING = object()


class UndoLog:
    """The entries of the write being recorded: each an undo function and its arguments."""

    __slots__ = ("entries",)

    def __init__(self):
        self.entries: list[tuple] | None = None  # None: no write is being recorded

    @property
    def recording(self) -> bool:
        return self.entries is not None

    def start(self) -> None:
        self.entries = []

    def settle(self) -> None:
        """The write stands: forget how to undo it."""
        self.entries = None

    def note(self, undo: t.Callable, *args) -> None:
        """``undo(*args)`` puts back what the caller is about to change (nothing when not recording)."""
        if self.entries is not None:
            self.entries.append((undo, *args))

    def rollback(self) -> list[tuple]:
        """Undo the recorded write, newest change first; returns its entries (what was touched)."""
        entries, self.entries = self.entries or [], None
        reordered: dict[int, JournaledDict] = {}
        for undo, *args in reversed(entries):
            undo(*args)
            if undo is _restore_rank:  # a deleted key came back, at the end
                reordered[id(args[0])] = args[0]
        for journaled in reordered.values():
            journaled.restore_order()
        return entries

    def journaled_dict(self, items=(), ordered: bool = False) -> JournaledDict:
        return JournaledDict(self, items, ordered=ordered)


def _put_back(journaled: JournaledDict, key, old) -> None:
    if old is _MISSING:
        dict.pop(journaled, key, None)
        if journaled.ordered:
            journaled.ranks.pop(key, None)
    else:
        dict.__setitem__(journaled, key, old)


def _restore_rank(journaled: JournaledDict, key, rank) -> None:
    journaled.ranks[key] = rank


class JournaledDict(dict):
    """A dict that notes in its log the old value of each key it changes (reads are the plain dict's).

    ``ordered``: it also keeps each key's insertion rank, so that an undone deletion returns the key to its
    place (:meth:`restore_order`)."""

    __slots__ = ("_next_rank", "log", "ordered", "ranks")

    def __init__(self, log: UndoLog, items=(), ordered: bool = False):
        super().__init__(items)
        self.log = log
        self.ordered = ordered
        self._next_rank = itertools.count()
        self.ranks: dict = {key: next(self._next_rank) for key in self} if ordered else {}

    def _note(self, key) -> None:
        entries = self.log.entries
        if entries is not None:
            entries.append((_put_back, self, key, dict.get(self, key, _MISSING)))
            if self.ordered and key in self.ranks:
                entries.append((_restore_rank, self, key, self.ranks[key]))

    def __setitem__(self, key, value) -> None:
        self._note(key)
        if self.ordered and key not in self.ranks:
            self.ranks[key] = next(self._next_rank)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key) -> None:
        if key in self:
            self._note(key)
            self.ranks.pop(key, None)
        dict.__delitem__(self, key)

    def pop(self, key, *default):
        if key in self:
            self._note(key)
            self.ranks.pop(key, None)
        return dict.pop(self, key, *default)

    def popitem(self):
        key = next(reversed(self))
        return key, self.pop(key)

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def update(self, *args, **kwargs) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other):
        self.update(other)
        return self

    def clear(self) -> None:
        for key in list(self):
            del self[key]

    def restore_order(self) -> None:
        """Re-insert every key in rank order (after an undone deletion put one back at the end)."""
        ranks = self.ranks
        items = sorted(dict.items(self), key=lambda item: ranks[item[0]])
        dict.clear(self)
        dict.update(self, items)

    def __reduce__(self):  # copies and pickles are plain dicts
        return dict, (dict(self),)


def rebind(owner, name: str, old) -> None:
    """Undo of an attribute's assignment (``BaseApi.__setattr__`` notes it)."""
    if old is _MISSING:
        owner.__dict__.pop(name, None)
    else:
        object.__setattr__(owner, name, old)


def note_rebinding(log: UndoLog | None, owner, name: str) -> None:
    if log is not None and log.entries is not None:
        log.entries.append((rebind, owner, name, owner.__dict__.get(name, _MISSING)))


def touched_keys(entries: list[tuple]) -> set | None:
    """The keys an undone write changed in any journaled dict; None when it replaced a whole container
    (a reset): then anything kept about any record may be stale."""
    keys = set()
    for undo, *args in entries:
        if undo is _put_back:
            keys.add(args[1])
        elif undo is rebind and isinstance(args[2], dict | list | set):
            return None
    return keys


def touched_items(entries: list[tuple]) -> list[tuple[JournaledDict, object, object]] | None:
    """What a write changed, in the order it changed it: (journaled dict, key, value before), each key
    once, the value the first note saw; None when it replaced a whole container (a reset, a restore)."""
    if touched_keys(entries) is None:
        return None
    seen: dict[tuple[int, object], tuple] = {}
    for undo, *args in entries:
        if undo is _put_back:
            journaled, key, old = args
            seen.setdefault((id(journaled), key), (journaled, key, None if old is _MISSING else old))
    return list(seen.values())
