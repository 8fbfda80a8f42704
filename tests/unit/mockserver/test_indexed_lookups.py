"""Filtered reads look their matches up instead of walking the store (everydaypic's info by id or
fileName, tagged-images' search with a pattern matching every tag), with the answers the walk gave."""

from __future__ import annotations

import base64

from support.failing import fail_after_change
from support.images import image_bytes


def _upload(client, file_name: str) -> str:
    files = {"file": ("a.png", image_bytes(), "image/png")}
    reply = client.post("/v1/image", files=files, data={"fileName": file_name, "name": file_name})
    assert reply.status_code == 200, reply.text
    return reply.json()[0]["id"]


def test_everydaypic_info_by_ids_and_names_answers_their_union_in_creation_order(make_client):
    client = make_client("everydaypic")
    first, second, third, fourth = (_upload(client, name) for name in ("x.png", "y.png", "x.png", "z.png"))
    reply = client.get("/v1/image/info", params={"id": [fourth, "no-such-id"], "fileName": ["x.png"]})
    assert [record["id"] for record in reply.json()] == [first, third, fourth]
    assert client.get("/v1/image/info", params={"fileName": ["nothing.png"]}).status_code == 404
    assert [r["id"] for r in client.get("/v1/image/info", params={"id": [second]}).json()] == [second]


def test_an_undone_everydaypic_upload_leaves_no_trace_in_the_name_index(make_client):
    client = make_client("everydaypic")
    kept = _upload(client, "x.png")
    fail_after_change(client.app.ctx.apis["everydaypic"], "create_image")
    files = {"file": ("a.png", image_bytes(), "image/png")}
    assert client.post("/v1/image", files=files, data={"fileName": "x.png", "name": "x"}).status_code == 500
    assert [r["id"] for r in client.get("/v1/image/info", params={"fileName": ["x.png"]}).json()] == [kept]


def test_a_search_whose_pattern_matches_every_tag_answers_the_rare_tags_images(make_client):
    client = make_client("tagged-images")
    data = base64.b64encode(image_bytes()).decode()
    for i in range(30):
        tags = ["common", f"t{i % 10}"] + (["rare"] if i % 7 == 0 else [])
        body = {"filename": f"{i}.png", "image_data": data, "tags": tags}
        assert client.post("/v1/upload", json=body).status_code == 201
    found = client.get("/v1/search/images", params={"exact_tags": "rare", "match_tags": "%", "limit": 100})
    expected = ["28.png", "21.png", "14.png", "7.png", "0.png"]
    assert [r["filename"] for r in found.json()["results"]] == expected
    both = client.get("/v1/search/images", params={"exact_tags": "common", "match_tags": "t0|%"})
    assert [r["filename"] for r in both.json()["results"]] == ["20.png", "10.png", "0.png"]
    assert both.json()["meta"]["total_results"] == 3
