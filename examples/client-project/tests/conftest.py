"""The gallery under test talks to the image-api-contracts mock: the ``contract_mock`` fixture comes with
the installed package's pytest plugin, and keeps every exchange of its clients in ``.exchanges``."""

from __future__ import annotations

import pytest
from gallery_client import Gallery


@pytest.fixture
def gallery(contract_mock) -> Gallery:
    return Gallery(client=contract_mock.client("tagged-images"))
