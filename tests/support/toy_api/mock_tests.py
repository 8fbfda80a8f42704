"""toy through the mock (TOY-01, TOY-02)."""

import base64

from support.json_bodies import json_of

from image_api_contracts import FIXTURES_DIR


def create(client, data: bytes, name="Cat", mounted_at=""):
    body = {"name": name, "image_base64": base64.b64encode(data).decode()}
    return client.post(f"{mounted_at}/v1/things", json=body)


def test_toy01_a_thing_is_stored_with_its_name_and_size(make_client, png):
    client = make_client("toy")
    data = png()
    bodies = [json_of(create(client, data)) for _ in range(2)]
    assert [(b["name"], b["size"]) for b in bodies] == [("Cat", len(data))] * 2
    assert bodies[0]["id"] != bodies[1]["id"]
    stored = client.get("/__mock__/state").json()["apis"]["toy"]["images"]
    assert [(r["id"], r["content_type"]) for r in stored] == [(b["id"], "image/png") for b in bodies]


def test_toy01_a_body_that_is_not_base64_is_400_and_nothing_stored(make_client):
    client = make_client("toy")
    r = client.post("/v1/things", json={"name": "Cat", "image_base64": "not base64!"})
    assert r.status_code == 400
    assert r.json().keys() == {"error"}
    assert client.get("/__mock__/state").json()["apis"]["toy"]["images"] == []


def test_toy02_a_stored_thing_reads_back_and_an_unknown_id_is_404(make_client, png):
    client = make_client("toy")
    first, second = json_of(create(client, png(), "A")), json_of(create(client, png(), "B"))
    assert json_of(client.get(f"/v1/things/{first['id']}")) == first
    assert json_of(client.get("/v1/things")) == [first, second]
    missing = client.get("/v1/things/nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no thing has that id"}


def test_toy02_the_seed_data_is_listed(make_client, fixture_image):
    client = make_client("toy", seed_data=FIXTURES_DIR)
    listed = json_of(client.get("/v1/things"))
    assert [(t["name"], t["size"]) for t in listed] == [
        ("App icon", len(fixture_image("icon-64.png"))),
        ("Sticker", len(fixture_image("sticker.webp"))),
    ]


def test_toy01_served_beside_every_other_api_and_shown_in_the_dashboard(make_client, png):
    client = make_client()  # every API, each under /<name>/
    data = png()
    thing = json_of(create(client, data, mounted_at="/toy"))
    gallery = client.get("/__mock__/ui/api/records").json()["apis"]["toy"]
    assert gallery["count"] == 1
    [item] = gallery["items"]
    assert (item["id"], item["record"]["name"], item["size"]) == (thing["id"], "Cat", len(data))
    assert client.get(item["full"]).content == data
    assert client.delete(f"/__mock__/ui/api/records/toy/{thing['id']}").status_code == 204
    assert client.get(f"/toy/v1/things/{thing['id']}").status_code == 404
