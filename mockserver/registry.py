"""The five APIs: where their specs live, how they are mounted, and which handler class serves them."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import yaml

_PACKAGE_DIR = Path(__file__).resolve().parent


def _data_dir(packaged: str, checkout: str) -> Path:
    """Installed wheels carry the data inside the package; a checkout keeps it at the top level."""
    inside = _PACKAGE_DIR / packaged
    return inside if inside.is_dir() else _PACKAGE_DIR.parent / checkout


SPECS_DIR = _data_dir("_specs", "specs")
FIXTURES_DIR = _data_dir("_fixtures", "fixtures")


@dataclass(frozen=True)
class ApiInfo:
    name: str
    seed_file: str
    handler: str  # "module:Class" under mockserver.apis

    @property
    def spec_path(self) -> Path:
        return SPECS_DIR / f"{self.name}.yaml"

    @property
    def spec(self) -> dict:
        return load_spec(self.spec_path)

    @property
    def server_path(self) -> str:
        """The path part of the spec's first server URL: the API's real base path (``/v1`` or ``""``)."""
        servers = self.spec.get("servers") or [{"url": "/"}]
        return urlparse(servers[0]["url"]).path.rstrip("/")

    def base_path(self, prefixed: bool) -> str:
        """Real paths when served alone; under ``/<name>`` when all five share one server."""
        return (f"/{self.name}" if prefixed else "") + self.server_path


APIS: dict[str, ApiInfo] = {
    api.name: api
    for api in (
        ApiInfo("everydaypic", "000_74cad51d9475213e.txt", "everydaypic:EverydaypicApi"),
        ApiInfo("evotor", "001_b12aa54eebf0306c.txt", "evotor:EvotorApi"),
        ApiInfo("image-upload", "002_f98acfd2a83fcdd7.txt", "image_upload:ImageUploadApi"),
        ApiInfo("sharinpix", "003_bb563f67edeea9c3.txt", "sharinpix:SharinpixApi"),
        ApiInfo("tagged-images", "004_1a024fe37aab6f83.txt", "tagged_images:TaggedImagesApi"),
    )
}


# libyaml's C parser is ~10x faster than PyYAML's pure-Python one; start-up time is mostly spec parsing.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def load_spec(path: Path) -> dict:
    """Parsed once per process; callers must not mutate it (copy first)."""
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)  # a safe loader (C or Python)


def resolve_refs(node, spec: dict):
    """A copy of ``node`` with every local ``$ref`` inlined (the specs have no recursive references)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return resolve_refs(target, spec)
        return {k: resolve_refs(v, spec) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve_refs(v, spec) for v in node]
    return node
