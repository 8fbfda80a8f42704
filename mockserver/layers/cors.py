"""CORS as browsers need it from a mock on another origin (a dev server's page, Swagger UI elsewhere).

Starlette's CORSMiddleware (through ``mockserver.connexion_ext.cors``, which answers a request without
``Origin`` without building Starlette's header objects), for the origins ``mockserver.layers.guard``
allows (loopback, ``--public-url``'s, ``--allow-origin``; every other origin is refused before it gets
here), configured so that credentialed requests (``fetch(…, {credentials: 'include'})``, axios
``withCredentials``) pass: the request's ``Origin`` is echoed with ``Access-Control-Allow-Credentials:
true`` and ``Vary: Origin`` (a browser refuses ``*`` with credentials), Private-Network-Access preflights
are answered, and the exposed response headers are named (``*`` is not a wildcard for a credentialed
request). It wraps every route, so errors stay readable.
"""

from __future__ import annotations

from image_api_contracts import APIS
from mockserver.connexion_ext.cors import OriginlessFastCORS
from mockserver.layers.guard import LOOPBACK_ORIGIN_REGEX, origin_of

# Headers a page may want to read beyond the CORS-safelisted ones (plus each spec's documented ones).
EXPOSED = (
    "Location",
    "Content-Disposition",
    "Content-Length",
    "ETag",
    "Allow",
    "Retry-After",
    "X-Mock-Worker",
    "X-Mock-Behaviour",
)


def documented_response_headers(apis) -> set[str]:
    names: set[str] = set()
    for api in apis:
        spec = APIS[api].spec
        for item in spec.get("paths", {}).values():
            for operation in item.values():
                if isinstance(operation, dict):
                    for response in operation.get("responses", {}).values():
                        names.update((response.get("headers") or {}) if isinstance(response, dict) else ())
        for response in spec.get("components", {}).get("responses", {}).values():
            names.update(response.get("headers") or {})
    return names


def browser_cors(app, settings) -> OriginlessFastCORS:
    public = [origin_of(settings.public_url)] if settings.public_url else []
    return OriginlessFastCORS(
        app,
        # Exact matches; with allow_credentials, Starlette echoes the request's Origin (also for "*").
        allow_origins=[*settings.allow_origins, *public],
        allow_origin_regex=LOOPBACK_ORIGIN_REGEX,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],  # preflights get the requested headers back
        allow_private_network=True,
        expose_headers=sorted(set(EXPOSED) | documented_response_headers(settings.apis)),
    )
