"""everydaypic through the mock (EDP-01..05)."""

from support.json_bodies import json_of


def upload(client, data: bytes, file_name="a.png", name="A"):
    return client.post(
        "/v1/image",
        files={"file": (file_name, data, "image/png")},
        data={"fileName": file_name, "name": name},
    )


def test_edp01_missing_field_is_400_in_plain_text(make_client, png):
    client = make_client("everydaypic")
    for missing in ("file", "fileName", "name"):
        files = {} if missing == "file" else {"file": ("a.png", png(), "image/png")}
        data = {k: "x" for k in ("fileName", "name") if k != missing}
        r = client.post("/v1/image", files=files or {"other": ("x", b"")}, data=data)
        assert r.status_code == 400, (missing, r.text)
        assert r.headers["content-type"].startswith("text/plain")


def test_edp02_non_image_is_400_and_nothing_stored(make_client):
    client = make_client("everydaypic")
    r = upload(client, b"definitely not an image")
    assert r.status_code == 400
    assert client.get("/__mock__/state").json()["apis"]["everydaypic"]["images"] == []


def test_edp03_created_image_echoes_and_ids_are_unique(make_client, png):
    client = make_client("everydaypic")
    bodies = [json_of(upload(client, png(), "cat.png", "Cat")) for _ in range(3)]
    for body in bodies:
        assert len(body) == 1
        assert body[0]["name"] == "Cat" and body[0]["fileName"] == "cat.png"
        assert body[0]["created"].endswith("Z") and isinstance(body[0]["userID"], str)
    assert len({b[0]["id"] for b in bodies}) == 3


def test_edp04_info_by_id_and_filename_union_and_404(make_client, png):
    client = make_client("everydaypic")
    a = json_of(upload(client, png(), "a.png"))[0]
    b = json_of(upload(client, png(), "b.png"))[0]
    upload(client, png(), "c.png")
    r = client.get("/v1/image/info", params={"id": [a["id"]], "fileName": ["b.png"]})
    assert r.status_code == 200
    assert {i["id"] for i in json_of(r)} == {a["id"], b["id"]}
    assert client.get("/v1/image/info", params={"fileName": "nope.png"}).status_code == 404
    everything = json_of(client.get("/v1/image/info"))
    assert [i["fileName"] for i in everything] == ["a.png", "b.png", "c.png"]


def test_edp04_info_without_filter_on_an_empty_store_is_404(make_client):
    assert make_client("everydaypic").get("/v1/image/info").status_code == 404


def test_edp05_download_is_byte_identical_with_content_type(make_client, png, fixture_image):
    client = make_client("everydaypic")
    for data, ctype in ((png(), "image/png"), (fixture_image("photo-exif.jpg"), "image/jpeg")):
        image = json_of(upload(client, data))[0]
        r = client.get(f"/v1/image/{image['id']}")
        assert r.status_code == 200 and r.content == data
        assert r.headers["content-type"] == ctype
    assert client.get("/v1/image/unknown-id").status_code == 404


def test_prefixed_mount_serves_everydaypic_under_its_name(make_client, png):
    client = make_client()
    r = client.post(
        "/everydaypic/v1/image",
        files={"file": ("a.png", png(), "image/png")},
        data={"fileName": "a.png", "name": "A"},
    )
    assert r.status_code == 200
    assert client.get(f"/everydaypic/v1/image/{r.json()[0]['id']}").content == png()


def test_all05_any_string_names_extra_parts_and_any_part_type_are_accepted(make_client, png):
    """The seed types fileName and name `string` and lists three parts: empty or one-character names,
    an unlisted extra part and a file part declared application/octet-stream are all seed-valid."""
    client = make_client("everydaypic")
    cases = [
        ({"fileName": "", "name": ""}, {}, "image/png"),
        ({"fileName": "a", "name": "b"}, {}, "image/png"),
        ({"fileName": "фото 1", "name": "名前"}, {}, "image/png"),
        (
            {"fileName": "x.png", "name": "x", "comment": "extra"},
            {"thumb": ("t.png", png(), "image/png")},
            "image/png",
        ),
        ({"fileName": "y.png", "name": "y"}, {}, "application/octet-stream"),
    ]
    for data, extra_files, part_type in cases:
        r = client.post("/v1/image", files={"file": ("f.bin", png(), part_type), **extra_files}, data=data)
        assert r.status_code == 200, (data, r.text)
        image = json_of(r)[0]
        assert (image["fileName"], image["name"]) == (data["fileName"], data["name"])
        assert client.get(f"/v1/image/{image['id']}").headers["content-type"] == "image/png"


def test_edp01_file_over_20_mib_is_413_naming_the_limit(make_client):
    client = make_client("everydaypic")
    r = upload(client, b"\0" * (20 * 1024 * 1024 + 1))
    assert r.status_code == 413 and "20971520" in r.text, r.text
