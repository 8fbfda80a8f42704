"""Which API a request path belongs to, from each API's mount point alone: its real base path when it is
served alone, ``/<name>`` before it when all five share one server. Kept apart from the app so that the
HTTP protocol, which answers a request head too large to reach the app, renders its refusal in the same
API's format; a plain value, so that uvicorn's workers can be given it."""

from __future__ import annotations

from dataclasses import dataclass, field

from image_api_contracts import APIS

MOCK_PREFIX = "/__mock__"


@dataclass(frozen=True)
class MountPoints:
    apis: tuple[str, ...]
    prefixed: bool
    _longest_first: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        bases = sorted(((APIS[n].base_path(self.prefixed), n) for n in self.apis), key=lambda p: -len(p[0]))
        object.__setattr__(self, "_longest_first", tuple(bases))

    def api_for_path(self, path: str) -> str | None:
        """The API whose mount point holds ``path`` (longest match first); None for the mock's own routes
        and, with every API prefixed, for a path under none of them."""
        for base, name in self._longest_first:
            if path == base or path.startswith(base + "/"):
                return name
            if base == "" and not path.startswith(MOCK_PREFIX):
                return name
        return None
