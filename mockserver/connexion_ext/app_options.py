"""The Connexion options and extension points the mock's app is built with: its validators, its URI parser's
path convertor, and adding the bundled specs without re-validating them."""

from __future__ import annotations

import contextlib

from connexion.datastructures import MediaTypeDict
from connexion.spec import Specification
from connexion.validators import VALIDATOR_MAP
from starlette.convertors import PathConvertor, register_url_convertor

from mockserver.connexion_ext.compiled_schemas import (
    CompiledJSONResponseValidator,
    CompiledParameterValidator,
)
from mockserver.connexion_ext.forms import BracketFormValidator, ClosingMultiPartValidator, Utf8JSONValidator


class AnyPathConvertor(PathConvertor):
    """Starlette's ``path`` convertor stops at a newline, so Connexion's API mounts answered 404 to a path
    parameter holding ``%0A``; a path may hold any character."""

    regex = "(?s:.*)"


register_url_convertor("path", AnyPathConvertor())


@contextlib.contextmanager
def trusting_bundled_specs():
    """Skip Connexion's re-validation of the specs against the OpenAPI meta-schema while adding them.

    It is 85% of start-up (0.4 s for five specs) and repeats what CI does on every run
    (tests/unit/contracts/test_specs.py validates each spec with openapi-spec-validator), for files shipped
    with us.
    Connexion 3.3 offers no public way to skip it (``add_api`` always loads the spec through
    ``Specification.load``, which validates), so the class hook is replaced for the duration of the
    ``add_api`` calls only: another app built in this process at that very moment would skip it too.
    """
    original = Specification.__dict__["_validate_spec"]
    Specification._validate_spec = classmethod(lambda cls, spec: None)
    try:
        yield
    finally:
        Specification._validate_spec = original


def validator_map() -> dict:
    """Connexion's validator map with the mock's stricter and faster validators in place.

    ALL-05: each validator holds a request to exactly its spec's schemas (bracket-nested forms decoded as
    the seed sends them, JSON as UTF-8), so whatever the seed allows is accepted, however unusual."""
    body = MediaTypeDict(VALIDATOR_MAP["body"])  # a plain dict copy would lose "*/*json" matching
    body["application/x-www-form-urlencoded"] = BracketFormValidator
    body["multipart/form-data"] = ClosingMultiPartValidator
    body["*/*json"] = Utf8JSONValidator
    response = MediaTypeDict(VALIDATOR_MAP["response"])
    response["*/*json"] = CompiledJSONResponseValidator
    return {**VALIDATOR_MAP, "parameter": CompiledParameterValidator, "body": body, "response": response}
