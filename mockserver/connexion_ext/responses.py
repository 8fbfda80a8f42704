"""Connexion's response decorator with what depends only on the operation worked out once.

For every answer Connexion's ``AsyncResponseDecorator`` looks the operation's ``produces`` up through a
context proxy (several lookups of a ``werkzeug`` local), builds a set of it, scans the handler's headers
for a content type (building ``typing`` generics on the way), splits that content type and asks whether
it is JSON. None of it depends on the request but the handler's headers and data, so here the
operation's media types are read once per decorated handler, and the verdicts on a content type are kept
per content type (bounded: handlers name a handful). The decisions, and the errors raised where a handler
names a content type the operation does not produce or several are possible, are Connexion's own.
"""

from __future__ import annotations

import collections.abc
import types

from connexion import utils
from connexion.context import operation
from connexion.datastructures import NoContent
from connexion.decorators.response import AsyncResponseDecorator
from connexion.exceptions import NonConformingResponseHeaders

_JSON_VERDICTS: dict[str, bool] = {}  # content type -> whether its media type is JSON (Connexion's test)


def _is_json(content_type: str | None) -> bool:
    verdict = _JSON_VERDICTS.get(content_type)
    if verdict is None:
        verdict = utils.is_json_mimetype(utils.split_content_type(content_type)[0])
        if len(_JSON_VERDICTS) < 256:
            _JSON_VERDICTS[content_type] = verdict
    return verdict


def _named_content_type(headers: dict) -> str | None:
    """Connexion's ``extract_content_type`` for a handler's ``dict`` of headers (the first one named)."""
    for key, value in headers.items():
        if (key.decode("latin-1") if isinstance(key, bytes) else key).lower() == "content-type":
            return value.decode("latin-1") if isinstance(value, bytes) else value
    return None


class OperationResponseDecorator(AsyncResponseDecorator):
    """One per decorated handler, so one operation: its ``produces`` read on the first answer."""

    _produces: list | None = None
    _declared: list | None = None

    def _infer_content_type(self, data, headers: dict) -> str | None:
        if self._produces is None:  # inside the first request: the operation is known only there
            self._declared = list(operation.produces)
            self._produces = list(set(self._declared))
        content_type = (
            (
                _named_content_type(headers)
                if isinstance(headers, dict)
                else utils.extract_content_type(headers)
            )
            if headers
            else None
        )
        produces = self._produces
        if data is not None and not produces:
            produces = ["application/json"]
        if content_type:
            if content_type not in produces:
                raise NonConformingResponseHeaders(
                    f"Returned content type ({content_type}) is not defined in operation spec "
                    f"({self._declared})."
                )
            return content_type
        if not produces:
            return None
        if len(produces) == 1:
            return produces[0]
        if isinstance(data, str):
            for produced in produces:
                if "text/plain" in produced:
                    content_type = produced
        elif isinstance(data, bytes | types.GeneratorType | collections.abc.Iterator):
            for produced in produces:
                if "application/octet-stream" in produced:
                    content_type = produced
        if content_type is None:
            raise NonConformingResponseHeaders(
                "Multiple response content types are defined in the operation spec, but "
                "the handler response did not specify which one to return."
            )
        return content_type

    def _serialize_data(self, data, *, content_type: str | None):
        if data is None or data is NoContent:
            return None
        return self.jsonifier.dumps(data) if _is_json(content_type) else data
