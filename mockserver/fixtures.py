"""Seed data: ``<dir>/seed/<api>.json`` entries whose images live in ``<dir>/images/``."""

from __future__ import annotations

import json
from pathlib import Path


def load_seed_data(ctx, directory: Path) -> dict[str, int]:
    directory = Path(directory)
    counts = {}
    for name, api in ctx.apis.items():
        seed_file = directory / "seed" / f"{name}.json"
        if seed_file.is_file():
            entries = json.loads(seed_file.read_text(encoding="utf-8"))
            counts[name] = api.seed(entries, directory / "images")
    return counts
