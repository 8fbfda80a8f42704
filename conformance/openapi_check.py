"""Check a recorded httpx exchange against an API's spec with openapi-core, independently of the server.

The mock validates its own responses inside Connexion; this is the second opinion, usable against any
server and from other projects' tests (``assert_exchange_honours_spec(api, response)``).
"""

from __future__ import annotations

import copy
import functools
from urllib.parse import parse_qs, urlsplit

import httpx
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from mockserver.registry import APIS, load_spec


class SpecViolation(AssertionError):
    """A request or response that its API's spec does not allow."""


class _Request:
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


class _Response:
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


def assert_exchange_honours_spec(api: str, response: httpx.Response, base_url: str | None = None) -> None:
    """Raise SpecViolation unless the response (and its request) match ``api``'s spec.

    ``base_url`` is where the API is mounted (e.g. ``http://host/tagged-images/v1``); by default the
    request's scheme and host plus the API's real base path.
    """
    request = response.request
    if base_url is None:
        url = request.url
        base_url = f"{url.scheme}://{url.netloc.decode()}{APIS[api].server_path}"
    openapi = _openapi(api, base_url)
    try:
        openapi.validate_response(_Request(request), _Response(response))
    except Exception as exc:  # openapi-core raises a family of errors; all mean "not as specified"
        detail = getattr(exc, "__cause__", None) or exc
        raise SpecViolation(
            f"{request.method} {request.url} -> {response.status_code}: {exc} ({detail})"
        ) from exc
