"""The JUnit file pytest writes, made readable in a CI checks UI: every testcase is named by its rules
and their levels (``EDP-05 MUST: check_edp05_…``) and carries them as properties (with the verdict each
rule got from it), and the suite's properties hold the seed and the replay command instead of
Hypothesis' base64 statistics.

A rule's own verdict is not any one testcase's: a rule that ran 2 of its 3 checks passes each testcase
that ran and is still only partly proven. So the file also carries the verdict of every rule, where
checks UIs (dorny/test-reporter, mikepenz/action-junit-report) show it: a property ``rule <ID>`` on the
pytest suite, and a second suite ``<suite>-rules`` with one testcase per rule, named by its ID, level and
status (``TIM-04 MUST: PART 2/3 · …``). A FAIL is a ``<failure>`` listing the breaks with their curls;
PART and "not exercised" are ``<skipped>`` with the reason, so no UI counts them as passed; a WARN is
``<skipped>`` too, its message starting ``WARN (SHOULD)`` as the per-check testcases' do (it does not fail
a run, and is not a plain pass either)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from .report import Report, RuleVerdict
from .rules import load_rules

# What XML 1.0 cannot carry, even escaped: control characters, lone surrogates, U+FFFE and U+FFFF. A finding
# may quote such a value (a degenerate value the server refused or echoed), and ElementTree writes it as is.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str | None) -> str | None:
    """``text`` with each character XML cannot carry written as its Python escape (``\\x1b``), so the
    file stays well-formed and the value stays readable."""
    if text is None:
        return None
    return NOT_XML.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), text)


def _made_safe(root: ET.Element) -> None:
    for element in root.iter():
        element.text, element.tail = xml_safe(element.text), xml_safe(element.tail)
        for key, value in element.attrib.items():
            element.set(key, xml_safe(value))


def _address(nodeid: str) -> tuple[str, str]:
    """pytest's (classname, name) of a node id, as its junitxml writes them."""
    path, *rest = nodeid.split("::")
    classname = ".".join([path.replace("/", ".").removesuffix(".py"), *rest[:-1]])
    return classname, rest[-1] if rest else path


def rewrite(path, report: Report) -> None:
    rules = load_rules()
    by_case: dict[tuple[str, str], dict[str, str]] = {}
    for v in report.verdicts:
        for o in v.checks:
            statuses = by_case.setdefault(_address(o.test), {})
            worst = statuses.get(v.id)
            order = ("fail", "warn", "skip", "pass")
            if worst is None or order.index(o.status) < order.index(worst):
                statuses[v.id] = o.status
    tree = ET.parse(path)
    root = tree.getroot()
    for suite in root.iter("testsuite"):
        props = suite.find("properties")
        if props is None:
            props = ET.Element("properties")
            suite.insert(0, props)
        for prop in list(props):
            if prop.get("name", "").startswith("hypothesis-"):
                props.remove(prop)
        for name, value in (("api", report.api), ("base_url", report.base_url), ("seed", str(report.seed))):
            ET.SubElement(props, "property", name=name, value=value)
        if report.replay:
            ET.SubElement(props, "property", name="replay", value=report.replay)
        for case in suite.iter("testcase"):
            statuses = by_case.get((case.get("classname", ""), case.get("name", "")))
            if not statuses:
                continue
            label = ", ".join(f"{r} {rules[r].level if r in rules else ''}".strip() for r in statuses)
            case.set("name", f"{label}: {case.get('name')}")
            case_props = case.find("properties")
            if case_props is None:
                case_props = ET.Element("properties")
                case.insert(0, case_props)
            for rule_id, status in statuses.items():
                ET.SubElement(case_props, "property", name="rule", value=rule_id)
                ET.SubElement(
                    case_props,
                    "property",
                    name="level",
                    value=rules[rule_id].level if rule_id in rules else "",
                )
                ET.SubElement(case_props, "property", name=f"verdict {rule_id}", value=status)
        for v in report.verdicts:
            ET.SubElement(props, "property", name=f"rule {v.id}", value=v.label)
    if root.tag != "testsuites":
        wrapper = ET.Element("testsuites")
        wrapper.append(root)
        root = wrapper
        tree = ET.ElementTree(root)
    first = root.find("testsuite")
    name = first.get("name", "conformance") if first is not None else "conformance"
    root.append(rules_suite(f"{name}-rules", report))
    _made_safe(tree.getroot())
    tree.write(path, encoding="utf-8", xml_declaration=True)


def _findings(v: RuleVerdict, statuses: tuple[str, ...]) -> str:
    lines = []
    for o in v.checks:
        if o.status in statuses:
            lines.append(f"{o.status.upper()} {o.message}")
            if o.curl:
                lines.append(f"  {o.curl}")
    return "\n".join(lines)


def rules_suite(name: str, report: Report) -> ET.Element:
    """One testcase per rule of the report, whose name and outcome are the rule's verdict."""
    counts = report.counts
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(report.verdicts)),
        failures=str(counts["fail"]),
        errors="0",
        skipped=str(counts["warn"] + counts["partial"] + counts["skip"]),
        time=f"{report.duration_seconds:.3f}",
    )
    for v in report.verdicts:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{name}.{v.id}",
            name=f"{v.id} {v.level}: {v.label} · {v.rule[:100]}",
            time="0",
        )
        props = ET.SubElement(case, "properties")
        for key, value in (("rule", v.id), ("level", v.level), ("status", v.label)):
            ET.SubElement(props, "property", name=key, value=value)
        if v.status == "fail":
            breaks = v.failures
            failure = ET.SubElement(case, "failure", message=f"{v.id} {v.level}: {breaks[0].message[:300]}")
            failure.text = _findings(v, ("fail", "warn"))
        elif v.status in ("partial", "skip"):
            reasons = list(dict.fromkeys(o.message for o in v.checks if o.status == "skip")) or [
                "no check ran"
            ]
            ET.SubElement(case, "skipped", message=f"{v.label}: {reasons[0][:300]}").text = "\n".join(reasons)
        elif v.status == "warn":
            first = v.failures[0].message[:300]
            ET.SubElement(case, "skipped", message=f"WARN (SHOULD) {v.id}: {first}").text = _findings(
                v, ("warn",)
            )
    return suite
