"""Fixtures every check uses; the target comes from the plugin (``conformance.rule_plugin``)."""

from __future__ import annotations

import functools
import re
import ssl
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, settings

from conformance.findings import check
from conformance.library_internals.hypothesis_parts import bound_shrinking
from conformance.recording import RecordingClient
from conformance.response_schema import ResponseSchemaJudge
from conformance.rule_plugin import TARGET
from conformance.seed_view import seed_view


def pytest_collection_modifyitems(items) -> None:
    """A schema-layer DELETE cannot share the server: its generated ids name other checks' records."""
    for item in items:
        if (getattr(item, "operation_label", "") or "").startswith("DELETE "):
            item.add_marker(pytest.mark.alone)


@pytest.fixture(scope="session")
def target(pytestconfig):
    return pytestconfig.stash[TARGET]


@pytest.fixture(scope="session")
def hypothesis_settings(target):
    """Budget for property-based and stateful checks: --max-examples, no deadline (real networks)."""
    bound_shrinking(target.shrink_seconds)
    return settings(
        max_examples=target.max_examples,
        stateful_step_count=12,
        deadline=None,
        database=None,
        derandomize=target.seed is None,
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture(scope="session")
def response_schema(target):
    """Judges every response a check's client receives against the seed view's schema (ALL-02)."""
    return ResponseSchemaJudge(target.api, target.base_url)


@pytest.fixture(scope="session")
def tls():
    """One TLS context per run: building one per client reloads the CA bundle (0.1-0.3 s each)."""
    return ssl.create_default_context()


@functools.cache
def _operation_paths(api: str, base_path: str) -> list[tuple[str, re.Pattern, set[str]]]:
    """Each path of the seed view, as a regex on the full URL path, with the statuses its GET documents."""
    found = []
    for template, item in seed_view(api)["paths"].items():
        parts = re.split(r"(\{[^}]+\})", template)
        pattern = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
        statuses = set((item.get("get") or {}).get("responses", {}))
        found.append((template, re.compile(re.escape(base_path.rstrip("/")) + pattern + "/?"), statuses))
    return found


def redirect_reporter(target):
    """A 3xx to a GET of one of the API's own operations is a status the seed does not document (none of
    the seeds lists a redirect): ALL-02's break, reported once per check; the client then follows it, so
    the check judges the bytes at its end (a redirect from a link the API hands out is not judged)."""
    base_path = urlsplit(target.base_url).path

    def report(response) -> None:
        path = response.request.url.path
        for template, pattern, statuses in _operation_paths(target.api, base_path):
            if pattern.fullmatch(path) and str(response.status_code) not in statuses:
                check(
                    False,
                    f"{response.request.method} {template}: {response.status_code}, a redirect the seed does "
                    "not document (it answers the read itself); followed, and what is at its end judged",
                    rule="ALL-02",
                    response=response,
                )
                return

    return report


@pytest.fixture
def http(request, target, tls, response_schema):
    """A client on the target's base URL with its credential; remembers exchanges for the report; a
    redirect is reported (ALL-02) and followed; every response is judged against the seed's schema."""
    with RecordingClient(
        base_url=target.base_url,
        headers=target.auth_headers(),
        timeout=30,
        verify=tls,
        on_redirect=redirect_reporter(target),
        on_response=response_schema,
    ) as client:
        request.node.conformance_client = client
        yield client
