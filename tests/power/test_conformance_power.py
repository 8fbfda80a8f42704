"""The conformance suite proves its power: it passes against the mock, and each deliberately broken
variant of the mock (tests/power/mutants/) makes a full run fail on the rule that variant breaks, and on no
other: one divergence, one failing rule. By default the first variant of each API and rule runs;
``CONFORMANCE_PROOF=full`` runs them all (docs/development.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.conformance_runs import explain, proof_cases, replay_failures, run_against_mock, statuses

from conformance.rules import load_rules
from conformance.target import API_NAMES
from power.mutants import all_mutants

MUTANTS = all_mutants()
REPLAYS = Path(__file__).resolve().parents[1] / "artifacts" / "curl-replays.jsonl"  # a line per curl replayed
RULES = load_rules()


@pytest.mark.parametrize("api", API_NAMES)
def test_the_suite_passes_against_the_mock(api):
    report = run_against_mock(api)
    print("\n" + "\n".join(report.summary_lines()))
    assert not report.failed, explain(report)
    assert not statuses(report, "warn"), "SHOULD rules warned against the mock:\n" + explain(report)
    untested = statuses(report, "skip") + statuses(report, "partial")
    assert not untested, f"rules not (fully) exercised for {api}: {untested}\n" + explain(report)


def test_there_are_at_least_25_broken_variants_across_all_apis():
    assert len(MUTANTS) >= 25, len(MUTANTS)
    assert {m.api for m in MUTANTS} == set(API_NAMES)
    assert len({m.id for m in MUTANTS}) == len(MUTANTS)
    assert {m.rule for m in MUTANTS} <= set(RULES)


@pytest.mark.parametrize("mutant", proof_cases(MUTANTS, "tests/power/test_conformance_power.py"))
def test_each_broken_variant_fails_its_own_rule_and_no_other(mutant):
    # A full run, every check: the variant must be caught by its rule's checks and blamed on nothing else.
    # A break of a SHOULD rule, or of a MUST rule's SHOULD part, fails under --strict only. Then each curl
    # of the rule's failures is pasted into a shell against the server the run left, as its reader would,
    # and the statuses logged to tests/artifacts/curl-replays.jsonl (a measurement: a DELETE that succeeded
    # consumed its record, and a file URL dies with its record after the clean-up).
    replays: list = []

    def replay(report, target):
        replays[:] = replay_failures(report, mutant.rule, target)

    report = run_against_mock(mutant.api, mutate=mutant.apply, then=replay)
    if RULES[mutant.rule].level == "SHOULD" or (
        not report.failed and mutant.rule in statuses(report, "warn")
    ):
        report = run_against_mock(mutant.api, mutate=mutant.apply, strict=True, then=replay)
    failed = statuses(report, "fail")
    assert failed == [mutant.rule], f"{mutant.id} ({mutant.description}): failed {failed}\n" + explain(report)
    REPLAYS.parent.mkdir(parents=True, exist_ok=True)
    with REPLAYS.open("a", encoding="utf-8") as log:
        for r in replays:
            log.write(json.dumps({"mutant": mutant.id, "seen": r.seen, "now": r.now, "curl": r.curl}) + "\n")
