// The dashboard's behaviour: the gallery, the live journal, the controls. Text from the mock is only
// ever set as textContent (never parsed as HTML), and every call is same-origin.
const $ = (id) => document.getElementById(id);
const PAGE = 100;
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

// --control-token: open /__mock__/ui/#token=TOKEN; the page keeps it for the tab and sends it.
const tokenMatch = /(?:^#|&)token=([^&]+)/.exec(location.hash);
if (tokenMatch) {
  sessionStorage.setItem("mock-token", decodeURIComponent(tokenMatch[1]));
  history.replaceState(null, "", location.pathname);
}
const token = sessionStorage.getItem("mock-token");

function api(path, init = {}) {
  const headers = new Headers(init.headers || {});
  if (token) headers.set("X-Mock-Token", token);
  return fetch(path, {...init, headers, credentials: "same-origin"});
}

async function reasonOf(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    return body.message || body.detail || (body.errors && body.errors[0] && body.errors[0].reason) || text;
  } catch { return text; }
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-") || key.startsWith("aria-") || key === "title" || key === "role") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function say(text) { $("message").textContent = text; }

// -- the gallery ---------------------------------------------------------------------------------------
let galleryData = {};

async function loadGallery() {
  const response = await api("/__mock__/ui/api/records");
  if (!response.ok) { say(`the gallery could not load: ${await reasonOf(response)}`); return; }
  const body = await response.json();
  galleryData = body.apis;
  showBanner(body.behaviour);
  fillApiChoices(Object.keys(galleryData));
  renderGallery();
}

function fillApiChoices(names) {
  for (const select of [$("gallery-api"), $("filter-api")]) {
    if (select.options.length > 1) continue;
    for (const name of names) select.append(el("option", {value: name, text: name}));
  }
}

function renderGallery() {
  const only = $("gallery-api").value;
  const cards = [];
  let total = 0;
  for (const [name, group] of Object.entries(galleryData)) {
    if (only && name !== only) continue;
    total += group.count;
    for (const item of [...group.items].reverse()) cards.push(card(item));
  }
  $("gallery").replaceChildren(...cards);
  $("gallery-count").textContent = `${total} record${total === 1 ? "" : "s"}`;
}

function card(item) {
  const thumb = el("button", {type: "button", class: "thumb", title: `Open ${item.api} ${item.id} full size`},
    item.thumbnail ? el("img", {src: item.thumbnail, alt: `${item.api} image ${item.id}`, loading: "lazy"})
                   : el("span", {class: "muted", text: "no image uploaded"}));
  thumb.addEventListener("click", () => openViewer(item));
  const remove = el("button", {type: "button", class: "danger", text: "Delete", title: `Delete ${item.api} ${item.id}`});
  remove.addEventListener("click", () => deleteRecord(item));
  const size = item.size == null ? "" : `${item.size.toLocaleString()} bytes`;
  return el("li", {class: "card", "data-api": item.api, "data-id": item.id},
    thumb,
    el("strong", {text: item.api}),
    el("code", {text: item.id}),
    el("span", {class: "muted", text: [item.media_type, size].filter(Boolean).join(" · ")}),
    item.sha256 ? el("code", {class: "muted", title: `SHA-256 ${item.sha256}`, text: `sha256 ${item.sha256.slice(0, 12)}…`}) : null,
    remove);
}

function openViewer(item) {
  $("viewer-title").textContent = `${item.api} · ${item.id}`;
  const image = $("viewer-image");
  image.hidden = !item.full;
  if (item.full) { image.src = item.full; image.alt = `${item.api} image ${item.id}, full size`; }
  const facts = [["media type", item.media_type], ["size", item.size == null ? "unknown" : `${item.size} bytes`],
                 ["SHA-256", item.sha256 || "no stored bytes"], ["bytes read from", item.full || "nothing"]];
  $("viewer-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {text: k}), el("dd", {text: v})]));
  $("viewer-record").textContent = JSON.stringify(item.record, null, 2);
  $("viewer").showModal();
}

async function deleteRecord(item) {
  const path = `/__mock__/ui/api/records/${encodeURIComponent(item.api)}/${encodeURIComponent(item.id)}`;
  const response = await api(path, {method: "DELETE"});
  say(response.ok ? `deleted ${item.api} ${item.id}` : `not deleted: ${await reasonOf(response)}`);
  await loadGallery();
}

let galleryTimer = null;
function galleryLater() {  // 150 ms after a write; the writes meanwhile ride along
  if (galleryTimer) return;
  galleryTimer = setTimeout(() => { galleryTimer = null; loadGallery(); }, 150);
}

// -- the journal ---------------------------------------------------------------------------------------
const rows = new Map();  // entry id -> its <tr>
let olderCursor = null;
let newestId = 0;

function filters() {
  const query = new URLSearchParams();
  if ($("filter-api").value) query.set("api", $("filter-api").value);
  if ($("filter-verdict").value) query.set("verdict", $("filter-verdict").value);
  const status = $("filter-status").value.trim();
  if (/^[1-5]([0-9]{2}|xx)$/i.test(status)) query.set("status", status);
  return query;
}

function matches(entry) {
  const f = filters();
  if (f.get("api") && entry.api !== f.get("api")) return false;
  if (f.get("verdict") && entry.contract.verdict !== f.get("verdict")) return false;
  const status = f.get("status");
  if (status) {
    const code = String(entry.response.status);
    if (/xx$/i.test(status) ? code[0] !== status[0] : code !== status) return false;
  }
  return true;
}

function reasonText(entry) {
  if (entry.contract.verdict === "broken") {
    return [entry.contract.rule, ...(entry.contract.messages || [])].filter(Boolean).join(": ");
  }
  return entry.response.error || "";
}

function row(entry) {
  const verdict = entry.contract.verdict;
  const reason = reasonText(entry);
  const tr = el("tr", {class: "request", tabIndex: 0, "data-id": entry.id, "data-api": entry.api || "",
                       "data-verdict": verdict, "data-status": entry.response.status, "aria-expanded": "false"},
    el("td", {class: "time", text: entry.time.slice(11, 23)}),
    el("td", {class: "api", text: entry.api || "—"}),
    el("td", {class: "method", text: entry.method}),
    el("td", {class: "path", text: entry.path + queryText(entry.query)}),
    el("td", {class: `status status-${String(entry.response.status)[0]}`, text: String(entry.response.status)}),
    el("td", {class: "verdict-cell"}, el("span", {class: `verdict ${verdict}`, text: verdict}),
       reason ? el("span", {class: "reason", text: reason}) : null));
  const toggle = () => toggleDetails(tr, entry);
  tr.addEventListener("click", toggle);
  tr.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggle(); }
  });
  return tr;
}

function queryText(query) {
  const pairs = Object.entries(query || {}).flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`));
  return pairs.length ? `?${pairs.join("&")}` : "";
}

function toggleDetails(tr, entry) {
  const next = tr.nextElementSibling;
  if (next && next.classList.contains("details")) {
    next.remove(); tr.setAttribute("aria-expanded", "false"); return;
  }
  const copy = el("button", {type: "button", class: "copy-curl", text: "Copy as curl"});
  const curlText = curl(entry);
  const output = el("pre", {class: "curl", text: curlText, hidden: true});
  copy.addEventListener("click", async (event) => {
    event.stopPropagation();
    output.hidden = false;
    try { await navigator.clipboard.writeText(curlText); say("copied as curl (credentials stay redacted)"); }
    catch { say("select the command below to copy it"); }
  });
  const parts = [
    el("p", {}, el("strong", {text: "response "}), `${entry.response.status} ${entry.response.media_type || ""}`,
       ` · ${entry.duration_ms} ms · operation ${entry.operation || "none"}`),
    entry.contract.messages && entry.contract.messages.length
      ? el("p", {class: "reason", text: `contract: ${reasonText(entry)}`}) : null,
    entry.response.error ? el("p", {class: "reason", text: `the mock refused: ${entry.response.error}`}) : null,
    el("strong", {text: "request headers (credentials redacted)"}),
    el("pre", {class: "headers", text: Object.entries(entry.headers).map(([k, v]) => `${k}: ${v}`).join("\n")}),
    el("strong", {text: "body"}),
    el("pre", {class: "body", text: entry.body ? JSON.stringify(entry.body, null, 2) : "no body"}),
    copy, output];
  const details = el("tr", {class: "details"}, el("td", {colSpan: 6}, ...parts));
  tr.after(details);
  tr.setAttribute("aria-expanded", "true");
}

function shellQuote(text) { return `'${String(text).replace(/'/g, "'\\''")}'`; }

const SKIPPED_HEADERS = new Set(["host", "content-length", "connection", "accept-encoding", "origin", "referer"]);

function curl(entry) {
  const url = `${location.origin}${entry.path}${queryText(entry.query)}`;
  const out = [`curl -X ${entry.method} ${shellQuote(url)}`];
  const body = entry.body;
  const multipart = body && body.media_type === "multipart/form-data";
  for (const [name, value] of Object.entries(entry.headers)) {
    if (SKIPPED_HEADERS.has(name) || name.startsWith("sec-") || (multipart && name === "content-type")) continue;
    out.push(`-H ${shellQuote(`${name}: ${value}`)}`);
  }
  if (body && body.fields && body.media_type === "application/json") {
    out.push(`--data-raw ${shellQuote(JSON.stringify(body.fields))}`);
  } else if (multipart) {
    for (const [name, value] of Object.entries(body.fields || {})) {
      for (const v of [].concat(value)) out.push(`-F ${shellQuote(`${name}=${v}`)}`);
    }
    for (const [name, file] of Object.entries(body.files || {})) {
      for (const f of [].concat(file)) out.push(`-F ${shellQuote(`${name}=@${f.filename || "file"};type=${f.media_type}`)}`);
    }
  } else if (body && body.fields) {
    for (const [name, value] of Object.entries(body.fields)) {
      for (const v of [].concat(value)) out.push(`--data-urlencode ${shellQuote(`${name}=${v}`)}`);
    }
  } else if (body && body.size) {
    out.push(`--data-binary @body.bin  # ${body.size} bytes of ${body.media_type}, sha256 ${body.sha256}`);
  }
  return out.join(" \\\n  ");
}

async function loadJournal() {
  const query = filters();
  query.set("limit", String(PAGE));
  const response = await api(`/__mock__/requests?${query}`);
  if (!response.ok) { say(`the journal could not load: ${await reasonOf(response)}`); return; }
  const body = await response.json();
  rows.clear();
  $("request-rows").replaceChildren();
  for (const entry of body.requests) addRow(entry);
  olderCursor = body.next_cursor;
  $("older").hidden = !olderCursor;
}

async function loadOlder() {
  if (!olderCursor) return;
  const query = filters();
  query.set("limit", String(PAGE));
  query.set("cursor", olderCursor);
  const response = await api(`/__mock__/requests?${query}`);
  if (!response.ok) return;
  const body = await response.json();
  const tbody = $("request-rows");
  for (const entry of [...body.requests].reverse()) {
    const tr = row(entry); rows.set(entry.id, tr); tbody.append(tr);
  }
  olderCursor = body.next_cursor;
  $("older").hidden = !olderCursor;
}

function addRow(entry) {  // newest on top
  newestId = Math.max(newestId, entry.id);
  if (rows.has(entry.id) || !matches(entry)) return;
  const tr = row(entry);
  rows.set(entry.id, tr);
  $("request-rows").prepend(tr);
}

// -- the live feed (server-sent events, read with fetch so the control token can travel) --------------
let feedAbort = null;

async function follow() {
  for (;;) {
    feedAbort = new AbortController();
    try {
      const response = await api(`/__mock__/requests/feed?since=${newestId}`, {signal: feedAbort.signal,
                                 headers: {Accept: "text/event-stream"}});
      if (!response.ok) throw new Error(await reasonOf(response));
      live(true);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          handleEvent(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (error) {
      if (error.name === "AbortError") return;
      live(false, String(error.message || error));
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function handleEvent(block) {
  let type = "message", data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) type = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  if (type !== "request" || !data) return;
  const entry = JSON.parse(data);
  addRow(entry);
  if (!SAFE.has(entry.method) && entry.response.status < 400) galleryLater();
}

function live(on, why = "") {
  const node = $("live");
  node.className = `live ${on ? "on" : "off"}`;
  node.textContent = on ? "live" : `reconnecting… ${why}`;
}

// -- controls ------------------------------------------------------------------------------------------
function showBanner(behaviour) {
  const banner = $("banner");
  const active = behaviour && (behaviour.status != null || behaviour.latency_ms > 0);
  banner.hidden = !active;
  if (!active) { banner.textContent = ""; return; }
  const parts = [];
  if (behaviour.status != null) parts.push(`every request answers ${behaviour.status}`);
  if (behaviour.latency_ms > 0) parts.push(`every request waits ${behaviour.latency_ms} ms`);
  banner.textContent = `Forced behaviour under ${behaviour.path_prefix}: ${parts.join(", ")}.`;
}

async function control(method, path, body, done) {
  const init = {method};
  if (body !== undefined) { init.body = JSON.stringify(body); init.headers = {"Content-Type": "application/json"}; }
  const response = await api(path, init);
  if (!response.ok) { say(`${method} ${path}: ${response.status} ${await reasonOf(response)}`); return null; }
  say(done);
  return response.status === 204 ? {} : response.json();
}

function wire() {
  $("reset").addEventListener("click", async () => {
    if (await control("POST", "/__mock__/reset", undefined, "reset: no records, no files, empty journal")) {
      showBanner(null); await loadGallery(); await loadJournal();
    }
  });
  $("fixtures").addEventListener("click", async () => {
    const loaded = await control("POST", "/__mock__/fixtures", undefined, "fixtures loaded");
    if (loaded) { say(`fixtures loaded: ${JSON.stringify(loaded.loaded)}`); await loadGallery(); }
  });
  $("clear-journal").addEventListener("click", async () => {
    if (await control("DELETE", "/__mock__/requests", undefined, "journal cleared")) await loadJournal();
  });
  $("behaviour").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {path_prefix: $("force-prefix").value.trim() || "/"};
    const status = $("force-status").value.trim(), latency = $("force-latency").value.trim();
    if (status) body.status = Number(status);
    if (latency) body.latency_ms = Number(latency);
    const now = await control("POST", "/__mock__/behaviour", body, "forced behaviour on");
    if (now) showBanner(now);
  });
  $("clear-behaviour").addEventListener("click", async () => {
    const now = await control("DELETE", "/__mock__/behaviour", undefined, "forced behaviour off");
    if (now) showBanner(now);
  });
  $("gallery-api").addEventListener("change", renderGallery);
  for (const id of ["filter-api", "filter-verdict"]) $(id).addEventListener("change", loadJournal);
  $("filter-status").addEventListener("input", () => { clearTimeout(wire.timer); wire.timer = setTimeout(loadJournal, 200); });
  $("journal-filters").addEventListener("submit", (event) => { event.preventDefault(); loadJournal(); });
  $("older").addEventListener("click", loadOlder);
}

async function start() {
  wire();
  await Promise.all([loadGallery(), loadJournal()]);
  document.body.dataset.ready = "true";
  follow();
}

start();
