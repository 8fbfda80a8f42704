"""examples/github-actions/conformance.yml: valid YAML whose steps work. The install step and the steps
of the job that runs the suite against the mock are run here as written (in a fresh virtualenv, from a
copy of the repository at the checkout step's path), and the check step of the deployment matrix is run
against a mock with the token settings a runner would give it."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET

import pytest
import yaml
from support.live_server import LiveServer
from support.source_documents import ROOT

from conformance.cli import build_parser
from conformance.target import API_NAMES

WORKFLOW = ROOT / "examples" / "github-actions" / "conformance.yml"


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _expand(command: str, matrix: dict | None = None) -> str:
    """GitHub's ``${{ … }}`` expressions as the runner would fill them."""
    values = {"github.run_number": "17", **{f"matrix.{k}": v for k, v in (matrix or {}).items()}}
    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: values[m.group(1)], command)


def _step(job: dict, name_starts: str) -> dict:
    (step,) = [s for s in job["steps"] if s.get("name", "").startswith(name_starts)]
    return step


def test_the_workflow_runs_the_conformance_cli_for_every_api_and_keeps_what_a_person_needs():
    workflow = _workflow()
    assert workflow["permissions"]["checks"] == "write"  # the JUnit check run
    job = workflow["jobs"]["conformance"]
    matrix = job["strategy"]["matrix"]["include"]
    assert sorted(m["api"] for m in matrix) == sorted(API_NAMES)
    assert {m["api"] for m in matrix if "token" in m} == {"evotor", "image-upload", "sharinpix"}
    install = _step(job, "Install")["run"]
    assert "pip install ./image-api-contracts" in install and "==" not in install  # from the repository
    assert _step(job, "Fetch")["with"]["path"] == "image-api-contracts"
    script = _step(job, "Check")["run"]
    assert "--token" not in script and "CONFORMANCE_TOKEN" in job["env"]  # never on a command line
    for entry in matrix:
        command = " ".join(_expand(script, entry).split("\n", 1)[1].split("\\\n"))
        argv = shlex.split(command.replace("$BASE_URL", "https://staging.example.com"))
        args = build_parser().parse_args(argv[1:])  # exits (fails the test) on an unknown option
        assert args.api == entry["api"] and args.base_url == "https://staging.example.com"
        assert args.junit_xml == f"junit-{entry['api']}.xml" and args.report == f"report-{entry['api']}.json"
        assert args.html == f"report-{entry['api']}.html" and args.seed == 17
        assert args.bodies_dir == "conformance-bodies"
    kept = _step(job, "Keep")
    assert kept["if"] == "always()" and "conformance-bodies/" in kept["with"]["path"]
    published = _step(job, "Publish")
    assert (
        published["if"] == "always()" and "junit-${{ matrix.api }}.xml" in published["with"]["report_paths"]
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The workflow's install step, run as written in a fresh virtualenv from a copy of the repository
    (its tracked files) at the checkout step's path. The dependencies come from this environment (a
    .pth), so pip installs the suite itself from the copy without a network."""
    work = tmp_path_factory.mktemp("runner")
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (work / "image-api-contracts" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, work / "image-api-contracts" / name)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    site = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (venv / "lib" / site.split("/lib/", 1)[1] / "deps.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}
    env.pop("PYTHONPATH", None)
    job = _workflow()["jobs"]["against-the-mock"]
    result = subprocess.run(
        ["bash", "-e", "-c", _step(job, "Install")["run"]],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1].startswith("conformance "), result.stdout[-500:]
    where = subprocess.run(
        ["python", "-c", "import conformance; print(conformance.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(venv)), where  # the installed copy, not this checkout
    return work, env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_mock_job_starts_the_mock_as_a_service_and_checks_against_it(installed):
    work, env = installed
    job = _workflow()["jobs"]["against-the-mock"]
    env = {**env, **job["env"], "MOCK_PORT": str(_free_port())}
    # Each step is its own shell, as on a runner; the mock started in the background outlives its step.
    # A session of its own, so the mock (in the step shell's process group) is stopped with it at the end.
    start = subprocess.Popen(
        ["bash", "-e", "-c", _expand(_step(job, "Start the mock")["run"])],
        cwd=work,
        env=env,
        start_new_session=True,
    )
    try:
        assert start.wait(timeout=120) == 0
        result = subprocess.run(
            ["bash", "-e", "-c", _expand(_step(job, "Check tagged-images")["run"])],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(start.pid, signal.SIGTERM)
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    assert "PASSED" in result.stdout
    cases = list(ET.parse(work / "junit-mock.xml").getroot().iter("testcase"))
    assert cases and all(re.match(r"(ALL|TIM)-\d\d ", c.get("name")) for c in cases)
    assert (work / "report-mock.html").read_text().count('class="rule"') == 19


def test_the_check_step_refuses_an_empty_secret_and_runs_without_one_where_none_is_needed(installed):
    work, env = installed
    job = _workflow()["jobs"]["conformance"]
    mock = LiveServer()
    try:
        outcomes = {}
        for api, needs, token in (("evotor", "yes", ""), ("everydaypic", "", "")):
            script = _expand(_step(job, "Check")["run"], {"api": api})
            result = subprocess.run(
                ["bash", "-c", script.replace("--max-examples 25", "--max-examples 2")],
                cwd=work,
                env={
                    **env,
                    "BASE_URL": f"{mock.url}/{api}",
                    "NEEDS_TOKEN": needs,
                    "CONFORMANCE_TOKEN": token,
                },
                capture_output=True,
                text=True,
                timeout=600,
            )
            outcomes[api] = (result.returncode, result.stderr)
    finally:
        mock.stop()
    assert outcomes["evotor"][0] == 2 and "CONFORMANCE_TOKEN is set but empty" in outcomes["evotor"][1]
    assert outcomes["everydaypic"][0] == 0, outcomes["everydaypic"]
    assert (work / "report-everydaypic.html").exists() and (work / "junit-everydaypic.xml").exists()
