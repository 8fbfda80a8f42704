"""What the schema layer needs of Schemathesis beyond its top-level API: the modules below are not in
Schemathesis' documented surface, so they are imported here, behind the version check of this package.

- ``FailureGroup``: what ``Case.validate_response`` raises for several failures at once (the schema
  layer records each as a finding of its own instead of stopping at the first);
- ``follow_link``: the value of an OpenAPI link's runtime expression for one response, which lets the
  schema layer delete what a generated create made (Schemathesis evaluates links only inside its own
  stateful runner);
- the coverage phase's metadata (``CoveragePhaseData``, ``CoverageScenario``) and the negative mutations'
  ``OperatorKind``, which tell a case that breaks only a bound from one that breaks a type;
- the OpenAPI checks, run one by one on each response.
"""

from __future__ import annotations

from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.mutations import OperatorKind
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario
from schemathesis.generation.stateful.state_machine import StepOutput
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from schemathesis.specs.openapi.expressions import evaluate


def follow_link(expression: str, case, response):
    """The value of the runtime expression ``expression`` (``$response.body#/id``...) for ``response``."""
    return evaluate(expression, StepOutput(response, case))


__all__ = [
    "CoveragePhaseData",
    "CoverageScenario",
    "FailureGroup",
    "OperatorKind",
    "content_type_conformance",
    "follow_link",
    "ignored_auth",
    "negative_data_rejection",
    "not_a_server_error",
    "response_headers_conformance",
    "response_schema_conformance",
    "status_code_conformance",
    "unsupported_method",
]
