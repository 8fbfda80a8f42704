"""What CI proves of the packaging: the built wheel, installed in a fresh venv, gives another project the
pytest plugin, and examples/client-project's own ``pytest`` passes with it (from a copy of the example,
so nothing of this checkout is importable)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

from support.source_documents import ROOT

EXAMPLE = ROOT / "examples" / "client-project"


def _run(args, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    print(f"{time.perf_counter() - started:6.1f}s  {' '.join(map(str, args[:4]))} …")
    assert done.returncode == 0, f"{args}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


def test_the_example_project_passes_with_the_installed_wheel(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTEST_ADDOPTS")}
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", ROOT]
    _run(pip_wheel, 300, env=env)
    (wheel,) = (tmp_path / "dist").glob("image_api_contracts-*.whl")
    _run([sys.executable, "-m", "venv", tmp_path / "venv"], 120, env=env)
    python = tmp_path / "venv" / "bin" / "python"
    _run([python, "-m", "pip", "install", "-q", wheel], 600, env=env)  # dependencies from the index
    project = tmp_path / "client-project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "build"))
    _run([python, "-m", "pip", "install", "-q", "--no-deps", project], 300, env=env)

    done = _run([python, "-m", "pytest", "-v", "-p", "no:cacheprovider"], 900, cwd=project, env=env)
    out = done.stdout
    for name in (
        "test_upload_list_download_delete",
        "test_a_full_store_is_reported_with_the_servers_message",
        "test_a_slow_server_times_out_instead_of_hanging",
        "test_every_exchange_honours_the_contract",
    ):
        assert f"tests/test_gallery.py::{name} PASSED" in out, out[-3000:]
    assert "tagged_images/records.py::check_tim06_" in out and "[TIM-06" in out, out[-3000:]  # checks by rule
    assert "PASSED: 19 passed, 0 failed" in out, out[-3000:]  # the verdict per rule (TIM-01..13, ALL-01..06)
    # The plugin and the library came from the wheel, not from this checkout.
    where = _run([python, "-c", "import conformance; print(conformance.__file__)"], 60, cwd=project, env=env)
    assert str(tmp_path / "venv") in where.stdout
