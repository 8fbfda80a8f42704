"""The README's promises: CI runs exactly its test command, and the dev tokens it prints are real."""

import re

from conftest import ROOT

from mockserver import devtokens

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _sh_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README, re.S)


def test_ci_runs_exactly_the_readme_test_command():
    test_command = _sh_blocks()[1].strip()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines
    assert "pytest" in test_command


def test_readme_dev_tokens_are_the_ones_the_code_makes():
    assert f"Bearer {devtokens.image_upload_token()}`" in README
    assert f'Token token="{devtokens.sharinpix_token()}"`' in README
    assert devtokens.EVOTOR_TOKEN in README
