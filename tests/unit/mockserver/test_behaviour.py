"""``POST /__mock__/behaviour``: server-wide latency and forced errors, as a default ``Prefer``; the same,
in memory, under ``--state-dir`` and with ``--store postgresql://``."""

from __future__ import annotations

import pytest
from support.json_bodies import json_of
from support.postgres_cluster import pg_cluster, pg_url  # noqa: F401  (fixtures)


@pytest.fixture(params=["memory", "state-dir", "postgresql"])
def client(request, make_client, tmp_path):
    if request.param == "memory":
        yield make_client()
    elif request.param == "state-dir":
        yield make_client(state_dir=tmp_path / "state")
    else:  # one event loop for the client's life: the store's connections belong to it
        with make_client(store=request.getfixturevalue("pg_url")) as client:
            yield client


def test_forced_status_answers_in_the_apis_error_format_where_documented(client):
    got = client.post("/__mock__/behaviour", json={"status": 404, "path_prefix": "/tagged-images/"})
    assert json_of(got) == {"latency_ms": 0, "status": 404, "path_prefix": "/tagged-images/"}
    forced = client.get("/tagged-images/v1/images/1")
    assert forced.status_code == 404
    assert json_of(forced) == {"code": 404, "message": "response forced by Prefer: code=404"}
    undocumented = client.get("/tagged-images/v1/images")  # the list operation documents no 404
    assert undocumented.status_code == 400
    assert "not documented for this operation" in json_of(undocumented)["message"]


def test_behaviour_applies_only_under_its_prefix(client):
    client.post("/__mock__/behaviour", json={"status": 404, "path_prefix": "/tagged-images/"})
    listed = client.get("/evotor/stores/s/products/p/images", headers={"X-Authorization": "t"})
    assert listed.status_code == 200
    assert "forced" not in client.get("/everydaypic/v1/image/nope").text


def test_a_requests_own_prefer_wins(client):
    client.post("/__mock__/behaviour", json={"status": 404, "path_prefix": "/tagged-images/"})
    assert client.get("/tagged-images/v1/images/1", headers={"Prefer": "code=400"}).status_code == 400


def test_reset_and_delete_clear_the_behaviour(client):
    client.post("/__mock__/behaviour", json={"status": 404})
    client.post("/__mock__/reset")
    assert json_of(client.get("/__mock__/behaviour"))["status"] is None
    assert client.get("/tagged-images/v1/images/1").json()["message"] == "Image 1 not found"
    client.post("/__mock__/behaviour", json={"latency_ms": 5})
    cleared = client.delete("/__mock__/behaviour").json()
    assert cleared == {"latency_ms": 0, "status": None, "path_prefix": "/"}


@pytest.mark.parametrize(
    "body",
    [
        {"status": 503, "path_prefix": "/evotor"},  # evotor does not document it (no `default` either)
        {"status": "404"},
        {"latency_ms": -1},
        {"latency_ms": 10**9},
        {"path_prefix": "evotor"},
        {"colour": "red"},
        [],
    ],
)
def test_bad_behaviour_is_a_clear_400(client, body):
    got = client.post("/__mock__/behaviour", json=body)
    assert got.status_code == 400
    assert json_of(got)["error"]


def test_latency_is_applied(client, monkeypatch):
    slept = []

    async def record(seconds):
        slept.append(seconds)

    monkeypatch.setattr("mockserver.layers.prefer.asyncio.sleep", record)
    client.post("/__mock__/behaviour", json={"latency_ms": 250, "path_prefix": "/everydaypic/"})
    assert client.get("/everydaypic/v1/image/nope").status_code == 404
    client.get("/tagged-images/v1/images")
    assert slept == [0.25]
