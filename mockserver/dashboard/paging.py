"""Pages of the request journal: ``GET /__mock__/requests?limit=50`` answers the newest 50 matching
entries and a ``next_cursor``; ``&cursor=<it>`` answers the 50 before those, until ``next_cursor`` is null.

Only as many entries are rendered and filtered as the page needs (plus one, to know whether more are
left). A page is in journal order (oldest first), like the unpaged answer.
"""

from __future__ import annotations

from itertools import islice

MAX_PAGE = 1000  # the journal's default size: one page can hold all of it


class BadPage(ValueError):
    pass


def page_request(params: dict[str, str]) -> tuple[int | None, int | None]:
    """``limit`` and ``cursor`` taken out of the query's filters: ``(None, None)`` for the unpaged answer."""
    limit, cursor = params.pop("limit", None), params.pop("cursor", None)
    if limit is None and cursor is None:
        return None, None
    if limit is None:
        limit_value = MAX_PAGE
    elif limit.isdigit() and 1 <= int(limit) <= MAX_PAGE:
        limit_value = int(limit)
    else:
        raise BadPage(f"limit must be a whole number from 1 to {MAX_PAGE}, not {limit!r}")
    if cursor is not None and not (cursor.isdigit() and int(cursor) > 0):
        raise BadPage(f"cursor must be the next_cursor of an earlier page, not {cursor!r}")
    return limit_value, int(cursor) if cursor is not None else None


def journal_page(journal, keep, limit: int, cursor: int | None) -> tuple[list[dict], str | None]:
    """The ``limit`` newest entries ``keep`` accepts, older than ``cursor``; and the cursor of the page
    before them (None when there is none)."""
    matching = (entry for entry in journal.newest_first(cursor) if keep(entry))
    newest = list(islice(matching, limit + 1))
    more = len(newest) > limit
    page = newest[:limit]
    page.reverse()
    return page, str(page[0]["id"]) if more and page else None
