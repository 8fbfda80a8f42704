"""A request's parameters parsed once, for Connexion's validator and its handler decorator alike (issue 14).

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
- argument names are sanitised once per name (:func:`cached_sanitiser`).
"""

from __future__ import annotations

import functools

from connexion.uri_parsing import OpenAPIURIParser

PARSED = "mockserver.parsed_parameters"  # scope key: (query params, path params) as the validator parsed
_TABLES: dict[int, tuple[list, dict, dict]] = {}  # id(parameter list) -> (that list, defns, schemas)


class TablesOnceURIParser(OpenAPIURIParser):
    """Connexion's OpenAPI URI parser, whose parameter tables are built once per operation, not per use."""

    def __init__(self, param_defns, body_defn):
        tables = _TABLES.get(id(param_defns))
        if tables is None or tables[0] is not param_defns:
            super().__init__(param_defns, body_defn)
            schemas = {k: v.get("schema", {}) for k, v in self._param_defns.items()}
            _TABLES[id(param_defns)] = (param_defns, self._param_defns, schemas)  # holds the list: id stays
        else:
            self._param_defns = tables[1]
            self._body_schema = body_defn.get("schema", {})
            self._body_encoding = body_defn.get("encoding", {})
        self._param_schemas = _TABLES[id(param_defns)][2]

    @property
    def param_schemas(self):
        return self._param_schemas


def keep_parsed(scope, request) -> None:
    """After validation: what the validator's request parsed, for the decorator's request to reuse."""
    query = request._query_params  # Connexion's own memo of the parse: None when the operation defines
    path = request._path_params  # no query parameter (then none reaches the handler either)
    defined = request.uri_parser.param_defns
    query = {k: v for k, v in query.items() if k in defined} if query is not None else {}
    scope[PARSED] = (query, path)


def reuse_parsed(scope, request) -> None:
    parsed = scope.get(PARSED)
    if parsed is not None:
        query, path = parsed
        if query is not None:
            request._query_params = query
        if path is not None:
            request._path_params = path


def cached_sanitiser(sanitize):
    """Connexion's name sanitiser (three regular expressions), once per name; bounded, as clients choose
    names."""
    return functools.lru_cache(maxsize=4096)(sanitize)
