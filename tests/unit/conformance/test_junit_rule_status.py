"""The JUnit file names every rule's own verdict, PART and "not exercised" included, where a CI checks UI
shows it: a testcase per rule whose outcome is the rule's, and a suite property per rule."""

import xml.etree.ElementTree as ET

from conformance.junit import rewrite
from conformance.report import NOT_EXERCISED, Report, RuleVerdict
from conformance.rule_plugin import Outcome

CHECKS = "conformance/checks/tagged_images/listing.py"
PYTEST_JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="conformance-tagged-images" tests="3" failures="1" skipped="0" errors="0">
<properties><property name="hypothesis-statistics-x" value="QUJDREVGR0hJSktMTU5PUFFS"/></properties>
<testcase classname="conformance.checks.tagged_images.listing" name="check_pages"/>
<testcase classname="conformance.checks.tagged_images.listing" name="check_order"/>
<testcase classname="conformance.checks.tagged_images.listing" name="check_totals">
<failure message="x"/></testcase>
</testsuite></testsuites>
"""


def _report() -> Report:
    def outcome(test, status, message="", curl=None):
        return Outcome(f"{CHECKS}::{test}", status, message, curl)

    stopped = f"{NOT_EXERCISED}: the setup's upload was refused (TIM-01)"
    verdicts = [
        RuleVerdict(
            "TIM-01",
            "MUST",
            "uploads answer 201",
            "fail",
            [
                outcome(
                    "check_totals",
                    "fail",
                    "POST /v1/images: expected 201, got 200",
                    "curl -X POST http://t/v1/images",
                ),
            ],
        ),
        RuleVerdict(
            "TIM-04",
            "MUST",
            "pages are disjoint",
            "partial",
            [
                outcome("check_pages", "pass"),
                outcome("check_order", "pass"),
                outcome("check_totals", "skip", stopped),
            ],
        ),
        RuleVerdict(
            "TIM-05",
            "SHOULD",
            "order is stable",
            "warn",
            [
                outcome(
                    "check_order", "warn", "GET /v1/images: two records swapped", "curl http://t/v1/images"
                ),
            ],
        ),
        RuleVerdict(
            "TIM-06", "MUST", "totals count everything", "skip", [outcome("check_totals", "skip", stopped)]
        ),
        RuleVerdict("TIM-07", "MUST", "search finds", "pass", [outcome("check_pages", "pass")]),
    ]
    return Report("tagged-images", "http://t/v1", 7, 12.5, verdicts, replay="conformance --seed 7")


def test_each_rule_is_a_testcase_whose_outcome_and_name_are_its_verdict(tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(PYTEST_JUNIT)
    rewrite(path, _report())
    root = ET.parse(path).getroot()
    pytest_suite, rules_suite = root.findall("testsuite")
    assert rules_suite.get("name") == "conformance-tagged-images-rules"
    cases = {
        c.find("properties/property[@name='rule']").get("value"): c for c in rules_suite.iter("testcase")
    }
    assert sorted(cases) == ["TIM-01", "TIM-04", "TIM-05", "TIM-06", "TIM-07"]
    names = {rule: case.get("name") for rule, case in cases.items()}
    assert names["TIM-04"].startswith("TIM-04 MUST: PART 2/3 · pages are disjoint")
    assert names["TIM-06"].startswith(f"TIM-06 MUST: {NOT_EXERCISED} · ")
    assert names["TIM-01"].startswith("TIM-01 MUST: FAIL · ") and names["TIM-07"].startswith(
        "TIM-07 MUST: PASS"
    )
    assert names["TIM-05"].startswith("TIM-05 SHOULD: WARN · ")

    failure = cases["TIM-01"].find("failure")
    assert "expected 201, got 200" in failure.get("message")
    assert "curl -X POST http://t/v1/images" in failure.text
    for rule, label in (("TIM-04", "PART 2/3"), ("TIM-06", NOT_EXERCISED)):
        skipped = cases[rule].find("skipped")
        assert skipped.get("message").startswith(f"{label}: {NOT_EXERCISED}: the setup's upload was refused")
        assert cases[rule].find("failure") is None
    warned = cases["TIM-05"].find("skipped")
    assert cases["TIM-05"].find("failure") is None and warned.get("message").startswith(
        "WARN (SHOULD) TIM-05: "
    )
    assert "curl http://t/v1/images" in warned.text
    assert all(len(cases["TIM-07"].findall(tag)) == 0 for tag in ("failure", "skipped", "system-out"))
    counts = {key: rules_suite.get(key) for key in ("tests", "failures", "skipped", "errors")}
    assert counts == {"tests": "5", "failures": "1", "skipped": "3", "errors": "0"}

    props = {p.get("name"): p.get("value") for p in pytest_suite.find("properties")}
    assert {k: v for k, v in props.items() if k.startswith("rule ")} == {
        "rule TIM-01": "FAIL",
        "rule TIM-04": "PART 2/3",
        "rule TIM-05": "WARN",
        "rule TIM-06": NOT_EXERCISED,
        "rule TIM-07": "PASS",
    }
    assert props["seed"] == "7" and not any(k.startswith("hypothesis") for k in props)


def test_a_single_suite_file_gains_the_rules_suite_beside_it(tmp_path):
    path = tmp_path / "junit.xml"
    inner = PYTEST_JUNIT.split("<testsuites>", 1)[1].rsplit("</testsuites>", 1)[0]
    path.write_text(inner)
    rewrite(path, _report())
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    assert [s.get("name") for s in root.findall("testsuite")] == [
        "conformance-tagged-images",
        "conformance-tagged-images-rules",
    ]


def test_a_finding_that_quotes_control_characters_leaves_the_file_well_formed(tmp_path):
    """A degenerate value a check names (a NUL, an escape, a lone surrogate) is written as its escape: the
    file still parses, and the reader still sees which value it was."""
    path = tmp_path / "junit.xml"
    path.write_text(PYTEST_JUNIT, encoding="utf-8")
    quoted = "GET /v1/images?name=a\x00b\x1b[31m\ud800: refused with 400"
    report = _report()
    report.verdicts[2].checks[0].message = quoted
    rewrite(path, report)
    root = ET.parse(path).getroot()  # ParseError before: not well-formed (invalid token)
    skipped = list(root.iter("skipped"))
    texts = [e.get("message") or "" for e in skipped] + [e.text or "" for e in skipped]
    assert any("a\\x00b\\x1b[31m\\ud800: refused with 400" in text for text in texts), texts
