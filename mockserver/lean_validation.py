"""Connexion's response validation middleware, with what depends only on the spec worked out once.

For every response Connexion's ``ResponseValidationOperation`` scans the headers for the content type,
builds a ``MediaTypeDict`` of the operation's media types, looks the response definition up twice and
collects its required headers again: about a tenth of an uncached read. The checks are the same here
(media type, required headers, the body by the validator map's class for the media type); only their
spec-side tables are kept per ``(status, media type)``. Plugged in through Connexion's ``middlewares``
list, in the place of its own.
"""

from __future__ import annotations

import logging

from connexion import utils
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import NonConformingResponseHeaders
from connexion.middleware.response_validation import (
    ResponseValidationAPI,
    ResponseValidationMiddleware,
    ResponseValidationOperation,
)

logger = logging.getLogger("connexion.middleware.validation")


def content_type_of(headers) -> str | None:
    """The ``Content-Type`` of ASGI headers (their names are lower case by the ASGI spec)."""
    for name, value in headers:
        if name == b"content-type" or (len(name) == 12 and name.lower() == b"content-type"):
            return value.decode("latin-1")
    return None


class _Expected:
    """What the spec expects of one (status, media type) of one operation."""

    __slots__ = ("nullable", "required_headers", "schema", "validator")

    def __init__(self, operation, validator_map: dict, status: str, mime_type: str):
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


class _SpecOnceResponseValidationOperation(ResponseValidationOperation):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._produces = MediaTypeDict([(p.lower(), None) for p in self._operation.produces])
        self._expected: dict[tuple[str, str], _Expected] = {}

    def validate_mime_type(self, mime_type: str) -> None:
        if self._operation.produces and mime_type.lower() not in self._produces:
            raise NonConformingResponseHeaders(
                detail=f"Invalid Response Content-type ({mime_type}), expected {self._operation.produces}",
            )

    def extract_content_type(self, headers) -> tuple[str, str]:
        mime_type, encoding = utils.split_content_type(content_type_of(headers))
        if mime_type is None:
            produces = self._operation.produces
            mime_type = produces[0] if produces else "application/octet-stream"
        return mime_type, encoding or "utf-8"

    async def __call__(self, scope, receive, send):
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
            return _SpecOnceResponseValidationOperation(
                self.next_app, operation=operation, validator_map=self.validator_map
            )
        return self.next_app


class SpecOnceResponseValidationMiddleware(ResponseValidationMiddleware):
    api_cls = _SpecOnceResponseValidationAPI
