"""A request's parameters parsed once, for Connexion's validator and its handler decorator alike.

Connexion parses the query string and the path parameters twice per request (a ``ConnexionRequest`` in
its parameter validator, another in the handler's parameter decorator), and its URI parser rebuilds its
schema table for every parameter it looks at; its decorator then runs three regular expressions per
argument name and logs an *error* for each query parameter the spec does not define (allowed by the
seeds: strict validation is off), one line on stderr per request.

Here, through Connexion's own hooks (``uri_parser_class`` of ``add_api``, the validator map, the
decorator's parameter class):

- :class:`TablesOnceURIParser` builds its tables once per operation;
- the parameter validator keeps what it parsed in the scope (:func:`keep_parsed`), and the decorator's
  request starts from it (:func:`reuse_parsed`), with the parameters the spec does not define left out,
  as Connexion's decorator leaves them out of the handler's arguments too;
- argument names are sanitised once per name (:func:`cached_sanitiser`);
- an operation without a request body gets its handler's arguments from tables built once
  (:class:`BodilessArguments`).
"""

from __future__ import annotations

import copy
import functools
from urllib.parse import parse_qsl

from connexion.decorators.parameter import CONTEXT_NAME, _get_val_from_param
from connexion.uri_parsing import OpenAPIURIParser

from mockserver.request_state import PARSED_PARAMETERS, shared

# id(parameter list) -> (that list, its definitions, their schemas, whether one is a deepObject)
_TABLES: dict[int, tuple[list, dict, dict, bool]] = {}


class TablesOnceURIParser(OpenAPIURIParser):
    """Connexion's OpenAPI URI parser, whose parameter tables are built once per operation, not per use."""

    def __init__(self, param_defns, body_defn):
        tables = _TABLES.get(id(param_defns))
        if tables is None or tables[0] is not param_defns:
            super().__init__(param_defns, body_defn)
            schemas = {k: v.get("schema", {}) for k, v in self._param_defns.items()}
            deep = any(p.get("style") == "deepObject" for p in self._param_defns.values())
            tables = (param_defns, self._param_defns, schemas, deep)  # holds the list: its id stays its own
            _TABLES[id(param_defns)] = tables
        else:
            self._param_defns = tables[1]
            self._body_schema = body_defn.get("schema", {})
            self._body_encoding = body_defn.get("encoding", {})
        self._param_schemas, self._has_deep_objects = tables[2], tables[3]

    @property
    def param_schemas(self):
        return self._param_schemas

    def resolve_query(self, query_data):
        """Connexion's, without its pass over every key for ``deepObject`` parameters when the
        operation has none (the pass then returns the keys as they are)."""
        if self._has_deep_objects:
            return super().resolve_query(query_data)
        return self.resolve_params(query_data, "query")


def query_lists(query_string: bytes) -> dict[str, list[str]]:
    """``{name: [values]}`` of a query string, as Connexion's request builds it from Starlette's
    ``QueryParams`` (``parse_qsl``, blank values kept). A query with nothing escaped (no ``%``, no ``+``)
    is split directly: ``parse_qsl`` cost a tenth of an uncached read."""
    text = query_string.decode("latin-1")
    if "%" in text or "+" in text:
        pairs = parse_qsl(text, keep_blank_values=True)
    else:
        pairs = [(piece.partition("=")[0], piece.partition("=")[2]) for piece in text.split("&") if piece]
    lists: dict[str, list[str]] = {}
    for name, value in pairs:
        lists.setdefault(name, []).append(value)
    return lists


def keep_parsed(scope, request) -> None:
    """After validation: what the validator's request parsed, for the decorator's request to reuse."""
    defined = request.uri_parser.param_defns
    query = {k: v for k, v in request._query_params.items() if k in defined}  # set by the validator
    # Connexion's memo of the path parameters: None when nothing read the path.
    scope[PARSED_PARAMETERS] = (query, request._path_params)


def keep_none_parsed(scope) -> None:
    """What :func:`keep_parsed` keeps for an operation that documents no parameter: no query parameter
    (the undocumented ones are left out) and no path read."""
    scope[PARSED_PARAMETERS] = ({}, None)


def reuse_parsed(scope, request) -> None:
    """The decorator's request starts from what the validators parsed: parameters and multipart form."""
    parsed = scope.get(PARSED_PARAMETERS)
    if parsed is not None:
        request._query_params, path = parsed
        if path is not None:
            request._path_params = path
    form = (shared(scope) or {}).get("parsed_form")
    if form is not None:
        request._starlette_request._form = form  # Starlette's own memo: request.form() returns it


def cached_sanitiser(sanitize):
    """Connexion's name sanitiser (three regular expressions), once per name; bounded, as clients choose
    names."""
    cached = functools.lru_cache(maxsize=4096)(sanitize)

    def sanitised(name):  # only short names are kept: the cache is bounded in bytes, not just count
        return cached(name) if len(name) <= 256 else sanitize(name)

    return sanitised


class BodilessArguments:
    """The handler's arguments for an operation without a request body, as Connexion's ``get_arguments``
    makes them (path parameters, query parameters over their defaults, each cast by its definition; the
    security context), with the operation's tables built once instead of on every request: the query
    definitions, their defaults and sanitised names (Connexion rebuilt, deep-copied and merged them per
    request: a seventh of an uncached read). ``usable`` is false where the shortcut would differ from
    Connexion (an object-typed query parameter, merged deeply); Connexion's own path is taken then."""

    def __init__(self, operation, sanitize, arguments: list, has_kwargs: bool):
        self.has_kwargs, self.arguments, self.sanitize = has_kwargs, set(arguments), sanitize
        self.path = {p["name"]: p for p in operation.parameters if p["in"] == "path"}
        self.query: dict[str, tuple[str, dict]] = {}
        self.defaults: dict[str, object] = {}
        self.usable = True
        for param in operation.parameters:
            if param["in"] != "query":
                continue
            schema = param.get("schema", {})
            if schema.get("type") == "object":
                self.usable = False
            key = sanitize(param["name"])
            if not (has_kwargs or key in self.arguments):
                continue
            self.query[param["name"]] = (key, param)
            if "default" in param or "default" in schema:
                default = param["default"] if "default" in param else schema["default"]
                self.defaults[key] = _get_val_from_param(default, param)

    def __call__(self, request) -> dict:
        kwargs = {k: copy.deepcopy(v) if isinstance(v, list | dict) else v for k, v in self.defaults.items()}
        for name, value in request.path_params.items():
            definition = self.path.get(name)
            kwargs[self.sanitize(name)] = _get_val_from_param(value, definition) if definition else value
        for name, value in request.query_params.items():
            entry = self.query.get(name)
            if entry is not None:
                kwargs[entry[0]] = _get_val_from_param(value, entry[1])
        for key, value in request.context.items():
            if self.has_kwargs or key in self.arguments:
                kwargs[key] = value
        if CONTEXT_NAME in self.arguments:
            kwargs[CONTEXT_NAME] = request.context
        return kwargs
