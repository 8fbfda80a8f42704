"""A built wheel, not only the checkout, carries the specs, fixtures and rule catalogue."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile

from support.source_documents import ROOT


def test_wheel_ships_specs_fixtures_and_rules(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = tmp_path.glob("image_api_contracts-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for api in ("everydaypic", "evotor", "image-upload", "sharinpix", "tagged-images"):
        assert f"image_api_contracts/_specs/{api}.yaml" in names
        assert f"image_api_contracts/_fixtures/seed/{api}.json" in names
    assert "image_api_contracts/_fixtures/images/evotor-product-300.png" in names
    for catalogue in ("all", "everydaypic", "evotor", "image-upload", "sharinpix", "tagged-images"):
        assert f"conformance/rules/{catalogue}.yaml" in names
    for asset in ("index.html", "dashboard.css", "dashboard.js", "favicon.svg"):  # the dashboard, offline
        assert f"mockserver/dashboard/static/{asset}" in names
    assert "conformance/checks/pytest.ini" in names
    for package in ("evotor", "sharinpix", "tagged_images"):  # the checks of each large API, a package
        assert f"conformance/checks/{package}/common.py" in names
    assert "conformance/library_internals/__init__.py" in names
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[pytest11]\nimage_api_contracts = conformance.installed_plugin" in text, text


def test_every_package_of_the_source_is_listed_for_the_wheel():
    """pyproject lists the packages one by one (specs and fixtures are mapped into one of them), so a new
    subpackage left out would be missing from an install while the checkout works."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("image_api_contracts", "mockserver", "conformance")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found - listed == set()
