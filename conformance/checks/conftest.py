"""Fixtures every check uses; the target comes from the plugin (``conformance.plugin``)."""

from __future__ import annotations

import ssl

import pytest
from hypothesis import HealthCheck, settings

from conformance.plugin import TARGET
from conformance.recording import RecordingClient


@pytest.fixture(scope="session")
def target(pytestconfig):
    return pytestconfig.stash[TARGET]


def _bound_shrinking(seconds: float) -> None:
    """Hypothesis shrinks a failure for up to 300 s, replaying HTTP requests each time; a CI run wants
    the minimal failing request soon, so the suite caps it (a module constant in Hypothesis 6)."""
    from hypothesis.internal.conjecture import engine

    if hasattr(engine, "MAX_SHRINKING_SECONDS"):
        engine.MAX_SHRINKING_SECONDS = seconds


@pytest.fixture(scope="session")
def hypothesis_settings(target):
    """Budget for property-based and stateful checks: --max-examples, no deadline (real networks)."""
    _bound_shrinking(target.shrink_seconds)
    return settings(
        max_examples=target.max_examples,
        stateful_step_count=12,
        deadline=None,
        database=None,
        derandomize=target.seed is None,
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture(scope="session")
def tls():
    """One TLS context per run: building one per client reloads the CA bundle (0.1-0.3 s each)."""
    return ssl.create_default_context()


@pytest.fixture
def http(request, target, tls):
    """A client on the target's base URL with its credential; remembers exchanges for the report."""
    with RecordingClient(
        base_url=target.base_url, headers=target.auth_headers(), timeout=30, verify=tls
    ) as client:
        request.node.conformance_client = client
        yield client
