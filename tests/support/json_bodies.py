"""An answer's JSON body, asserting first that the answer says it is JSON."""

from __future__ import annotations

import json


def json_of(response) -> object:
    assert response.headers["content-type"].startswith("application/json"), response.headers
    return json.loads(response.content)
