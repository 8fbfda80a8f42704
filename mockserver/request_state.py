"""Everything the mock's layers hand each other about one request: the ASGI scope keys and the ContextVars.

Declared here, in one place, so that a reader of one layer can see what the others put in a request and
who reads it (mockserver.stack lists the layers in order). Each name's comment says who writes it.
"""

from __future__ import annotations

from contextvars import ContextVar

from starlette.datastructures import UploadFile

# -- scope keys ---------------------------------------------------------------------------------------
MOCK_CONTEXT = "mockserver"  # the server's MockContext (state.context.ContextMiddleware)
SHARED = "mockserver.shared"  # one dict per request, seen by every layer (some layers copy the scope)
EXCHANGE = "mockserver.exchange"  # the request's journal Exchange and its checkpoints (JournalMiddleware)
PARSED_PARAMETERS = "mockserver.parsed_parameters"  # (query, path params) as the validator parsed them
# The form body the validator decoded (mockserver.connexion_ext.forms)
DECODED_FORM = "mockserver.decoded_form"
ORIGIN = "mockserver.origin"  # scheme://host the request's URLs are built from (mockserver.apis.base)
# (Connexion's routing dict, the API and operation it names), once per request (mockserver.operations)
ROUTED = "mockserver.routed"

# -- context variables --------------------------------------------------------------------------------
# The request's scope, for code Connexion calls without it (cheaper than connexion.request).
CURRENT_SCOPE: ContextVar[dict] = ContextVar("mockserver_scope")
# The last JSON body encoded in this request and its source, so the reply cache need not encode it again.
LAST_ENCODED: ContextVar[tuple[bytes, object] | None] = ContextVar("mockserver_last_encoded", default=None)
# The last image decoded in this request and what was found, so validation and the handler decode it once.
DECODED_IMAGE: ContextVar[tuple[bytes, object] | None] = ContextVar("mockserver_decoded_image", default=None)


# -- the shared dict's uses ---------------------------------------------------------------------------
def shared(scope) -> dict | None:
    """What the request's layers share: the parsed form (``mockserver.connexion_ext.forms``), the uploads to
    close."""
    return scope.get(SHARED) if scope is not None else None


def close_at_end(scope, values) -> None:
    """Connexion never closes the parts' temporary files; the outermost layer does, once the request is
    over: the handler and then the journal (which records the request as its answer goes out) read
    them first."""
    uploads = [value for value in values if isinstance(value, UploadFile)]
    state = shared(scope)
    if state is None:  # outside the mock's layers: nobody else will
        for upload in uploads:
            upload.file.close()
        return
    state.setdefault("close_at_end", []).extend(uploads)


def close_files(state: dict) -> None:
    for upload in state.get("close_at_end", ()):
        upload.file.close()
