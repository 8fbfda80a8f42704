"""Deliberately broken variants of the mock: each is one realistic defect the conformance suite must
catch, on the rule named here. ``apply`` breaks a freshly built MockServer (``server.ctx.apis[name]`` is
the API's handler object; replacing one of its methods takes effect at once)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    id: str
    api: str
    rule: str  # the rule whose check must fail
    description: str
    apply: Callable  # (MockServer) -> None

    def __str__(self) -> str:
        return self.id


def all_mutants() -> list[Mutant]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        found += importlib.import_module(f"{__name__}.{info.name}").MUTANTS
    return found
