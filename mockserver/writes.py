"""Which APIs' records a request may change: the one answer the reply cache (whose replies it makes stale),
the atomic layer (what it must be able to undo) and the durable store (what it must commit) share.

A safe method changes nothing. A file URL (``/__mock__/files/<api>/...``) and the dashboard's delete
(``/__mock__/ui/api/records/<api>/...``) change their one API; any other control route (reset, fixtures,
behaviour, and any added later) is taken to change every API, which is never wrong, only cautious; a
request to an API changes that API.
"""

from __future__ import annotations

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FILES_PREFIX = "/__mock__/files/"
DASHBOARD_RECORDS_PREFIX = "/__mock__/ui/api/records/"


def apis_written_by(ctx, scope) -> tuple[str, ...]:
    """The names of the APIs whose records this request may change (none for a read)."""
    if scope["method"] not in UNSAFE_METHODS:
        return ()
    path = scope["path"]
    for prefix in (FILES_PREFIX, DASHBOARD_RECORDS_PREFIX):
        if path.startswith(prefix):
            name = path[len(prefix) :].split("/", 1)[0]
            return (name,) if name in ctx.apis else ()
    if path == "/" or path.startswith("/__mock__/"):
        return tuple(ctx.apis)
    name = ctx.api_for_path(path)
    return (name,) if name else ()
