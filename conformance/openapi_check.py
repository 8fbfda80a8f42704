"""Check a recorded exchange against an API's spec with openapi-core, independently of the server.

The mock validates its own responses inside Connexion; this is the second opinion, usable against any
server and from other projects' tests: ``conformance.assert_honours_contract(api, response)`` takes an
httpx or a requests response (openapi-core ships the requests adapters; httpx gets the two small ones here).
"""

from __future__ import annotations

import copy
import functools
from urllib.parse import parse_qs, urlsplit

import httpx
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from image_api_contracts import APIS, load_spec

from .errors import SpecViolation


class HttpxOpenAPIRequest:
    """openapi-core's view of an httpx request (openapi-core ships adapters for requests only)."""

    def __init__(self, request: httpx.Request):
        self._url = urlsplit(str(request.url))
        self._request = request
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(self._url.query, keep_blank_values=True)),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict({}),
        )

    host_url = property(lambda self: f"{self._url.scheme}://{self._url.netloc}")
    path = property(lambda self: self._url.path)
    method = property(lambda self: self._request.method.lower())
    body = property(lambda self: self._request.content or None)
    content_type = property(lambda self: self._request.headers.get("content-type", ""))


class HttpxOpenAPIResponse:
    """openapi-core's view of an httpx response."""

    def __init__(self, response: httpx.Response):
        self._response = response

    status_code = property(lambda self: self._response.status_code)
    headers = property(lambda self: Headers(dict(self._response.headers)))
    data = property(lambda self: self._response.content or None)
    content_type = property(lambda self: self._response.headers.get("content-type", "").lower())


@functools.cache
def _openapi(api: str, base_url: str) -> OpenAPI:
    spec = copy.deepcopy(load_spec(APIS[api].spec_path))
    spec["servers"] = [{"url": base_url.rstrip("/")}]
    return OpenAPI.from_dict(spec)


def assert_honours_contract(api: str, response, base_url: str | None = None) -> None:
    """Raise SpecViolation unless the response (and its request) match ``api``'s spec.

    ``response`` is an ``httpx.Response`` or a ``requests.Response``, with its request. ``base_url`` is
    where the API is mounted (e.g. ``http://host/tagged-images/v1``); by default the request's scheme and
    host plus the API's base path: under ``/<api>`` when the request went there (the mock serving every
    API), else the real one.
    """
    if api not in APIS:
        raise ValueError(f"unknown API {api!r}; choose one of {', '.join(APIS)}")
    request, response_adapter, method, url = _adapters(response)
    if base_url is None:
        parts = urlsplit(url)
        prefixed = APIS[api].base_path(prefixed=True)
        mounted = parts.path == prefixed or parts.path.startswith(prefixed + "/")
        base_url = f"{parts.scheme}://{parts.netloc}{APIS[api].base_path(prefixed=mounted)}"
    openapi = _openapi(api, base_url.rstrip("/"))
    try:
        openapi.validate_response(request, response_adapter)
    except Exception as exc:  # openapi-core raises a family of errors; all mean "not as specified"
        raise SpecViolation(
            f"{method} {url} -> {response.status_code} does not honour the {api} contract: "
            f"{violation_text(exc)}"
        ) from exc


def violation_text(exc: Exception) -> str:
    """openapi-core's error, with its JSON Schema errors as one line each (``at /path: message``)."""
    schema_errors = getattr(exc.__cause__, "schema_errors", None) or ()
    if not schema_errors:
        return f"{type(exc).__name__}: {exc.__cause__ or exc}"
    where = (f"at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in schema_errors)
    return f"{type(exc).__name__}: " + "; ".join(where)


def _adapters(response) -> tuple[object, object, str, str]:
    """openapi-core's view of the exchange, plus its method and URL for the message."""
    if isinstance(response, httpx.Response):
        try:
            request = response.request
        except RuntimeError as exc:
            raise ValueError("the httpx.Response carries no request: pass one a client received") from exc
        return HttpxOpenAPIRequest(request), HttpxOpenAPIResponse(response), request.method, str(request.url)
    if type(response).__module__.startswith("requests.") and hasattr(response, "request"):
        from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

        if response.request is None:
            raise ValueError("the requests.Response carries no request: check a response a session received")
        request = response.request
        return RequestsOpenAPIRequest(request), RequestsOpenAPIResponse(response), request.method, request.url
    raise TypeError(f"expected an httpx.Response or a requests.Response, not {type(response).__name__}")
