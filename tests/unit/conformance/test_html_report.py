"""``conformance --html``: what a person sees when they open the report, in headless Chromium, for a
broken download (everydaypic serving each image one byte short): every rule a row, EDP-05 failed with
its curl, and the uploaded and the served image side by side with their sizes and hashes.

The screenshot is kept in tests/artifacts/ (not in git) for a person to look at."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from power.mutants import all_mutants
from support.browser import PAGE_TIMEOUT_MS, chromium
from support.live_server import LiveServer

from conformance.rules import load_rules

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="module")
def broken_download_report(tmp_path_factory):
    (mutant,) = [m for m in all_mutants() if m.id == "edp-truncated-download"]
    server = LiveServer(mutate=mutant.apply)
    where = tmp_path_factory.mktemp("html-report")
    try:
        args = ["--api", "everydaypic", "--base-url", f"{server.url}/everydaypic", "--seed", "1"]
        args += ["--max-examples", "3", "--html", str(where / "report.html")]
        args += ["--bodies-dir", str(where / "bodies"), "--junit-xml", str(where / "junit.xml")]
        result = subprocess.run(
            [sys.executable, "-m", "conformance", *args], capture_output=True, text=True, timeout=600
        )
    finally:
        server.stop()
    assert result.returncode == 1, (result.stdout[-3000:], result.stderr[-3000:])
    return where


def test_the_html_report_shows_rules_breaks_and_the_image_pair(broken_download_report):
    html = (broken_download_report / "report.html").read_text(encoding="utf-8")
    assert "http://" not in html.replace(html[html.index("<body>") :], "")  # no external resource in <head>
    profile, viewport = broken_download_report / "chromium-profile", {"width": 1200, "height": 900}
    with chromium(profile, viewport=viewport) as browser:
        page = browser.new_page()
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto((broken_download_report / "report.html").as_uri(), timeout=PAGE_TIMEOUT_MS)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "html-report-broken-download.png"), full_page=True)

        assert page.inner_text("#verdict") == "FAILED"
        rows = page.locator("tr.rule")
        wanted = {r.id for r in load_rules().values() if r.api in ("everydaypic", "all")}
        assert {rows.nth(i).get_attribute("data-rule") for i in range(rows.count())} == wanted
        edp05 = page.locator('tr.rule[data-rule="EDP-05"]')
        assert edp05.locator(".status").inner_text() == "FAIL"
        assert edp05.locator("blockquote").inner_text().strip(), "the seed's words are shown"

        section = page.locator("section#EDP-05")
        assert "curl -X GET" in section.locator("pre.curl").first.inner_text()
        pair = section.locator(".image-pair").first
        uploaded, served = pair.locator("figure.uploaded"), pair.locator("figure.served")
        assert uploaded.is_visible() and served.is_visible()
        for figure in (uploaded, served):  # the browser decoded and drew both images
            size = figure.locator("img").evaluate("img => [img.naturalWidth, img.naturalHeight]")
            assert size[0] > 0 and size[1] > 0, size
        up_box, served_box = uploaded.bounding_box(), served.bounding_box()
        assert abs(up_box["y"] - served_box["y"]) < 5 and served_box["x"] > up_box["x"]  # side by side
        up_bytes = int(uploaded.locator(".size").inner_text().split()[0])
        served_bytes = int(served.locator(".size").inner_text().split()[0])
        assert served_bytes == up_bytes - 1, (up_bytes, served_bytes)
        hashes = [f.locator(".hash").inner_text() for f in (uploaded, served)]
        saved = {
            hashlib.sha256(p.read_bytes()).hexdigest()
            for p in (broken_download_report / "bodies").glob("image-*")
        }
        assert hashes[0] != hashes[1] and set(hashes) <= saved, (hashes, saved)
        assert all(url.startswith(("file:", "data:")) for url in requests), requests  # self-contained


def test_junit_names_each_testcase_by_rule_and_level_without_blobs(broken_download_report):
    import xml.etree.ElementTree as ET

    root = ET.parse(broken_download_report / "junit.xml").getroot()
    cases = list(root.iter("testcase"))
    rules = load_rules()
    for case in cases:
        label = case.get("name").split(": ", 1)[0]
        named = [part.split() for part in label.split(", ")]
        assert named and all(r in rules and level == rules[r].level for r, level in named), case.get("name")
        props = {(p.get("name"), p.get("value")) for p in case.iter("property")}
        assert all(("rule", r) in props and ("level", level) in props for r, level in named), props
    failed = [c for c in cases if c.find("failure") is not None]
    assert failed and all("EDP-05" in c.get("name") for c in failed), [c.get("name") for c in failed]
    values = [p.get("value") for p in root.iter("property")]
    assert not any(len(v) > 40 and " " not in v and v.isascii() and v.endswith("=") for v in values)
    assert not any(p.get("name").startswith("hypothesis") for p in root.iter("property"))
    assert ("seed", "1") in {(p.get("name"), p.get("value")) for p in root.find("testsuite/properties")}
