"""ALL-05 on the mock itself: every seed-valid request the suite forms (the schema layer's positive cases
from the seed view, and each API's own edge requests) is accepted. A decision may fill what a seed leaves
open; it may never refuse what a seed grants."""

from __future__ import annotations

import pytest
from support.conformance_runs import explain, run_against_mock

from conformance.target import API_NAMES


@pytest.mark.parametrize("api", API_NAMES)
def test_all05_the_mock_accepts_every_seed_valid_request_the_suite_forms(api):
    report = run_against_mock(api, only_rules=("ALL-05",))
    verdict = next(v for v in report.verdicts if v.id == "ALL-05")
    assert verdict.status == "pass", explain(report)
