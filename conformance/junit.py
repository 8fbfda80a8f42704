"""The JUnit file pytest writes, made readable in a CI checks UI: every testcase is named by its rules
and their levels (``EDP-05 MUST: check_edp05_…``) and carries them as properties (with the verdict each
rule got from it), and the suite's properties hold the seed and the replay command instead of
Hypothesis' base64 statistics."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .report import Report
from .rules import load_rules


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
    tree.write(path, encoding="utf-8", xml_declaration=True)
