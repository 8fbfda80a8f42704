"""Request-body validators: Connexion's, where they fall short of the seeds or of ALL-01.

Bracket-nested form bodies (``a[b][c]=v``, ``a[]=v``), as Rails/Rack clients send them.

OpenAPI describes them as ``deepObject`` form fields, but Connexion's form validator only knows flat
fields (it rejects the sharinpix seed's own request), so the body is decoded here and validated against
the spec's schema, still inside Connexion's validation middleware.
"""

from __future__ import annotations

import functools
import re
import typing as t
from urllib.parse import parse_qsl

from connexion.exceptions import BadRequestProblem
from connexion.validators.form_data import FormDataValidator, MultiPartFormDataValidator
from connexion.validators.json import JSONRequestBodyValidator
from starlette.formparsers import MultiPartException, MultiPartParser, parse_options_header

from mockserver.connexion_ext.compiled_schemas import CompiledRequestBody
from mockserver.layers.gate import Refused, check_text, check_value, utf8
from mockserver.request_state import DECODED_FORM, close_at_end, shared

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
MAX_DEPTH = 8
MAX_JSON_DEPTH = 32  # far beyond any body of the specs, far below the interpreter's recursion limit
MAX_JSON_VALUES = 100_000  # commas, objects and arrays of a JSON body (an over-count: strings hold some)


def decode_bracket_form(pairs: t.Iterable[tuple[str, str]]) -> dict:
    """Rack's nesting rules for the shapes the seeds use; a key contradicting an earlier one is an error."""
    result: dict = {}
    for key, value in pairs:
        if not key:
            continue  # Rack ignores an empty key (``=x``)
        match = _KEY.match(key)
        if not match:
            raise ValueError(f"malformed form key {key!r}")
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        if len(parts) > MAX_DEPTH:
            raise ValueError(f"form key {key!r} nests deeper than {MAX_DEPTH} levels")
        node = result
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":
                raise ValueError(f"malformed form key {key!r}: '[]' must come last")
            if last:
                _set_leaf(node, part, value, key)
            elif parts[i + 1] == "" and i + 1 == len(parts) - 1:
                existing = node.setdefault(part, [])
                if not isinstance(existing, list):
                    raise ValueError(f"form key {key!r} conflicts with an earlier key")
                existing.append(value)
                break
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise ValueError(f"form key {key!r} conflicts with an earlier key")
                node = child
    return _index_maps_to_lists(result)


def _index_maps_to_lists(node):
    """``a[0]=x&a[1]=y`` (qs/OpenAPI-generator style) means the same list as ``a[]=x&a[]=y`` (Rack)."""
    if isinstance(node, dict):
        node = {k: _index_maps_to_lists(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node) and sorted(map(int, node)) == list(range(len(node))):
            return [node[str(i)] for i in range(len(node))]
    elif isinstance(node, list):
        return [_index_maps_to_lists(v) for v in node]
    return node


def _set_leaf(node: dict, part: str, value: str, key: str) -> None:
    """A repeated key is a list, as OpenAPI's ``form``/``explode`` encodes arrays (``k=a&k=b``)."""
    if part not in node:
        node[part] = value
    elif isinstance(node[part], str):
        node[part] = [node[part], value]
    elif isinstance(node[part], list):
        node[part].append(value)
    else:
        raise ValueError(f"form key {key!r} conflicts with an earlier key")


def decode_form_bytes(body: bytes) -> dict:
    """UTF-8 throughout, percent-escapes included (``%ED%A0%80`` is no text): else ValueError."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="strict")
    except UnicodeDecodeError as exc:
        raise ValueError("the form body is not UTF-8 text (percent-escapes included)") from exc
    return decode_bracket_form(pairs)


class BracketFormValidator(CompiledRequestBody, FormDataValidator):
    """Connexion's form validator, with bracket-nested keys decoded before schema validation."""

    async def _parse(self, stream: t.AsyncGenerator[bytes, None], scope) -> dict:
        body = b"".join([chunk async for chunk in stream])
        try:
            decoded = decode_form_bytes(body)
        except ValueError as exc:
            raise BadRequestProblem(detail=str(exc)) from exc
        # Connexion re-parses the body flat for the handler, joining repeated keys with commas (lossy);
        # the handler takes this decoding instead (see decoded_form).
        scope[DECODED_FORM] = decoded
        return decoded

    def _validate_params_strictly(self, data: dict) -> None:
        return None  # nested keys are checked by the schema itself


def decoded_form(request) -> dict | None:
    """The bracket form as BracketFormValidator decoded it for this request."""
    return request.scope.get(DECODED_FORM)


class _ClosingMultiPartParser(MultiPartParser):
    """Starlette's parser, stricter where it lets bad bodies through: no Content-Type is a KeyError (a 500),
    and a body cut off before its closing boundary parses as the parts that were complete (python-multipart's
    ``finalize`` does not check the end), leaving the cut part's temporary file open. Text (a part's value,
    name and file name) must be UTF-8 (Starlette falls back to Latin-1), and a text part that is not an
    array in the schema comes once (Connexion would join the values with commas)."""

    _ended = False

    def __init__(self, headers, stream, *, schema: dict, scope: dict):
        super().__init__(headers, stream)
        self.schema = schema  # the operation's body schema
        self.scope = scope

    def on_part_begin(self) -> None:
        self._charset = "utf-8"  # whatever the Content-Type names (mockserver.layers.gate)
        super().on_part_begin()

    def on_part_end(self) -> None:
        if self._current_part.file is None:
            _strict_text(bytes(self._current_part.data), f"the part {self._current_part.field_name!r}")
        super().on_part_end()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._current_part.content_disposition)
        for key in (b"name", b"filename"):
            if key in options:
                _strict_text(options[key], f"a part's {key.decode()}")
        super().on_headers_finished()

    def on_end(self) -> None:
        self._ended = True  # python-multipart calls it at the closing boundary only

    async def parse(self):
        if "content-type" not in self.headers:
            raise MultiPartException("the request has no Content-Type (multipart/form-data; boundary=...)")
        try:
            form = await super().parse()
            if not self._ended:
                raise MultiPartException("the body ends before its closing boundary (truncated)")
            properties = self.schema.get("properties", {})
            for name in {key for key, value in form.multi_items() if isinstance(value, str)}:
                count = len(form.getlist(name))
                if count > 1 and properties.get(name, {}).get("type") != "array":
                    raise MultiPartException(f"the part {name!r} comes {count} times; it takes one value")
        except BaseException:
            for file in self._files_to_close_on_error:  # every part's file, complete or cut off
                file.close()
            raise
        state = shared(self.scope)
        if state is not None:
            state["parsed_form"] = form  # the handler and the journal read this one: parsed once
        close_at_end(self.scope, (value for _, value in form.multi_items()))
        return form


class ClosingMultiPartValidator(CompiledRequestBody, MultiPartFormDataValidator):
    """Connexion's multipart validator, with the stricter parser above. Connexion parsed the body again
    for the handler (and the journal a third time); the form parsed here is kept for both (``parsed_form``
    of ``mockserver.request_state.shared``, read by ``mockserver.connexion_ext.parameters``), and its files
    are closed when
    the request is over, or at once when the body is refused."""

    _scope: dict | None = None  # the request's, set as its body is parsed

    async def _parse(self, stream, scope):
        self._scope = scope
        return await super()._parse(stream, scope)

    @property
    def _form_parser_cls(self):
        return functools.partial(_ClosingMultiPartParser, schema=self._schema, scope=self._scope)


def _strict_text(data: bytes, where: str) -> None:
    try:
        check_text(utf8(data, where), where)
    except Refused as exc:
        raise MultiPartException(str(exc)) from exc


def json_depth_exceeds(value, limit: int) -> bool:
    """Whether arrays/objects nest deeper than ``limit`` (iterative: the value may be nested ~1000 deep)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return False


class Utf8JSONValidator(CompiledRequestBody, JSONRequestBodyValidator):
    """Connexion's JSON validator lets a body that is not UTF-8 escape as UnicodeDecodeError (a 500), and
    a body nested ~1000 deep as RecursionError from ``json.loads`` or, just under that, from jsonschema's
    error message (a 500 too); no body of the specs nests deeper than a few levels."""

    async def _parse(self, stream, scope):
        too_deep = f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels"
        raw = b"".join([chunk async for chunk in stream])
        # Counted before parsing: ``[{},{},…]`` of 8 MiB would be ~3 million Python objects (~200 MiB).
        if raw.count(b",") + raw.count(b"{") + raw.count(b"[") > MAX_JSON_VALUES:
            raise BadRequestProblem(detail=f"the JSON body holds more than {MAX_JSON_VALUES} values")

        async def replay():
            yield raw

        try:
            body = await super()._parse(replay(), scope)
        except UnicodeDecodeError as exc:
            raise BadRequestProblem(detail=f"the JSON body is not valid UTF-8: {exc.reason}") from exc
        except RecursionError as exc:
            raise BadRequestProblem(detail=too_deep) from exc
        if json_depth_exceeds(body, MAX_JSON_DEPTH):
            raise BadRequestProblem(detail=too_deep)
        try:
            check_value(body, schema=self._schema)  # lone surrogates, integers beyond range, NaN (gate)
        except Refused as exc:
            raise BadRequestProblem(detail=str(exc)) from exc
        return body
