"""``--html PATH``: one self-contained HTML file a person can open anywhere (no network, no script):
the verdict, every rule with its status, level and the seed's own words, every break with the curl that
replays it, and for image rules the uploaded and the served image side by side with sizes and hashes."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from .report import ORDER, Report
from .rules import load_rules

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{margin:.2em 0}.verdict-FAILED{color:#b00020}.verdict-PASSED{color:#1b7e28}
table{border-collapse:collapse;width:100%;margin:1em 0}td,th{border-bottom:1px solid #ddd;padding:.35em .5em;
text-align:left;vertical-align:top}th{background:#f4f4f4}
.status{font-weight:700;white-space:nowrap}.status-fail{color:#b00020}.status-warn{color:#a15c00}
.status-pass{color:#1b7e28}.status-skip{color:#666}
blockquote{margin:.2em 0;color:#555;font-style:italic}.source{color:#888;font-size:.85em}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.break{border-left:4px solid #b00020;padding:.2em 1em;margin:1em 0}.break.warn{border-color:#a15c00}
.image-pair{display:flex;gap:1.5em;flex-wrap:wrap}.image-pair figure{margin:0;max-width:48%}
.image-pair img{width:240px;max-width:100%;image-rendering:pixelated;border:1px solid #ccc;background:
repeating-conic-gradient(#eee 0 25%,#fff 0 50%) 0 0/16px 16px}
figcaption{font-size:.85em;word-break:break-all}.hash{font-family:monospace}
"""


def _text(value: str) -> str:
    """Escaped, with bytes a server answered where text was due shown as dots, not as mojibake."""
    return escape("".join(c if c.isprintable() or c in "\n\t" else "·" for c in value))


def _data_uri(info: dict) -> str:
    data = Path(info["file"]).read_bytes()
    return f"data:{info['type']};base64,{base64.b64encode(data).decode()}"


def _figure(label: str, info: dict) -> str:
    try:
        img = f'<img alt="{escape(label)} image" src="{_data_uri(info)}">'
    except OSError:
        img = f"<p>({escape(info['file'])} is gone)</p>"
    return (
        f'<figure class="{escape(label)}">{img}<figcaption><b>{escape(label)}</b>: '
        f'<span class="size">{info["size"]} bytes</span>, {escape(info["type"])}<br>'
        f'sha256 <span class="hash">{escape(info["sha256"])}</span></figcaption></figure>'
    )


def render(report: Report) -> str:
    rules = load_rules()
    verdict = "FAILED" if report.failed else "PASSED"
    c = report.counts
    ordered = sorted(report.verdicts, key=lambda v: (ORDER[v.status], v.id))
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>conformance {escape(report.api)}: {verdict}</title><style>{STYLE}</style></head><body>",
        f'<h1 id="verdict" class="verdict-{verdict}">{verdict}</h1>',
        f"<p><b>{escape(report.api)}</b> @ <code>{escape(report.base_url)}</code>: {c['fail']} failed, "
        f"{c['warn']} warnings, {c['pass']} passed, {c['skip']} not exercised; "
        f"{report.duration_seconds:.1f}s, seed <span id=seed>{report.seed}</span></p>",
    ]
    if report.replay:
        out.append(f"<p>Replay this run:</p><pre id=replay>{escape(report.replay)}</pre>")
    out.append(
        '<h2>Rules</h2><table id="rules"><thead><tr><th>Status</th><th>Rule</th><th>Level</th>'
        "<th>What it says, and the seed's words</th></tr></thead><tbody>"
    )
    for v in ordered:
        rule = rules.get(v.id)
        quote = (
            f"<blockquote>{escape(rule.evidence_quote)}</blockquote>"
            f'<span class="source">{escape(rule.evidence_source)}</span>'
            if rule
            else ""
        )
        out.append(
            f'<tr class="rule" data-rule="{v.id}" data-status="{v.status}">'
            f'<td class="status status-{v.status}">{v.status.upper()}</td>'
            f'<td><a href="#{v.id}">{v.id}</a></td>'
            f"<td>{v.level}</td><td>{escape(v.rule)}{quote}</td></tr>"
        )
    out.append("</tbody></table>")
    broken = [v for v in ordered if v.failures]
    if broken:
        out.append("<h2>Breaks</h2>")
    for v in broken:
        out.append(f'<section class="rule-breaks" id="{v.id}"><h3>{v.status.upper()} {v.id} ({v.level})</h3>')
        for o in v.failures:
            out.append(f'<div class="break {o.status}"><p class="message">{_text(o.message)}</p>')
            if o.decision:
                out.append(f"<p>decision: {escape(o.decision)}</p>")
            if o.curl:
                out.append(f'<pre class="curl">{escape(o.curl)}</pre>')
            if o.images:
                out.append(
                    '<div class="image-pair">'
                    + _figure("uploaded", o.images["uploaded"])
                    + _figure("served", o.images["served"])
                    + "</div>"
                )
            out.append("</div>")
        out.append("</section>")
    skipped = [v for v in ordered if v.status == "skip"]
    if skipped:
        out.append("<h2>Not exercised</h2><ul id=not-exercised>")
        for v in skipped:
            reasons = list(dict.fromkeys(o.message for o in v.checks if o.status == "skip")) or [
                "no check ran"
            ]
            out.append(f"<li><b>{v.id}</b>: {_text(reasons[0][:300])}</li>")
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out)


def write_html(report: Report, path) -> None:
    Path(path).write_text(render(report), encoding="utf-8")
