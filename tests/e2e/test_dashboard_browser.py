"""The dashboard in headless Chromium (Debian's, driven by Playwright), against a live mock: requests to
each of the five APIs, sent with each API's documented credentials, appear in the gallery and in the
journal without a reload; the journal filters; a refused request shows its rule and reason; the
controls force behaviour (with a banner), delete a record, reset and load fixtures. A page of another
(allowed) origin cannot drive the dashboard's delete; with a control token the page works from its
``#token=`` fragment. No page breaks its Content-Security-Policy. Assertions read the DOM;
screenshots are kept in tests/artifacts/dashboard/ (gitignored) for a human to look at."""

from __future__ import annotations

import functools
import json
import threading
import uuid
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from support.browser import QuietHandler, chromium
from support.images import image_bytes

from image_api_contracts.devtokens import DEV_ALBUM
from image_api_contracts.profiles import auth_headers

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "dashboard"
WAIT_MS = 10_000
APIS = ("everydaypic", "evotor", "image-upload", "sharinpix", "tagged-images")


@pytest.fixture(scope="module")
def page(tmp_path_factory, live_mock):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = tmp_path_factory.mktemp("chromium-profile")
    with chromium(profile, viewport={"width": 1280, "height": 800}) as context:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        yield page
        assert not [e for e in errors if "Content Security Policy" in e], errors


@pytest.fixture(scope="module")
def other_site(tmp_path_factory):
    """A static server on another port, named as a dev server is: ``(directory, "http://localhost:N")``."""
    directory = tmp_path_factory.mktemp("other-site")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, name="other-site", daemon=True).start()
    yield directory, f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def upload(base: str, api: str) -> None:
    """One upload through the API, as its docs show it, with its development credentials."""
    png = image_bytes(300, 300, color=(58, 123, 213))
    auth = auth_headers(api)
    if api == "everydaypic":
        files, form = {"file": ("shoe.png", png, "image/png")}, {"fileName": "shoe.png", "name": "shoe"}
        answer = httpx.post(f"{base}/everydaypic/v1/image", files=files, data=form)
    elif api == "evotor":
        files = {"datafile": ("shoe.png", png, "image/png")}
        answer = httpx.post(f"{base}/evotor/stores/s-1/products/p-1/images", files=files, headers=auth)
    elif api == "image-upload":
        files = {"file": ("shoe.png", png, "image/png")}
        answer = httpx.post(f"{base}/image-upload/UploadImage", files=files, headers=auth)
    elif api == "sharinpix":
        form = {
            "cloudinary[public_id]": str(uuid.uuid4()),
            "cloudinary[version]": "1484586860",
            "cloudinary[width]": "295",
            "cloudinary[height]": "171",
            "cloudinary[format]": "jpg",
            "cloudinary[bytes]": "10668",
            "cloudinary[original_filename]": "shoe",
        }
        answer = httpx.post(f"{base}/sharinpix/api/v1/albums/{DEV_ALBUM}/images/", data=form, headers=auth)
    else:
        record = {"filename": "shoe.png", "size": len(png)}
        created = httpx.post(f"{base}/tagged-images/v1/images", json=record)
        assert created.status_code == 201, created.text
        answer = httpx.put(created.json()["upload_url"], content=png, headers={"Content-Type": "image/png"})
    assert answer.status_code < 300, (api, answer.status_code, answer.text)


def rows(page, selector: str = "") -> list[dict]:
    return page.eval_on_selector_all(
        f"#request-rows tr.request{selector}",
        "trs => trs.map(tr => ({api: tr.dataset.api, verdict: tr.dataset.verdict, status: tr.dataset.status,"
        " method: tr.children[2].textContent, path: tr.children[3].textContent,"
        " reason: (tr.querySelector('.reason') || {}).textContent || ''}))",
    )


def every_row(page, condition: str) -> None:
    """Wait until every journal row shown meets ``condition`` (JavaScript over the row ``r``)."""
    rows_shown = "[...document.querySelectorAll('#request-rows tr.request')]"
    page.wait_for_function(f"() => {rows_shown}.every(r => {condition})")


def test_the_dashboard_shows_each_apis_uploads_and_verdicts_live_and_its_controls_work(page, live_mock):
    live_mock.reset()
    page.goto(f"{live_mock.url}/__mock__/ui/")
    page.wait_for_selector("body[data-ready='true']")
    page.wait_for_selector("#live.on")
    assert page.locator("#gallery .card").count() == 0 and page.locator("#request-rows tr").count() == 0

    for api in APIS:  # each appears without a reload: the gallery card's image loaded, the journal row
        upload(live_mock.url, api)
        page.wait_for_selector(f"#request-rows tr.request[data-api='{api}'][data-verdict='honoured']")
        card = page.wait_for_selector(f"#gallery .card[data-api='{api}'] img")
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=card)
    sizes = page.eval_on_selector_all(
        "#gallery .card img", "imgs => imgs.map(i => [i.closest('.card').dataset.api, i.naturalWidth])"
    )
    assert sorted(map(tuple, sizes)) == [
        ("everydaypic", 300),
        ("evotor", 300),
        ("image-upload", 300),
        ("sharinpix", 295),  # sharinpix stores no bytes: its rendition has the recorded width
        ("tagged-images", 300),
    ], sizes
    # The page's own image loads are not requests to the APIs: the journal holds only the uploads.
    shown = sorted((r["api"], r["method"]) for r in rows(page))
    assert shown == sorted([*((api, "POST") for api in APIS), ("tagged-images", "PUT")]), rows(page)
    everydaypic = page.text_content("#gallery .card[data-api='everydaypic']")
    assert "image/png" in everydaypic and "sha256" in everydaypic
    page.screenshot(path=str(ARTIFACTS / "uploads-1280x800.png"))

    # A request the spec refuses: its row names the rule and the reason.
    refused = httpx.get(f"{live_mock.url}/tagged-images/v1/images?page=first")
    assert refused.status_code == 400
    broken = page.wait_for_selector("#request-rows tr.request[data-verdict='broken']")
    assert "ALL-03" in broken.text_content() and "'first' is not of type 'integer'" in broken.text_content()
    colour = "e => getComputedStyle(e).color"
    broken_colour = page.eval_on_selector("tr.request[data-verdict='broken'] .verdict", colour)
    assert broken_colour != page.eval_on_selector("tr.request[data-verdict='honoured'] .verdict", colour)
    page.screenshot(path=str(ARTIFACTS / "refusal.png"))

    # Filters: by verdict, by API, by status class.
    page.select_option("#filter-verdict", "broken")
    page.wait_for_function("() => document.querySelectorAll('#request-rows tr.request').length === 1")
    assert [r["verdict"] for r in rows(page)] == ["broken"]
    page.select_option("#filter-verdict", "")
    page.select_option("#filter-api", "evotor")
    every_row(page, "r.dataset.api === 'evotor'")
    assert [r["method"] for r in rows(page)] == ["POST"]
    page.select_option("#filter-api", "")
    page.fill("#filter-status", "4xx")
    every_row(page, "r.dataset.status[0] === '4'")
    assert [r["status"] for r in rows(page)] == ["400"]
    page.fill("#filter-status", "")
    page.wait_for_function("() => document.querySelectorAll('#request-rows tr.request').length > 5")

    # Keyboard: a row opens with Enter; its headers are redacted; copy-as-curl shows the command.
    page.focus("#request-rows tr.request[data-api='evotor']")
    page.keyboard.press("Enter")
    details = page.wait_for_selector("#request-rows tr.details")
    assert "x-authorization: [redacted]" in details.text_content()
    page.click("#request-rows tr.details .copy-curl")
    curl = page.text_content("#request-rows tr.details pre.curl")
    assert curl.startswith("curl -X POST ") and "-F 'datafile=@shoe.png;type=image/png'" in curl
    page.screenshot(path=str(ARTIFACTS / "request-details.png"))

    # The gallery: filter by API, full size on click with the record.
    page.select_option("#gallery-api", "image-upload")
    page.wait_for_function("() => document.querySelectorAll('#gallery .card').length === 1")
    page.click("#gallery .card[data-api='image-upload'] .thumb")
    page.wait_for_selector("#viewer[open]")
    record = json.loads(page.text_content("#viewer-record"))  # as the API answers it: with its file URL
    assert record["originalFileName"] == "shoe.png" and "/__mock__/files/image-upload/" in record["mediaLink"]
    page.wait_for_function("() => document.getElementById('viewer-image').naturalWidth === 300")
    page.screenshot(path=str(ARTIFACTS / "viewer.png"))
    page.keyboard.press("Escape")
    page.select_option("#gallery-api", "")

    # Forced behaviour shows a banner until it is stopped.
    page.fill("#force-latency", "1")
    page.click("#apply-behaviour")
    page.wait_for_selector("#banner:not([hidden])")
    assert "waits 1 ms" in page.text_content("#banner")
    assert live_mock.behaviour()["latency_ms"] == 1
    page.click("#clear-behaviour")
    page.wait_for_selector("#banner", state="hidden")

    # Delete one record, then reset everything.
    page.click("#gallery .card[data-api='everydaypic'] button.danger")
    page.wait_for_selector("#gallery .card[data-api='everydaypic']", state="detached")
    assert live_mock.state()["apis"]["everydaypic"]["images"] == []
    page.set_viewport_size({"width": 420, "height": 800})  # a narrow window: nothing wider than it
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(ARTIFACTS / "narrow-420.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.click("#reset")
    page.wait_for_function("() => document.querySelectorAll('#gallery .card').length === 0")
    page.wait_for_function("() => document.querySelectorAll('#request-rows tr').length === 0")
    assert not any(records.get("images") for records in live_mock.state()["apis"].values())
    page.click("#fixtures")  # the packaged seed records, with their images
    page.wait_for_function("() => document.querySelectorAll('#gallery .card img').length >= 5")
    assert "fixtures loaded" in page.text_content("#message")


OTHER_ORIGIN_PAGE = """<!doctype html><meta charset="utf-8"><title>another dev server</title>
<script type="module">
try {
  const response = await fetch(TARGET, {method: "DELETE", credentials: "include"});
  window.results = {status: response.status, body: await response.text()};
} catch (error) {
  window.results = {error: String(error)};
}
</script>"""


def test_a_page_on_another_allowed_origin_cannot_drive_the_dashboards_delete(page, live_mock, other_site):
    """A loopback origin (a dev server on another port) may use the APIs and the mock's controls; the
    dashboard's own control answers only the dashboard."""
    live_mock.reset()
    upload(live_mock.url, "everydaypic")
    [record] = live_mock.state()["apis"]["everydaypic"]["images"]
    target = f"{live_mock.url}/__mock__/ui/api/records/everydaypic/{record['id']}"
    directory, site_origin = other_site
    (directory / "other.html").write_text(OTHER_ORIGIN_PAGE.replace("TARGET", repr(target)), encoding="utf-8")
    page.goto(f"{site_origin}/other.html")
    page.wait_for_function("() => window.results !== undefined")
    results = page.evaluate("window.results")
    assert results.get("status") == 403 and "dashboard's own origin" in results["body"], results
    assert len(live_mock.state()["apis"]["everydaypic"]["images"]) == 1


def test_with_a_control_token_the_dashboard_works_from_its_url_fragment(page):
    from support.live_server import LiveServer

    guarded = LiveServer(control_token="dashboard-token")
    try:
        upload(guarded.url, "everydaypic")
        page.goto(f"{guarded.url}/__mock__/ui/#token=dashboard-token")
        page.wait_for_selector("body[data-ready='true']")
        page.wait_for_selector("#live.on")
        page.wait_for_selector("#gallery .card[data-api='everydaypic'] img")
        assert "token" not in page.url  # the fragment is taken out of the address bar
        upload(guarded.url, "everydaypic")
        page.wait_for_function("() => document.querySelectorAll('#request-rows tr.request').length === 2")
    finally:
        page.goto("about:blank")  # the feed closes before the server stops
        guarded.stop()
