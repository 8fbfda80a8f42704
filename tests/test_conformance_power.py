"""The conformance suite proves its power: it passes against the mock, and each deliberately broken
variant of the mock (tests/mutants/) makes it fail on the rule that variant breaks."""

from __future__ import annotations

import pytest
from conftest import LiveServer
from mutants import all_mutants

from conformance.runner import run
from conformance.target import API_NAMES, Target
from mockserver.registry import APIS

MUTANTS = all_mutants()


def _run(api: str, mutate=None, **options):
    server = LiveServer(mutate=mutate)
    try:
        base_url = server.url + f"/{api}" + APIS[api].server_path
        target = Target(api=api, base_url=base_url, seed=1, max_examples=8, shrink_seconds=2, **options)
        return run(target)
    finally:
        server.stop()


@pytest.mark.parametrize("api", API_NAMES)
def test_the_suite_passes_against_the_mock(api):
    report = _run(api)
    print("\n" + "\n".join(report.summary_lines()))
    assert not report.failed
    assert not [v.id for v in report.verdicts if v.status == "warn"], "SHOULD rules warned against the mock"
    untested = [v.id for v in report.verdicts if v.status == "skip"]
    assert not untested, f"rules with no check for {api}: {untested}"


def test_there_are_at_least_25_broken_variants_across_all_apis():
    assert len(MUTANTS) >= 25, len(MUTANTS)
    assert {m.api for m in MUTANTS} == set(API_NAMES)
    assert len({m.id for m in MUTANTS}) == len(MUTANTS)


@pytest.mark.parametrize("mutant", MUTANTS, ids=str)
def test_each_broken_variant_fails_on_its_rule(mutant):
    # Only the checks of the variant's rule run (the pass tests above run everything): each variant
    # proves that its rule's checks catch it, in seconds rather than a full run.
    report = _run(mutant.api, mutate=mutant.apply, only_rules=(mutant.rule,), strict=True)
    verdicts = {v.id: v.status for v in report.verdicts}
    failed = sorted(rule for rule, status in verdicts.items() if status == "fail")
    assert verdicts.get(mutant.rule) == "fail", f"{mutant.id} ({mutant.description}): failed rules {failed}"
