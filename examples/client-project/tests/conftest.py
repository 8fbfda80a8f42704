"""The gallery under test talks to the image-api-contracts mock (the ``contract_mock`` fixture comes with
the installed package's pytest plugin); every exchange is kept, to be checked against the contract."""

from __future__ import annotations

import httpx
import pytest
from gallery_client import Gallery


@pytest.fixture
def exchanges() -> list[httpx.Response]:
    return []


@pytest.fixture
def gallery(contract_mock, exchanges) -> Gallery:
    client = contract_mock.client("tagged-images", event_hooks={"response": [exchanges.append]})
    return Gallery(client=client)
