"""A real page in headless Chromium (Debian's ``chromium``, driven by Playwright), served from a second
origin: it uploads through each of the five APIs with ``credentials: 'include'``, shows each image
(sharinpix's thumbnail included), and reads the request journal; a page sending one request the spec
refuses sees that request's verdict name the rule; a page from a hostile origin can neither read nor
change anything. ``.ci/run`` installs Chromium, so in CI (``CI`` set)
a missing browser fails instead of skipping."""

from __future__ import annotations

import functools
import json
import threading
import uuid
from http.server import ThreadingHTTPServer

import httpx
import pytest
from support.browser import (
    HOSTILE_HOST,
    PAGE_TIMEOUT_MS,
    QuietHandler,
    chromium,
)
from support.images import image_bytes

from image_api_contracts import auth_headers
from image_api_contracts.devtokens import DEV_ALBUM


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Chromium on a fresh profile, for the whole module."""
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture(scope="module")
def page_site(tmp_path_factory):
    """A tiny static server on 127.0.0.1 (another port, so another origin): ``(directory, origin)``."""
    directory = tmp_path_factory.mktemp("site")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, name="page-site", daemon=True)
    thread.start()
    yield directory, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_page(browser, page_site, name: str, script: str, origin: str | None = None, **values) -> dict:
    """Serve ``script`` in a page of the second origin (or ``origin``, served by the same site), run it, and
    return what it left in window.results."""
    directory, site_origin = page_site
    origin = origin or site_origin
    constants = "".join(f"const {key} = {json.dumps(value)};\n" for key, value in values.items())
    html = (
        "<!doctype html><meta charset='utf-8'><title>frontend</title><body>\n<script type='module'>\n"
        f"{constants}{PAGE_HELPERS}{script}\n"
        "run().then((r) => { window.results = r; })"
        ".catch((e) => { window.results = {page_error: String(e), sent}; })"
        ".finally(() => { window.done = true; });\n</script>"
    )
    (directory / f"{name}.html").write_text(html, encoding="utf-8")
    page = browser.new_page()
    try:
        page.goto(f"{origin}/{name}.html")
        page.wait_for_function("window.done === true", timeout=PAGE_TIMEOUT_MS)
        results = page.evaluate("window.results")
    finally:
        page.close()
    assert "page_error" not in results, results
    return results


PAGE_HELPERS = """
const sent = [];  // every fetch the page made to the mock: {method, path, status}
async function call(method, url, init = {}) {
  const response = await fetch(url, {method, credentials: "include", ...init});
  sent.push({method, path: new URL(url).pathname, status: response.status});
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
  return response;
}
function pngOf(width, height, color) {
  const canvas = document.createElement("canvas");
  canvas.width = width; canvas.height = height;
  const pen = canvas.getContext("2d"); pen.fillStyle = color; pen.fillRect(0, 0, width, height);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
}
function show(api, url) {  // an <img> of the URL the API handed out; resolves once it loaded (or failed)
  return new Promise((resolve) => {
    const img = new Image();
    const path = new URL(url).pathname;
    img.onload = () => resolve({api, path, width: img.naturalWidth, height: img.naturalHeight});
    img.onerror = () => resolve({api, path, failed: true});
    img.src = url;
    document.body.appendChild(img);
  });
}
async function journal() {
  const response = await fetch(`${MOCK}/__mock__/requests`, {credentials: "include"});
  return (await response.json()).requests;
}
"""

UPLOAD_THROUGH_EACH_API = """
async function run() {
  const png = await pngOf(300, 300, "#3a7bd5");
  const shown = [];
  let form = new FormData();
  form.append("file", png, "shoe.png"); form.append("fileName", "shoe.png"); form.append("name", "shoe");
  const [picture] = await (await call("POST", `${MOCK}/everydaypic/v1/image`, {body: form})).json();
  shown.push(await show("everydaypic", `${MOCK}/everydaypic/v1/image/${picture.id}`));

  form = new FormData(); form.append("datafile", png, "shoe.png");
  const product = `${MOCK}/evotor/stores/store-1/products/product-1/images`;
  const evotor = await (await call("POST", product, {body: form, headers: AUTH.evotor})).json();
  shown.push(await show("evotor", evotor.url));

  form = new FormData(); form.append("file", png, "shoe.png");
  const uploaded = await (await call("POST", `${MOCK}/image-upload/UploadImage`,
                                     {body: form, headers: AUTH["image-upload"]})).json();
  shown.push(await show("image-upload", uploaded.data.mediaLink));

  const cloudinary = new URLSearchParams(SHARINPIX_FORM);
  const album = `${MOCK}/sharinpix/api/v1/albums/${ALBUM}/images/`;
  const sharinpix = await (await call("POST", album, {body: cloudinary, headers: AUTH.sharinpix})).json();
  shown.push(await show("sharinpix", sharinpix.thumbnails.mini));

  const record = {filename: "shoe.png", size: png.size, tags: ["shoe"]};
  const created = await (await call("POST", `${MOCK}/tagged-images/v1/images`,
      {body: JSON.stringify(record), headers: {"Content-Type": "application/json"}})).json();
  await call("PUT", created.upload_url, {body: png, headers: {"Content-Type": "image/png"}});
  const image = await (await call("GET", `${MOCK}/tagged-images/v1/images/${created.id}`)).json();
  shown.push(await show("tagged-images", image.url));
  return {sent, shown, journal: await journal()};
}
"""

BREAK_THE_CONTRACT = """
async function run() {
  const response = await fetch(`${MOCK}/tagged-images/v1/images?page=first`, {credentials: "include"});
  return {status: response.status, error: await response.json(), journal: await journal()};
}
"""

SHARINPIX_FORM = {
    "cloudinary[public_id]": str(uuid.UUID(int=1)),
    "cloudinary[version]": "1484586860",
    "cloudinary[width]": "295",
    "cloudinary[height]": "171",
    "cloudinary[format]": "jpg",
    "cloudinary[bytes]": "10668",
    "cloudinary[original_filename]": "download",
    "cloudinary[colors][]": "#EBF1F9",
    "metadatas[meta]": "data",
}


def test_a_page_on_another_origin_uploads_through_every_api_and_shows_each_image(
    browser, page_site, live_mock
):
    live_mock.reset()
    auth = {api: auth_headers(api) for api in ("evotor", "image-upload", "sharinpix")}
    page_origin = page_site[1].replace("127.0.0.1", "localhost")  # a dev server's usual origin
    results = run_page(
        browser,
        page_site,
        "upload",
        UPLOAD_THROUGH_EACH_API,
        origin=page_origin,
        MOCK=live_mock.url,
        AUTH=auth,
        ALBUM=DEV_ALBUM,
        SHARINPIX_FORM=SHARINPIX_FORM,
    )
    sizes = {image["api"]: (image.get("width"), image.get("height")) for image in results["shown"]}
    assert sizes == {
        "everydaypic": (300, 300),
        "evotor": (300, 300),
        "image-upload": (300, 300),
        "sharinpix": (295, 171),  # the placeholder has the recorded size
        "tagged-images": (300, 300),
    }, results["shown"]
    # One journal entry per request the page sent and per image it showed, in order; CORS preflights
    # are not requests of the contract and are not kept. Every request to an API honoured its spec;
    # the file URLs the mock handed out are outside every spec ("unjudged").
    journal = results["journal"]
    expected = [(r["method"], r["path"], r["status"]) for r in results["sent"]]
    expected += [("GET", image["path"], 200) for image in results["shown"]]
    got = [(e["method"], e["path"], e["response"]["status"]) for e in journal]
    assert sorted(got) == sorted(expected), json.dumps(journal, indent=1)
    for entry in journal:
        verdict = "unjudged" if entry["path"].startswith("/__mock__/files/") else "honoured"
        assert entry["contract"]["verdict"] == verdict, entry
    assert {e["api"] for e in journal if e["contract"]["verdict"] == "honoured"} == {
        "everydaypic",
        "evotor",
        "image-upload",
        "sharinpix",
        "tagged-images",
    }
    credentialed = [e for e in journal if e["api"] in auth and e["method"] == "POST"]
    assert len(credentialed) == 3 and all(
        e["headers"].get("x-authorization", e["headers"].get("authorization", "")).endswith("[redacted]")
        for e in credentialed
    )
    fetched = {(r["method"], r["path"]) for r in results["sent"]}
    assert all(e["headers"]["origin"] == page_origin for e in journal if (e["method"], e["path"]) in fetched)


def test_a_page_sending_a_request_the_spec_refuses_sees_its_verdict_name_the_rule(
    browser, page_site, live_mock
):
    live_mock.reset()
    results = run_page(browser, page_site, "broken", BREAK_THE_CONTRACT, MOCK=live_mock.url)
    assert results["status"] == 400
    assert results["error"]["code"] == 400 and results["error"]["message"]  # readable cross-origin
    [entry] = results["journal"]
    assert entry["operation"] == "listImages" and entry["query"] == {"page": ["first"]}
    assert entry["contract"]["verdict"] == "broken" and entry["contract"]["rule"] == "ALL-03"
    assert "'first' is not of type 'integer'" in entry["contract"]["messages"][0]


HOSTILE_PAGE = """
async function run() {
  const tried = {};
  async function attempt(name, method, path, init = {}) {
    try {
      const response = await fetch(`${MOCK}${path}`, {method, credentials: "include", ...init});
      tried[name] = {status: response.status, body: await response.text()};
    } catch (error) {
      tried[name] = {blocked: String(error)};
    }
  }
  await attempt("journal", "GET", "/__mock__/requests");
  await attempt("state", "GET", "/__mock__/state");
  await attempt("file", "GET", FILE_PATH);
  await attempt("behaviour", "POST", "/__mock__/behaviour",
                {body: JSON.stringify({latency_ms: 30000}), headers: {"Content-Type": "application/json"}});
  await attempt("fixtures", "POST", "/__mock__/fixtures", {body: JSON.stringify({dir: "/"})});
  await attempt("delete", "DELETE", `/everydaypic/v1/image/${IMAGE_ID}`);
  // Simple requests need no preflight: the page cannot read their answers, but they reach the server.
  const form = new FormData();
  form.append("file", new Blob(["not much"], {type: "image/png"}), "x.png");
  form.append("fileName", "x.png"); form.append("name", "x");
  const simple = [
    fetch(`${MOCK}/__mock__/reset`, {method: "POST", mode: "no-cors", body: "wipe"}),
    fetch(`${MOCK}/everydaypic/v1/image`, {method: "POST", mode: "no-cors", body: form}),
    fetch(`${MOCK}/__mock__/requests`, {method: "DELETE", mode: "no-cors"}),
  ];
  await Promise.allSettled(simple);
  const pixels = await new Promise((resolve) => {  // an <img> loads, but its pixels stay unreadable
    const img = new Image();
    img.onload = () => {
      const canvas = document.createElement("canvas");
      canvas.getContext("2d").drawImage(img, 0, 0);
      try { canvas.getContext("2d").getImageData(0, 0, 1, 1); resolve("read"); }
      catch (error) { resolve("tainted"); }
    };
    img.onerror = () => resolve("refused");
    img.src = `${MOCK}${FILE_PATH}`;
  });
  return {tried, pixels};
}
"""


def test_a_page_from_a_hostile_origin_can_neither_read_nor_change_anything(browser, page_site, live_mock):
    live_mock.reset()
    files = {"file": ("a.png", image_bytes(), "image/png")}
    form = {"fileName": "a.png", "name": "a"}
    created = httpx.post(f"{live_mock.url}/everydaypic/v1/image", files=files, data=form)
    assert created.status_code == 200, created.text
    image_id = created.json()[0]["id"]
    before, journal_before = live_mock.state(), live_mock.requests()
    hostile = f"http://{HOSTILE_HOST}:{page_site[1].rsplit(':', 1)[1]}"
    results = run_page(
        browser,
        page_site,
        "hostile",
        HOSTILE_PAGE,
        origin=hostile,
        MOCK=live_mock.url,
        FILE_PATH=f"/everydaypic/v1/image/{image_id}",
        IMAGE_ID=image_id,
    )
    assert all("blocked" in outcome for outcome in results["tried"].values()), results["tried"]
    assert results["pixels"] in ("tainted", "refused")
    assert live_mock.state() == before
    assert live_mock.behaviour() == {"latency_ms": 0, "status": None, "path_prefix": "/"}
    # Only the <img> reached an API (a no-cors GET carries no Origin): it displays, and stays unreadable.
    after = live_mock.requests()
    assert [e.id for e in after[: len(journal_before)]] == [e.id for e in journal_before]
    assert {(e.method, e.path) for e in after[len(journal_before) :]} <= {
        ("GET", f"/everydaypic/v1/image/{image_id}")
    }
