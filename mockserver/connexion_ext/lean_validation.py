"""Connexion's validation middlewares, with what depends only on the spec worked out once.

For every response Connexion's ``ResponseValidationOperation`` scans the headers for the content type,
builds a ``MediaTypeDict`` of the operation's media types, looks the response definition up twice and
collects its required headers again: about a tenth of an uncached read. The checks are the same here
(media type, required headers, the body by the validator map's class for the media type); only their
spec-side tables are kept per ``(status, media type)``, and one check is added: a status the operation
does not document (no code, range or ``default`` for it) is a 500, where Connexion judged it against no
schema at all. Plugged in through Connexion's ``middlewares``
list, in the place of its own. The request side likewise keeps its ``MediaTypeDict`` of accepted media
types, and reads the request's ``Content-Type`` without decoding every header name.
"""

from __future__ import annotations

import logging

from connexion import utils
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import (
    NonConformingResponse,
    NonConformingResponseHeaders,
    UnsupportedMediaTypeProblem,
)
from connexion.middleware.request_validation import (
    RequestValidationAPI,
    RequestValidationMiddleware,
    RequestValidationOperation,
)
from connexion.middleware.response_validation import (
    ResponseValidationAPI,
    ResponseValidationMiddleware,
    ResponseValidationOperation,
)

from mockserver.asgi import Receive, Scope, Send

logger = logging.getLogger("connexion.middleware.validation")


_SPLIT: dict[str | None, tuple] = {}  # a Content-Type's value -> Connexion's split of it (bounded)


def _split(content_type: str | None) -> tuple:
    split = _SPLIT.get(content_type)
    if split is None:
        split = utils.split_content_type(content_type)
        if len(_SPLIT) < 256:  # clients choose request content types: only the first few are kept
            _SPLIT[content_type] = split
    return split


def _mime_and_encoding(headers, media_types: list) -> tuple[str, str]:
    """Connexion's ``extract_content_type`` of either side: without a ``Content-Type``, the operation's
    first media type."""
    mime_type, encoding = _split(content_type_of(headers))
    if mime_type is None:
        mime_type = media_types[0] if media_types else "application/octet-stream"
    return mime_type, encoding or "utf-8"


def content_type_of(headers) -> str | None:
    """The ``Content-Type`` of ASGI headers (their names are lower case by the ASGI spec)."""
    for name, value in headers:
        if name == b"content-type" or (len(name) == 12 and name.lower() == b"content-type"):
            return value.decode("latin-1")
    return None


class _Expected:
    """What the spec expects of one (status, media type) of one operation."""

    __slots__ = ("documented", "nullable", "required_headers", "schema", "validator")

    def __init__(self, operation, validator_map: dict, status: str, mime_type: str):
        responses = operation.responses
        self.documented = status in responses or f"{status[0]}XX" in responses or "default" in responses
        definition = operation.response_definition(status, mime_type)
        self.required_headers = {
            k.lower() for k, v in definition.get("headers", {}).items() if v.get("required", False)
        }
        try:
            self.validator = validator_map["response"][mime_type]
        except KeyError:
            logger.info(f"Skipping validation. No validator registered for content type: {mime_type}.")
            self.validator = None
        self.schema = operation.response_schema(status, mime_type)
        self.nullable = utils.is_nullable(definition)


class SpecOnceResponseValidationOperation(ResponseValidationOperation):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._produces = MediaTypeDict([(p.lower(), None) for p in self._operation.produces])
        self._produced: set[str] = set()  # media types the check below has let through
        self._expected: dict[tuple[str, str], _Expected] = {}

    def validate_mime_type(self, mime_type: str) -> None:
        if mime_type in self._produced:
            return
        if self._operation.produces and mime_type.lower() not in self._produces:
            raise NonConformingResponseHeaders(
                detail=f"Invalid Response Content-type ({mime_type}), expected {self._operation.produces}",
            )
        if len(self._produced) < 16:  # the mock's own answers: a handful of media types
            self._produced.add(mime_type)

    def extract_content_type(self, headers) -> tuple[str, str]:
        return _mime_and_encoding(headers, self._operation.produces)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def wrapped_send(message) -> None:
            nonlocal send
            if message["type"] == "http.response.start":
                headers = message["headers"]
                mime_type, encoding = self.extract_content_type(headers)
                if message["status"] < 400:
                    self.validate_mime_type(mime_type)
                status = str(message["status"])
                expected = self._expected.get((status, mime_type))
                if expected is None:
                    expected = _Expected(self._operation, self._validator_map, status, mime_type)
                    self._expected[(status, mime_type)] = expected
                if not expected.documented:  # Connexion would judge it against no schema at all
                    raise NonConformingResponse(
                        detail=f"Response status {status} is not documented for this operation "
                        f"(documented: {', '.join(sorted(self._operation.responses))})"
                    )
                if expected.required_headers:
                    present = {name.decode("latin-1").lower() for name, _ in headers}
                    missing = expected.required_headers - present
                    if missing:
                        raise NonConformingResponseHeaders(
                            detail="Keys in response header don't match response specification. "
                            f"Difference: {', '.join(missing)}"
                        )
                if expected.validator is not None:
                    validator = expected.validator(
                        scope, schema=expected.schema, nullable=expected.nullable, encoding=encoding
                    )
                    send = validator.wrap_send(send)
            return await send(message)

        await self.next_app(scope, receive, wrapped_send)


class _SpecOnceResponseValidationAPI(ResponseValidationAPI):
    def make_operation(self, operation):
        if self.validate_responses:
            return SpecOnceResponseValidationOperation(
                self.next_app, operation=operation, validator_map=self.validator_map
            )
        return self.next_app


class SpecOnceResponseValidationMiddleware(ResponseValidationMiddleware):
    """ALL-02: every answer is checked against the spec (status, content type, body) before it leaves;
    one the spec does not document is the mock's bug, answered 500 rather than passed on."""

    api_cls = _SpecOnceResponseValidationAPI


class _Accepted:
    """What the spec says of one media type of one operation's request body."""

    __slots__ = ("nullable", "required", "schema", "validator")

    def __init__(self, operation, validator_map: dict, mime_type: str):
        self.schema = operation.body_schema(mime_type)
        try:
            self.validator = validator_map["body"][mime_type]
        except KeyError:
            logger.info(f"Skipping validation. No validator registered for content type: {mime_type}.")
            self.validator = None
        self.required = operation.request_body.get("required", False)
        self.nullable = utils.is_nullable(operation.body_definition(mime_type))


class SpecOnceRequestValidationOperation(RequestValidationOperation):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._consumes = MediaTypeDict([(c.lower(), None) for c in self._operation.consumes])
        self._consumed: set[str] = set()  # media types the check has let through
        # Connexion builds a URI parser and a parameter validator per request from the operation alone;
        # both keep nothing of a request (the validator parses each into a request of its own)
        self._parameters = None
        self._body_definition = self._operation.body_definition()
        self._accepted: dict[str, _Accepted] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Connexion's checks in Connexion's order: parameters, media type, body."""
        operation = self._operation
        parameters = self._parameters
        if parameters is None:  # the operation's URI parser and parameter validator: built on first use
            uri_parser = operation._uri_parser_class(operation.parameters, self._body_definition)
            parameters = self._parameters = self._validator_map["parameter"](
                operation.parameters,
                uri_parser=uri_parser,
                strict_validation=self.strict_validation,
                security_query_params=self.security_query_params,
            )
        parameters.validate(scope)
        mime_type, encoding = self.extract_content_type(scope["headers"])
        self.validate_mime_type(mime_type)
        accepted = self._accepted.get(mime_type)
        if accepted is None:
            accepted = self._accepted[mime_type] = _Accepted(operation, self._validator_map, mime_type)
        if accepted.schema and accepted.validator is not None:
            validator = accepted.validator(
                schema=accepted.schema,
                required=accepted.required,
                nullable=accepted.nullable,
                encoding=encoding,
                strict_validation=self.strict_validation,
                uri_parser=parameters.uri_parser,
            )
            receive, scope = await validator.wrap_receive(receive, scope=scope)
        await self.next_app(scope, receive, send)

    def extract_content_type(self, headers) -> tuple[str, str]:
        return _mime_and_encoding(headers, self._operation.consumes)

    def validate_mime_type(self, mime_type: str) -> None:
        if mime_type in self._consumed:
            return
        if self._operation.consumes and mime_type.lower() not in self._consumes:
            raise UnsupportedMediaTypeProblem(
                detail=f"Invalid Content-type ({mime_type}), expected {self._operation.consumes}"
            )
        if len(self._consumed) < 16:  # clients choose them: only the first few accepted are kept
            self._consumed.add(mime_type)


class _SpecOnceRequestValidationAPI(RequestValidationAPI):
    def make_operation(self, operation):
        return SpecOnceRequestValidationOperation(
            self.next_app,
            operation=operation,
            strict_validation=self.strict_validation,
            validator_map=self.validator_map,
        )


class SpecOnceRequestValidationMiddleware(RequestValidationMiddleware):
    """ALL-03: a request that breaks the spec (types, required fields, an unparsable body) gets 4xx here, in
    the API's own format, before any handler sees it."""

    api_cls = _SpecOnceRequestValidationAPI
