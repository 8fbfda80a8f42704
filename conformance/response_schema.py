"""Every response a behaviour check receives, judged against the seed view's schema (ALL-02).

The schema layer judges the responses to the requests it generates; the behaviour checks reach records
it never sees (page 2 of a listing, a record read back by its id, a tag's images). Here each of their
JSON responses to one of the API's operations is validated against the seed view (our decisions undone:
MUST), with the OpenAPI 3.0 JSON Schema validator openapi-core itself uses, compiled once per operation,
status and media type. Only the body is judged, and only for a status the seed view documents: which
status and media type a request deserves is the checks' and the schema layer's to say.

One break is one finding however many responses show it: a break is keyed by the operation, the status
and where in the body it sits (item indexes folded, so ``/results/3/id`` and ``/results/7/id`` are one
place), and the report keeps the first response of a run that shows a key (``Results.add``, which also
merges the workers of a parallel run). Every check that received a broken response learns of it
(``conformance.findings.schema_break``): its own rules then did not judge a response the seed promises.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

from image_api_contracts import resolve_refs

from .findings import schema_break
from .rules import load_rules
from .seed_view import HTTP_METHODS, admitting_unnamed_media_types, seed_view


def _operations(view: dict, base_path: str) -> list[tuple[str, str, re.Pattern]]:
    """(METHOD, path template, regex on the full URL path) of each operation, literal paths first (so
    ``/images/search`` is not read as ``/images/{id}``)."""
    found = []
    for template, item in view.get("paths", {}).items():
        parts = re.split(r"(\{[^}]+\})", template)
        pattern = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
        regex = re.compile(re.escape(base_path.rstrip("/")) + pattern + "/?")
        for method in HTTP_METHODS:
            if isinstance(item.get(method), dict):
                found.append((method.upper(), template, regex))
    return sorted(found, key=lambda op: op[1].count("{"))


def _place(path) -> str:
    """Where in the body: a JSON pointer with every item index written ``*``."""
    return "/" + "/".join("*" if isinstance(part, int) else str(part) for part in path)


def _validators(view: dict) -> dict:
    """(METHOD, template, status) -> {media type: a JSON Schema validator of its body}, for the statuses
    the seed view documents with JSON content (OpenAPI 3.0's dialect, read side: ``nullable``, formats)."""
    found = {}
    for template, item in view.get("paths", {}).items():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            for status, response in resolve_refs(operation.get("responses", {}), view).items():
                found[(method.upper(), template, str(status))] = {
                    media.split(";")[0].strip().lower(): OAS30ReadValidator(
                        body["schema"], format_checker=oas30_format_checker
                    )
                    for media, body in (response.get("content") or {}).items()
                    if isinstance(body, dict) and "schema" in body and ("json" in media or media == "*/*")
                }
    return found


class ResponseSchemaJudge:
    """One run's judge (the checks' session fixture): the seed view's response schemas, compiled once."""

    def __init__(self, api: str, base_url: str, owners: dict[str, str] | None = None):
        """``owners``: a break whose key starts with one of these is that rule's, not ALL-02's: a behaviour
        rule whose own text states that part of the shape (tagged-images' TIM-06: a record's tags are
        {id, name}) keeps it, wherever a check meets it. By default, the catalogue's ``owns_shape``."""
        if owners is None:
            owners = {p: r.id for r in load_rules().values() if r.api == api for p in r.owns_shape}
        self._owners = dict(owners)
        view = admitting_unnamed_media_types(seed_view(api))
        self._validators = _validators(view)
        self._operations = _operations(view, urlsplit(base_url).path)
        self._origin = "{0.scheme}://{0.netloc}".format(urlsplit(base_url))

    def _operation(self, request) -> str | None:
        path = request.url.path
        for method, template, regex in self._operations:
            if method == request.method and regex.fullmatch(path):
                return template
        return None

    def __call__(self, response) -> None:
        """Judge one response (called by the checks' clients for every exchange)."""
        request = response.request
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if "json" not in media or not response.content:
            return
        if f"{request.url.scheme}://{request.url.netloc.decode()}" != self._origin:
            return  # a signed URL or a link to storage: not one of the API's operations
        template = self._operation(request)
        if template is None:
            return
        by_media = self._validators.get((request.method, template, str(response.status_code)), {})
        validator = by_media.get(media) or by_media.get("*/*")
        if validator is None:
            return  # a status or media type the seed does not document: the checks' and the schema layer's
        try:
            body = response.json()
        except ValueError:
            return  # not JSON after all: the content type is the schema layer's to judge
        for error in validator.iter_errors(body):
            key = f"{request.method} {template} -> {response.status_code}: {_place(error.absolute_path)}"
            where = "/" + "/".join(map(str, error.absolute_path))
            message = (
                f"{request.method} {template}: got {response.status_code} with a body the seed's schema does "
                f"not allow, at {where}: {' '.join(error.message.split())[:200]}"
            )
            rule = next((r for prefix, r in self._owners.items() if key.startswith(prefix)), "ALL-02")
            schema_break(key, message, response, rule=rule)
