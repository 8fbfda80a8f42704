"""What the suite needs of pytest beyond its public API, each with why no public hook does it."""

from __future__ import annotations

import pytest


def register_fixtures(node: pytest.Collector, holder: object) -> None:
    """Make the fixtures defined in ``holder`` (a conftest module) visible to the items under ``node``.

    The checks join a host's session from outside its ``confcutdir``, so pytest never loads their
    conftests; pytest has no public call to register a module's fixtures for one collector."""
    node.session._fixturemanager.parsefactories(holder=holder, node=node)


def rename_item(item: pytest.Item, name: str) -> None:
    """Give ``item`` the node id ``<its parent's id>::<name>``.

    Schemathesis names each case ``check_schema_layer[GET /images]`` but, on pytest 9, leaves the
    operation out of its node id; the JUnit XML and the JSON report name cases by node id. Node ids are
    read-only in pytest's API."""
    item._id = item.parent.id.child(name)
