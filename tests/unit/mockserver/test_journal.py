"""The request journal (``GET/DELETE /__mock__/requests``): what it keeps of each request, the contract
verdict it takes from Connexion's validation, its filters and bounds, and its sharing under --state-dir."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest
from support.images import image_bytes
from support.mock_process import MockProcess

from image_api_contracts import auth_headers
from image_api_contracts.devtokens import DEV_ALBUM, EVOTOR_TOKEN
from mockserver.cli import build_parser, settings_from_args

PRODUCT = "/evotor/stores/s1/products/p1/images"


def journal(client, **filters) -> list[dict]:
    response = client.get("/__mock__/requests", params=filters)
    assert response.status_code == 200, response.text
    return response.json()["requests"]


def only(client, **filters) -> dict:
    entries = journal(client, **filters)
    assert len(entries) == 1, entries
    return entries[0]


def test_credential_looking_headers_query_and_body_fields_are_redacted(make_client):
    client = make_client()
    secrets = {
        "X-Api-Key": "k-111",
        "X-Auth-Token": "t-222",
        "X-CSRF-Token": "c-333",
        "X-Session-Id": "s-444",
        "X-Mock-Token": "m-555",
    }
    client.get("/tagged-images/v1/images?access_token=q-666&page=1", headers=secrets)
    form = {"cloudinary[signature]": "sig-777", "cloudinary[public_id]": "visible", "password": "p-888"}
    album = f"/sharinpix/api/v1/albums/{DEV_ALBUM}/images/"
    client.post(album, data=form, headers=auth_headers("sharinpix"))
    client.post("/tagged-images/v1/tags", json={"name": "kept", "nested": [{"client_secret": "j-999"}]})
    entries = journal(client)
    assert len(entries) == 3
    for value in (*secrets.values(), "q-666", "sig-777", "p-888", "j-999"):
        assert value not in str(entries), value
    listing, upload, tag = entries
    assert listing["headers"]["x-api-key"] == listing["headers"]["x-csrf-token"] == "[redacted]"
    assert listing["query"] == {"access_token": ["[redacted]"], "page": ["1"]}
    assert upload["body"]["fields"]["cloudinary[signature]"] == "[redacted]"
    assert upload["body"]["fields"]["cloudinary[public_id]"] == "visible"
    assert tag["body"]["fields"] == {"name": "kept", "nested": [{"client_secret": "[redacted]"}]}


def test_an_upload_is_kept_with_its_file_facts_and_the_token_redacted(make_client):
    client = make_client()
    png = image_bytes(300, 300)
    created = client.post(
        PRODUCT, files={"datafile": ("shoe.png", png, "image/png")}, headers=auth_headers("evotor")
    )
    assert created.status_code == 200, created.text
    entry = only(client)
    assert (entry["api"], entry["operation"], entry["method"], entry["path"]) == (
        "evotor",
        "uploadProductImage",
        "POST",
        PRODUCT,
    )
    assert entry["headers"]["x-authorization"] == "[redacted]"
    assert EVOTOR_TOKEN not in str(entry)
    body = entry["body"]
    assert body["media_type"] == "multipart/form-data" and body["complete"] is True
    assert body["size"] == int(entry["headers"]["content-length"])
    part = body["files"]["datafile"]
    assert part == {
        "filename": "shoe.png",
        "media_type": "image/png",
        "size": len(png),
        "sha256": hashlib.sha256(png).hexdigest(),
        "image": {"format": "PNG", "width": 300, "height": 300},
    }
    assert entry["response"] == {"status": 200, "media_type": "application/json"}
    assert entry["contract"] == {"verdict": "honoured", "rule": None, "messages": []}
    assert entry["time"].endswith("Z") and entry["id"] >= 1


def test_json_and_form_bodies_keep_their_fields_and_a_bearer_keeps_its_scheme(make_client):
    client = make_client()
    data = base64.b64encode(image_bytes(400, 400)).decode()
    client.post("/tagged-images/v1/upload", json={"filename": "a.png", "tags": ["x"], "image_data": data})
    fields = only(client, operation="uploadImage")["body"]["fields"]
    assert fields["filename"] == "a.png" and fields["tags"] == ["x"]
    assert fields["image_data"].endswith(f"({len(data)} characters)")  # a long string is shortened
    form = "cloudinary[public_id]=p1&cloudinary[colors][]=%23EBF1F9&cloudinary[colors][]=13.2"
    client.post(
        "/sharinpix/api/v1/albums/00100000123BB146/images/",
        content=form,
        headers={"Content-Type": "application/x-www-form-urlencoded", **auth_headers("sharinpix")},
    )
    entry = only(client, api="sharinpix")
    assert entry["body"]["fields"] == {
        "cloudinary[public_id]": "p1",
        "cloudinary[colors][]": ["#EBF1F9", "13.2"],
    }
    assert entry["headers"]["authorization"] == "Token [redacted]"
    client.get("/image-upload/GetAllImages", headers=auth_headers("image-upload"))
    assert only(client, api="image-upload")["headers"]["authorization"] == "Bearer [redacted]"


@pytest.mark.parametrize(
    ("request_args", "rule", "message"),
    [
        (("GET", "/tagged-images/v1/images", {"params": {"page": "x"}}), "ALL-03", "'x' is not of type"),
        (("GET", PRODUCT, {}), "EVT-01", "No authorization token"),
        (("GET", "/image-upload/GetAllImages", {"headers": {"Authorization": "Bearer x"}}), "IUP-01", ""),
        (("DELETE", "/tagged-images/v1/tags", {}), "ALL-03", "for GET, POST only, not DELETE"),
        (("GET", "/tagged-images/v1/nowhere", {}), "ALL-03", "no operation for GET /nowhere"),
        (("POST", "/everydaypic/v1/image", {"data": {"name": "n"}}), "ALL-03", ""),
    ],
)
def test_a_request_the_spec_refuses_is_broken_and_names_the_rule(make_client, request_args, rule, message):
    client = make_client()
    method, path, kwargs = request_args
    response = client.request(method, path, **kwargs)
    assert 400 <= response.status_code < 500
    contract = only(client)["contract"]
    assert contract["verdict"] == "broken" and contract["rule"] == rule
    assert contract["messages"] and message in contract["messages"][0]
    assert "Failed validating" not in contract["messages"][0]  # jsonschema's schema dump is left out


def test_a_body_refused_before_it_was_read_is_marked_incomplete(make_client):
    client = make_client()
    response = client.post(PRODUCT, files={"datafile": ("a.png", image_bytes(300, 300), "image/png")})
    assert response.status_code == 401
    entry = only(client)
    assert entry["contract"]["rule"] == "EVT-01"
    body = entry["body"]
    assert body["media_type"] == "multipart/form-data" and body["complete"] is False
    assert body["sha256"] is None and body["fields"] is None


def test_a_truncated_multipart_body_is_kept_without_fields(make_client):
    client = make_client()
    boundary = "b0undary"
    cut = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'.encode()
    response = client.post(
        "/everydaypic/v1/image",
        content=cut + image_bytes()[:40],
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 400
    body = only(client)["body"]
    assert body["complete"] is True and body["size"] == len(cut) + 40
    assert body["fields"] is None and body["files"] is None


def test_sharinpix_abilities_that_do_not_grant_the_album_break_spx_01(make_client):
    client = make_client()
    client.post(
        "/sharinpix/api/v1/albums/other-album/images/",
        content="cloudinary[public_id]=p",
        headers={"Content-Type": "application/x-www-form-urlencoded", **auth_headers("sharinpix")},
    )
    entry = only(client)
    assert entry["response"]["status"] == 403
    assert (entry["contract"]["verdict"], entry["contract"]["rule"]) == ("broken", "SPX-01")


def test_the_mocks_own_refusal_of_a_valid_request_is_honoured_with_its_reason(make_client):
    client = make_client()
    small = image_bytes(10, 10)
    response = client.post(
        PRODUCT, files={"datafile": ("a.png", small, "image/png")}, headers=auth_headers("evotor")
    )
    assert response.status_code == 400
    entry = only(client)
    assert entry["contract"]["verdict"] == "honoured"
    assert "300x300" in entry["response"]["error"]


def test_answers_made_before_validation_are_unjudged(make_client):
    client = make_client(max_body_bytes=100)
    client.get("/tagged-images/v1/tags", params={"page": "x"}, headers={"Prefer": "code=400"})
    forced = only(client)  # validation never saw the bad page: Prefer answered first
    assert forced["response"]["status"] == 400 and forced["contract"]["verdict"] == "unjudged"
    client.delete("/__mock__/requests")
    client.post("/tagged-images/v1/tags", json={"name": "x" * 200})
    limited = only(client)
    assert limited["response"]["status"] == 413
    assert limited["contract"]["verdict"] == "unjudged" and "limit" in limited["contract"]["messages"][0]


def test_file_urls_are_kept_as_unjudged_and_controls_previews_and_docs_are_not_kept(make_client):
    client = make_client()
    created = client.post("/tagged-images/v1/images", json={"filename": "a.png"}).json()
    client.put(created["upload_url"], content=image_bytes(), headers={"Content-Type": "image/png"})
    client.options(PRODUCT, headers={"Origin": "http://[::1]:3000", "Access-Control-Request-Method": "POST"})
    client.get("/tagged-images/v1/openapi.json")
    client.get("/__mock__/state")
    client.get("/")
    entries = journal(client)
    assert [(e["method"], e["operation"], e["contract"]["verdict"]) for e in entries] == [
        ("POST", "createImage", "honoured"),
        ("PUT", None, "unjudged"),
    ]
    assert entries[1]["api"] == "tagged-images" and entries[1]["body"]["media_type"] == "image/png"


def test_filters(make_client):
    client = make_client()
    client.post("/tagged-images/v1/tags", json={"name": "a"})
    client.get("/tagged-images/v1/tags")
    client.get("/tagged-images/v1/images/999")
    client.get(PRODUCT, headers=auth_headers("evotor"))
    first, *_, last = journal(client)
    assert [e["operation"] for e in journal(client, api="tagged-images", method="get")] == [
        "listTags",
        "getImage",
    ]
    assert [e["id"] for e in journal(client, status="404")] == [journal(client)[2]["id"]]
    assert len(journal(client, status="2xx")) == 3
    assert [e["api"] for e in journal(client, path="/evotor/*")] == ["evotor"]
    assert journal(client, since=str(first["id"]))[0]["id"] == first["id"] + 1
    assert journal(client, since=last["time"])[-1] == last
    assert journal(client, operation="createTag", verdict="honoured")[0]["method"] == "POST"
    for bad in ({"status": "abc"}, {"since": "yesterday"}, {"colour": "red"}):
        response = client.get("/__mock__/requests", params=bad)
        assert response.status_code == 400 and response.json()["error"]


def test_delete_and_reset_clear_it_and_the_size_bounds_it(make_client):
    client = make_client(journal_size=3)
    for page in range(5):
        client.get("/tagged-images/v1/images", params={"page": page})
    assert [e["query"]["page"] for e in journal(client)] == [["2"], ["3"], ["4"]]
    assert client.delete("/__mock__/requests").status_code == 204 and journal(client) == []
    client.get("/tagged-images/v1/images")
    assert client.post("/__mock__/reset").status_code == 204 and journal(client) == []


def test_journal_size_zero_turns_it_off(make_client):
    client = make_client(journal_size=0)
    client.get("/tagged-images/v1/images")
    response = client.get("/__mock__/requests")
    assert response.status_code == 404 and "--journal-size 0" in response.json()["error"]


def test_the_command_line_sets_the_size():
    def settings(*argv):
        return settings_from_args(build_parser().parse_args(list(argv)))

    assert settings().journal_size == 1000
    assert settings("--journal-size", "0").journal_size == 0
    with pytest.raises(SystemExit):
        settings("--journal-size", "-1")


def test_the_journal_is_capped_in_bytes_oldest_first(make_client):
    client = make_client(journal_bytes=256 * 1024)
    padding = {"X-Padding": "p" * 6000}  # about 7 KB an entry, with the overhead counted
    for i in range(100):
        client.get(f"/tagged-images/v1/images?page={i}", headers=padding)
    entries = journal(client)
    assert 20 < len(entries) < 50, len(entries)
    assert entries[-1]["query"] == {"page": ["99"]}  # the newest kept, the oldest dropped
    assert client.app.ctx.journal.held_bytes <= 256 * 1024
    parsed = settings_from_args(build_parser().parse_args(["--journal-mb", "8"]))
    assert parsed.journal_bytes == 8 * 2**20


def test_a_body_is_previewed_within_bounds(make_client):
    client = make_client()
    tags = [f"t{i}" for i in range(500)]
    nested: object = "deep"
    for _ in range(20):
        nested = {"n": nested}
    body = {"filename": "a.png", "tags": tags, "extra": nested, **{f"f{i}": i for i in range(100)}}
    client.post("/tagged-images/v1/images", json=body)
    fields = only(client)["body"]["fields"]
    assert fields["tags"][:50] == tags[:50] and fields["tags"][50] == "… 450 more items"
    assert len(fields) == 51 and fields["…"] == "53 more fields"
    big = {"filename": "b.png", "tags": ["x" * 200] * 6000}  # over 1 MiB: hashed, not parsed
    client.post("/tagged-images/v1/images", json=big)
    kept = journal(client)[-1]["body"]
    assert kept["fields"] is None and kept["size"] > 2**20 and kept["sha256"]


def test_processes_sharing_a_state_dir_share_one_journal(make_client, tmp_path):
    one, two = make_client(state_dir=tmp_path), make_client(state_dir=tmp_path)
    one.post("/tagged-images/v1/tags", json={"name": "a"})
    two.get("/tagged-images/v1/tags")
    for client in (one, two):
        assert [e["operation"] for e in journal(client)] == ["createTag", "listTags"]
    ids = [e["id"] for e in journal(one)]
    assert ids == sorted(set(ids))
    two.post("/__mock__/reset")
    assert journal(one) == []


def test_workers_share_one_journal(tmp_path):
    """``mockserver --workers 2 --state-dir``: requests answered by either worker are in the journal
    whichever worker serves the read; a reset through one clears it for both."""
    server = MockProcess("--workers", "2", "--state-dir", str(tmp_path / "state"), log_dir=tmp_path)
    try:
        workers, sent = set(), []
        for n in range(60):
            with httpx.Client(timeout=30) as fresh:  # a connection each: the kernel spreads them
                response = fresh.get(f"{server.url}/tagged-images/v1/images", params={"page": n})
            workers.add(response.headers["x-mock-worker"])
            sent.append([str(n)])
            if len(workers) == 2 and n >= 10:
                break
        assert len(workers) == 2, workers
        for _ in range(4):  # reads through either worker see every entry, in order
            with httpx.Client(timeout=30) as fresh:
                entries = fresh.get(f"{server.url}/__mock__/requests").json()["requests"]
            assert [e["query"]["page"] for e in entries] == sent
        with httpx.Client(timeout=30) as fresh:
            assert fresh.post(f"{server.url}/__mock__/reset").status_code == 204
        for _ in range(4):
            with httpx.Client(timeout=30) as fresh:
                assert fresh.get(f"{server.url}/__mock__/requests").json()["requests"] == []
    finally:
        server.stop()
        server.kill()
