"""Seed data: ``<dir>/seed/<api>.json`` entries whose images live in ``<dir>/images/``."""

from __future__ import annotations

import json
from pathlib import Path

from mockserver.exceptions import MockError


class SeedError(MockError, ValueError):
    """A seed file that cannot be loaded as it stands; the message says which and why."""


def seed_image(images_dir: Path, name) -> bytes:
    """The bytes of a seed entry's image, which must be a file inside ``images_dir`` (no ``..``, no
    absolute path, no symbolic link out of it)."""
    try:
        return _contained(images_dir, name).read_bytes()
    except OSError as exc:
        raise SeedError(f"the seed image {name!r} cannot be read: {exc.strerror}") from None


def load_seed_data(ctx, directory: Path) -> dict[str, int]:
    """Every seed file is read and every image it names checked before any is loaded: a bad one loads
    nothing (``SeedError``)."""
    directory = Path(directory)
    seeds = {}
    for name in ctx.apis:
        seed_file = directory / "seed" / f"{name}.json"
        if seed_file.is_file():
            try:
                seeds[name] = json.loads(seed_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise SeedError(f"{seed_file} is not a readable JSON file: {exc}") from None
            for image in _images_named(seeds[name]):
                if not (_contained(directory / "images", image)).is_file():
                    raise SeedError(
                        f"{seed_file} names the image {image!r}, which is not in {directory / 'images'}"
                    )
    return {name: ctx.apis[name].seed(entries, directory / "images") for name, entries in seeds.items()}


def _contained(images_dir: Path, name) -> Path:
    root = Path(images_dir).resolve()
    if not isinstance(name, str) or not name:
        raise SeedError(f"a seed entry's image must be a file name in {root}, not {name!r}")
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise SeedError(f"the seed image {name!r} is outside the fixtures' images directory {root}")
    return path


def _images_named(value):
    """The ``image`` values anywhere in a seed file."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "image" in node:
                yield node["image"]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
