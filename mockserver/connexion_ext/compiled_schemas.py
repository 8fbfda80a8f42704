"""Parameter and response validation with compiled schemas: Connexion's checks, at a fraction of the cost.

Connexion builds a new ``jsonschema`` validator for every parameter and response and walks the schema in
Python; on a list of 20 images that was two thirds of the mock's time per request. Here each schema is
translated once from OpenAPI 3.0 to JSON Schema draft 4 (``nullable`` -> a ``"null"`` type, ``writeOnly``
-> forbidden, as Connexion's response validator treats them) and compiled with ``jsonschema-rs`` (already
installed for Schemathesis). A value the compiled schema rejects is handed to Connexion's own validator,
which has the last word and writes the error message; so a verdict can only differ where ``jsonschema-rs``
is more lenient than ``jsonschema`` (no such case is known for the specs' keywords and formats).
"""

from __future__ import annotations

import jsonschema_rs
import orjson
from connexion.exceptions import BadRequestProblem, NonConformingResponseBody
from connexion.utils import is_nullable
from connexion.validators import JSONResponseBodyValidator, ParameterValidator

from mockserver.connexion_ext.fastjson import encoded_from
from mockserver.connexion_ext.parameters import keep_none_parsed, keep_parsed, query_lists
from mockserver.connexion_ext.request_scope import connexion_request
from mockserver.layers.gate import Refused, check_integer, check_text
from mockserver.schema_cache import COMPILED, CompiledSchemas, openapi_to_jsonschema
from mockserver.state.records import accepting_stand_ins, with_stand_ins

# Records already validated (mockserver.state.records).
REPLIES = CompiledSchemas(transform=accepting_stand_ins)
REQUESTS = CompiledSchemas(reply=False)  # request bodies, as Connexion's request validator reads them


class _CompiledFirst:
    """A request body validator: the compiled schema's verdict when it accepts; else Connexion's own
    validator (built only then), which has the last word and writes the message of the 400."""

    def __init__(self, schema: dict, connexion_validator):
        self._schema = schema
        self._connexion_validator = connexion_validator

    def validate(self, body):
        if REQUESTS.get(self._schema).is_valid(body):
            return None
        return self._connexion_validator().validate(body)


class CompiledRequestBody:
    """Mixin for Connexion's request body validators (JSON, forms), which built a ``jsonschema`` validator
    for every request body: the compiled schema first."""

    _schema: dict

    @property
    def _validator(self):
        return _CompiledFirst(self._schema, lambda: super(CompiledRequestBody, self)._validator)


class CompiledJSONResponseValidator(JSONResponseBodyValidator):
    """Connexion's JSON response validator, with the compiled schema as the fast path."""

    _wire: bytes | None = None  # set when the value checked is the one encoded, not the bytes parsed

    def wrap_send(self, send):
        """Connexion's: the messages held until the body is complete, which is judged before any of
        them goes on; without its generator and list shifts per answer."""
        messages = []

        async def send_(message) -> None:
            messages.append(message)
            if message["type"] == "http.response.start" or message.get("more_body", False):
                return
            body = self._parse([m.get("body", b"") for m in messages])
            if not (body is None and self._nullable):
                self._validate(body)
            for held in messages:
                await send(held)
            messages.clear()

        return send_

    def _parse(self, stream):
        chunks = [chunk for chunk in stream if chunk]  # the start message counts as an empty chunk
        if not chunks:
            return None
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        value = encoded_from(body)
        if value is not None:
            self._wire = body
            return value
        return self._loads(body)

    @staticmethod
    def _loads(body: bytes):
        try:
            return orjson.loads(body)  # UTF-8, as every JSON body the mock writes
        except orjson.JSONDecodeError as exc:
            raise NonConformingResponseBody(str(exc)) from exc

    def _validate(self, body) -> None:
        if self._wire is not None:  # the value encoded: its records stand in by their schema's token
            if REPLIES.get(self._schema).is_valid(with_stand_ins(body)):
                return
            body = self._loads(self._wire)  # a verdict against the value: judge the bytes on the wire
        compiled = COMPILED.get(self._schema)
        if compiled.is_valid(body):
            return
        super()._validate(body)  # raises with Connexion's message, or accepts what jsonschema accepts


class CompiledParameterValidator(ParameterValidator):
    """Connexion's parameter validator, with the compiled schema as the fast path for present values;
    integers beyond their range and lone surrogates are refused here too (``mockserver.layers.gate``). What it
    parsed is kept for the handler's decorator (``mockserver.connexion_ext.parameters``)."""

    def __init__(self, parameters, *args, **kwargs):
        super().__init__(parameters, *args, **kwargs)
        self._operation_parameters = parameters  # the operation's own list: the same on every request

    def validate(self, scope):
        if not self._operation_parameters and not self.strict_validation:
            # nothing to judge: the operation documents no parameter, and the query parameters it does
            # not document are allowed (strict validation, which refuses them, is off)
            keep_none_parsed(scope)
            return
        request = connexion_request(scope, uri_parser=self.uri_parser)
        lists = query_lists(scope.get("query_string", b""))
        for param in self.parameters.get("query", []):
            count = len(lists.get(param["name"], ()))
            if count > 1 and param.get("schema", {}).get("type") != "array":
                # Connexion keeps the last value silently; a scalar has one (ALL-03)
                raise BadRequestProblem(
                    detail=f"the query parameter {param['name']!r} comes {count} times; it takes one value"
                )
        request._query_params = self.uri_parser.resolve_query(lists)
        self.validate_request(request)
        keep_parsed(scope, request)

    def validate_request(self, request):
        """All query parameters at once against one compiled object schema; where that rejects (or the
        operation has a nullable query parameter, or strict validation is on), Connexion's loop, one
        parameter at a time, has the last word and writes the message."""
        definitions = self.parameters.get("query", [])
        if definitions and not self.strict_validation:
            checker = _query_checker(self._operation_parameters, definitions)
            if checker is not None:
                query = request.query_params
                present = {p["name"]: query[p["name"]] for p in definitions if p["name"] in query}
                if checker.is_valid(present) and all(
                    _refused(value, p.get("schema", p), "") is None
                    for p in definitions
                    if (value := present.get(p["name"])) is not None
                ):
                    self.parameters["query"] = []  # judged: the loop below checks the others only
                    try:
                        return super().validate_request(request)
                    finally:
                        self.parameters["query"] = definitions
        return super().validate_request(request)

    @staticmethod
    def validate_parameter(parameter_type, value, param, param_name=None):
        schema = param.get("schema", param)
        if value is not None:
            where = f"the {parameter_type} parameter {param.get('name', param_name)!r}"
            refused = _refused(value, schema, where)
            if refused is not None:
                return refused  # Connexion's way: the message of a 400
            if COMPILED.get(schema).is_valid(value):
                return None
        return ParameterValidator.validate_parameter(parameter_type, value, param, param_name)


_QUERY_CHECKERS: dict[int, tuple[list, object]] = {}  # id(operation's parameters) -> (them, compiled)


def _query_checker(operation_parameters: list, definitions: list):
    """One compiled schema for an operation's query parameters: each a property, the required ones
    required. None when one is nullable (``?x=null`` means null there, as Connexion reads it)."""
    kept = _QUERY_CHECKERS.get(id(operation_parameters))
    if kept is not None and kept[0] is operation_parameters:
        return kept[1]
    checker = None
    if not any(is_nullable(p) for p in definitions):
        schema = {
            "type": "object",
            "properties": {p["name"]: p.get("schema", {}) for p in definitions},
            "required": sorted({p["name"] for p in definitions if p.get("required")}),
        }
        if not schema["required"]:
            del schema["required"]  # draft 4: an empty list is not allowed
        checker = jsonschema_rs.Draft4Validator(
            openapi_to_jsonschema(schema, reply=False), validate_formats=True
        )
    _QUERY_CHECKERS[id(operation_parameters)] = (operation_parameters, checker)
    return checker


def _refused(value, schema: dict, where: str) -> str | None:
    items = schema.get("items", {}) if isinstance(value, list) else schema
    try:
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                check_text(item, where)
            elif isinstance(item, int) and not isinstance(item, bool):
                check_integer(item, where, items)
    except Refused as exc:
        return str(exc)
    return None
