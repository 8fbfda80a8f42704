"""``%`` wildcards (tagged-images' ``match_tags``) matched in linear time, so no pattern can stall the server.

The obvious regex, ``.*`` for each ``%``, backtracks: ``%a%a%a%a%a%b`` over a tag of 100 ``a`` took 25 s
each further ``%a`` costing x13. Matching a ``%``-only pattern needs no backtracking: each
middle literal may be taken at its leftmost occurrence after the previous one (a later one never leaves
more room for what follows), so each is an atomic group ``(?>.*?literal)`` that, once matched, is never
retried. Only the last literal is placed at the end of the name. The cost is O(len(name) x len(pattern)).
Case-insensitivity is ``re.IGNORECASE``'s, as before.
"""

from __future__ import annotations

import re

FLAGS = re.IGNORECASE | re.DOTALL


def like_pattern(pattern: str) -> re.Pattern:
    """A compiled regex whose ``fullmatch`` is the ``%`` pattern's match: ``%`` any run of characters
    (none included), everything else literal, any case."""
    parts = [re.escape(part) for part in pattern.split("%")]
    if len(parts) == 1:
        return re.compile(parts[0], FLAGS)
    middle = "".join(f"(?>.*?{part})" for part in parts[1:-1] if part)
    return re.compile(f"{parts[0]}{middle}.*{parts[-1]}", FLAGS)
