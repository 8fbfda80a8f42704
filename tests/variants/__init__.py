"""Legal variants of the mock: each decides otherwise where a seed is silent, as another team's faithful
server might. The conformance suite must let every one of them pass in default mode (no FAIL), and with
--strict must fail exactly the rule whose SHOULD part reads that decision: proof that the variant really
differs and that a check reads the decision, at SHOULD and not at MUST.

The counterpart of ``tests/mutants/`` (broken variants), after mutation testing's *equivalent mutants*:
changes that alter no specified behaviour, which no MUST check may kill. ``apply`` changes a freshly built
MockServer exactly as a mutant's does."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    id: str
    api: str
    rule: str  # the rule whose SHOULD part (or SHOULD rule) reads the decision
    decides: str  # which x-decision it decides otherwise, and how
    description: str
    apply: Callable  # (MockServer) -> None

    def __str__(self) -> str:
        return self.id


def all_variants() -> list[Variant]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        found += importlib.import_module(f"{__name__}.{info.name}").VARIANTS
    return found
