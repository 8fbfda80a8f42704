"""examples/github-actions/conformance.yml: valid YAML whose command is a real ``conformance`` call."""

from __future__ import annotations

import re
import shlex

import yaml
from conftest import ROOT

from conformance.cli import build_parser
from conformance.target import API_NAMES

WORKFLOW = ROOT / "examples" / "github-actions" / "conformance.yml"


def _expand(command: str, matrix: dict) -> str:
    """GitHub's ``${{ … }}`` expressions as the runner would fill them, shell variables as set in CI."""
    values = {"matrix.api": matrix["api"], "github.run_number": "17"}
    command = re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: values[m.group(1)], command)
    return command.replace("$BASE_URL", "https://staging.example.com").replace("$API_TOKEN", "s3cret")


def test_the_workflow_runs_the_conformance_cli_for_every_api():
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    job = workflow["jobs"]["conformance"]
    matrix = job["strategy"]["matrix"]["include"]
    assert sorted(m["api"] for m in matrix) == sorted(API_NAMES)
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert any("pip install" in run and "image-api-contracts" in run for run in runs)
    (command,) = [run for run in runs if run.startswith("conformance ")]
    for entry in matrix:
        argv = shlex.split(_expand(command, entry))
        args = build_parser().parse_args(argv[1:])  # exits (fails the test) on an unknown option
        assert (args.api, args.token) == (entry["api"], "s3cret")
        assert args.base_url == "https://staging.example.com"
        assert args.junit_xml == f"junit-{entry['api']}.xml" and args.report == f"report-{entry['api']}.json"
        assert args.seed == 17
    uploaded = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    assert uploaded["if"] == "always()"
