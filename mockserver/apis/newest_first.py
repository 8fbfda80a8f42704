"""tagged-images' date index: image keys in creation order, read newest first a page at a time."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right

from mockserver.state.undo import UndoLog

Key = tuple[int, int]  # (created_timestamp, id): ascending = oldest first


class NewestFirst:
    """Image keys sorted by (created_timestamp, id); pages are read from the end.

    Each change notes its inverse in the API's undo log (a failed write is undone key by key)."""

    def __init__(self, undo: UndoLog | None = None):
        self.keys: list[Key] = []
        self.ids: set[int] = set()  # the same images, for set algebra in searches
        self.undo = undo or UndoLog()

    def add(self, key: Key) -> None:
        i = bisect_left(self.keys, key)
        if i < len(self.keys) and self.keys[i] == key:
            return
        self.keys.insert(i, key)
        self.ids.add(key[1])
        self.undo.note(self.remove, key)

    def remove(self, key: Key) -> None:
        i = bisect_left(self.keys, key)
        if i < len(self.keys) and self.keys[i] == key:
            del self.keys[i]
            self.ids.discard(key[1])
            self.undo.note(self.add, key)

    def __len__(self) -> int:
        return len(self.keys)

    def bounds(self, start: int | None, end: int | None) -> tuple[int, int]:
        """Index range of the keys created in [start, end], both inclusive."""
        lo = 0 if start is None else bisect_left(self.keys, (start, -math.inf))
        hi = len(self.keys) if end is None else bisect_right(self.keys, (end, math.inf))
        return lo, max(lo, hi)

    def page(self, start, end, page: int, limit: int) -> tuple[list[int], int]:
        """Ids of one page, newest first, and the number of keys in the range."""
        lo, hi = self.bounds(start, end)
        top = hi - page * limit
        bottom = max(lo, top - limit)
        ids = [key[1] for key in reversed(self.keys[bottom:top])] if top > lo else []
        return ids, hi - lo

    def page_of(self, members: set[int], start, end, page: int, limit: int) -> tuple[list[int], int]:
        """Like :meth:`page`, for the keys whose id is in ``members`` (a subset of :attr:`ids`).

        Without a date range the count is ``len(members)`` and the walk stops at the page's last id.
        """
        first, stop = page * limit, (page + 1) * limit
        whole = start is None and end is None
        ids, seen = [], 0
        for image_id in self.newest_first(start, end):
            if image_id in members:
                if first <= seen < stop:
                    ids.append(image_id)
                seen += 1
                if whole and seen >= stop:
                    break
        return ids, len(members) if whole else seen

    def newest_first(self, start, end):
        lo, hi = self.bounds(start, end)
        for i in range(hi - 1, lo - 1, -1):
            yield self.keys[i][1]
