"""Reads what each seed document names: its operations and every field name, so drift fails a test.

The seeds come in three shapes (Widdershins markdown, an Evotor docs page, an API-blueprint page with a
raw example request); each gets a reader that only extracts, never interprets.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from urllib.parse import parse_qsl

_FENCED_JSON = re.compile(r"```json\n(.*?)```", re.S)


def _json_keys(value, out: set[str]) -> set[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(k)
            _json_keys(v, out)
    elif isinstance(value, list):
        for v in value:
            _json_keys(v, out)
    return out


def _table_names(text: str) -> set[str]:
    """First column of the markdown tables headed ``Name``: the parameter and property tables.

    Widdershins lists the request body as a pseudo-parameter named ``body`` (in: body); it is the body,
    not a field, and its fields follow as ``» name`` rows.
    """
    names, in_name_table = set(), False
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if not cells:
            in_name_table = False
        elif cells[0] in {"Name", "Имя"}:
            in_name_table = True
        elif in_name_table and not set(cells[0]) <= set("-: "):
            name = cells[0].lstrip("» ").strip("`")
            if not (name == "body" and len(cells) > 1 and cells[1] == "body"):
                names.add(name)
    return names


def _keys_of_fenced_json(text: str) -> set[str]:
    keys: set[str] = set()
    for block in _FENCED_JSON.findall(text):
        _json_keys(json.loads(block), keys)
    return keys


def operations(seed: Path) -> set[tuple[str, str]]:
    text = seed.read_text(encoding="utf-8")
    found = re.findall(r"^`(GET|POST|PUT|PATCH|DELETE) (/\S*)`$", text, re.M)  # Widdershins
    found += re.findall(r"^ {4}(GET|POST|PUT|PATCH|DELETE) (/\S*)$", text, re.M)  # Evotor docs
    found += re.findall(r"^### (GET|POST|PUT|PATCH|DELETE) (/\S*)$", text, re.M)  # API blueprint
    return {(method.lower(), re.sub(r":(\w+)", r"{\1}", path)) for method, path in found}


def field_names(seed: Path) -> set[str]:
    """Parameter, body-field and schema-property names the seed shows, in tables and example bodies."""
    text = seed.read_text(encoding="utf-8")
    names = _table_names(text) | _keys_of_fenced_json(text)
    for pre in re.findall(r"<pre>(.*?)</pre>", text, re.S):
        pre = html.unescape(pre).strip()
        if pre.startswith("{"):
            _json_keys(json.loads(pre), names)
        elif "=" in pre and "\n" not in pre and not pre.startswith(("POST", "GET")):
            for key, _ in parse_qsl(pre, keep_blank_values=True):
                names.update(p for p in re.split(r"[\[\]]+", key) if p)
    names.discard("*anonymous*")  # Widdershins' name for an unnamed top-level array
    return names
