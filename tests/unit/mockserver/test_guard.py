"""Who may use the mock, tried from the outside on a real socket with the headers a browser sends: a page
on another origin can neither read nor change anything, a DNS-rebinding Host is refused, and the origins
a developer works from (loopback, --public-url, --allow-origin) work with credentials and Private Network
Access. The real-browser half is in tests/e2e/test_browser.py."""

from __future__ import annotations

import json

import httpx
import pytest
from support.images import image_bytes
from support.live_server import LiveServer

from mockserver.cli import build_parser, settings_from_args
from mockserver.layers.guard import startup_notes

EVIL = "https://evil.example"
PAGE = "http://localhost:5173"


@pytest.fixture(scope="module")
def mock():
    server = LiveServer(allow_origins=("https://app.example",))
    yield server
    server.stop()


@pytest.fixture
def http(mock):
    mock.reset()
    with httpx.Client(base_url=mock.url, timeout=10) as client:
        yield client


def stored_files(mock) -> int:
    return mock.state()["stored_files"]


def upload(http, **headers) -> httpx.Response:
    files = {"file": ("a.png", image_bytes(), "image/png")}
    return http.post(
        "/everydaypic/v1/image", files=files, data={"fileName": "a.png", "name": "a"}, headers=headers
    )


def preflight(http, origin: str, path="/__mock__/requests", method="GET") -> httpx.Response:
    return http.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type, authorization",
            "Access-Control-Request-Private-Network": "true",
        },
    )


def cors_headers(response) -> dict:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def test_a_hostile_preflight_gets_no_cors_credentials_or_private_network_access(http):
    for path, method in (("/__mock__/requests", "GET"), ("/tagged-images/v1/images", "POST")):
        response = preflight(http, EVIL, path, method)
        assert response.status_code == 403
        assert cors_headers(response) == {}
        assert "evil.example" in response.json()["error" if path.startswith("/__") else "message"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/__mock__/requests", {}),
        ("GET", "/__mock__/state", {}),
        ("POST", "/__mock__/reset", {"content": b"", "headers": {"Content-Type": "text/plain"}}),
        (
            "POST",
            "/__mock__/behaviour",
            {"content": b'{"status": 500}', "headers": {"Content-Type": "text/plain"}},
        ),
        (
            "POST",
            "/__mock__/fixtures",
            {"content": b'{"dir": "/"}', "headers": {"Content-Type": "text/plain"}},
        ),
        ("DELETE", "/__mock__/requests", {}),
        ("GET", "/tagged-images/v1/images", {}),
    ],
)
def test_a_hostile_origin_can_neither_read_nor_change_anything(http, mock, method, path, kwargs):
    assert upload(http).status_code == 200
    before = mock.state()
    headers = {**kwargs.pop("headers", {}), "Origin": EVIL}
    response = http.request(method, path, headers=headers, **kwargs)
    assert response.status_code == 403, response.text
    assert cors_headers(response) == {}
    assert mock.state() == before and mock.behaviour()["status"] is None
    assert len(mock.requests()) == 1  # the upload; the refused request is not even journalled


@pytest.mark.parametrize(
    "origin", [EVIL, "null", "http://localhost.evil.example", "https://app.example.evil"]
)
def test_simple_uploads_from_other_origins_store_nothing(http, mock, origin):
    response = upload(http, Origin=origin)
    assert response.status_code == 403 and stored_files(mock) == 0


@pytest.mark.parametrize(
    "host", ["attacker.example", "attacker.example:8000", "localhost.attacker.example", "127.0.0.1.nip.io"]
)
def test_a_rebinding_host_is_refused_with_a_one_line_reason(http, mock, host):
    for path in ("/__mock__/state", "/__mock__/requests", "/tagged-images/v1/images"):
        response = http.get(path, headers={"Host": host})
        assert response.status_code == 421
        reason = response.json()["error" if path.startswith("/__") else "message"]
        assert "\n" not in reason and "--allow-host" in reason and host.split(":")[0] in reason
    created = http.post("/tagged-images/v1/images", json={"filename": "a.png"}, headers={"Host": host})
    assert created.status_code == 421 and mock.state()["apis"]["tagged-images"]["images"] == []


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:{port}", "app.localhost:{port}", "127.0.0.1", "[::1]:{port}"]
)
def test_local_hosts_are_served(http, mock, host):
    response = http.get("/__mock__/state", headers={"Host": host.format(port=mock.port)})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "origin",
    [PAGE, "https://localhost", "http://app.localhost:3000", "http://127.0.0.1:8080", "http://[::1]:5173"],
)
def test_loopback_origins_get_credentialed_cors_and_private_network_access(http, origin):
    response = preflight(http, origin)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-allow-private-network"] == "true"
    read = http.get("/__mock__/requests", headers={"Origin": origin})
    assert read.status_code == 200 and read.headers["access-control-allow-origin"] == origin


def test_allow_origin_matches_exactly(http, mock):
    assert (
        preflight(http, "https://app.example").headers["access-control-allow-origin"] == "https://app.example"
    )
    assert upload(http, Origin="https://app.example").status_code == 200
    for near in (
        "http://app.example",
        "https://app.example:8443",
        "https://app.example.evil",
        "https://x.app.example",
    ):
        assert preflight(http, near).status_code == 403, near


def test_a_page_served_by_the_mock_itself_is_same_origin(http, mock):
    """Swagger UI's "Try it out" from http://192.168.1.5:8000/…/ui/ sends that Origin with its POSTs."""
    own = "http://192.168.1.5:8000"
    response = upload(http, Origin=own, Host="192.168.1.5:8000")
    assert response.status_code == 200
    assert upload(http, Origin=own, Host="192.168.1.6:8000").status_code == 403


def test_x_forwarded_host_is_checked_and_used_only_behind_a_trusted_proxy():
    untrusted = LiveServer()
    trusted = LiveServer(trust_proxy=True, allow_hosts=("mock.team.example",))
    try:
        rebinding = {"X-Forwarded-Host": "attacker.example"}
        assert httpx.get(f"{untrusted.url}/__mock__/state", headers=rebinding).status_code == 200  # ignored
        assert httpx.get(f"{trusted.url}/__mock__/state", headers=rebinding).status_code == 421
        team = {"X-Forwarded-Host": "mock.team.example", "X-Forwarded-Proto": "https"}
        created = httpx.post(
            f"{trusted.url}/tagged-images/v1/images", json={"filename": "a.png"}, headers=team
        )
        assert created.json()["upload_url"].startswith("https://mock.team.example/__mock__/files/")
        created = httpx.post(
            f"{untrusted.url}/tagged-images/v1/images", json={"filename": "a.png"}, headers=team
        )
        assert created.json()["upload_url"].startswith(f"https://127.0.0.1:{untrusted.port}/__mock__/files/")
    finally:
        untrusted.stop()
        trusted.stop()


def test_the_public_url_names_an_allowed_host_and_origin():
    server = LiveServer(public_url="https://mock.team.example/api")
    try:
        headers = {"Host": "mock.team.example", "Origin": "https://mock.team.example"}
        response = httpx.get(f"{server.url}/__mock__/requests", headers=headers)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://mock.team.example"
    finally:
        server.stop()


def test_a_control_token_guards_the_controls_but_not_the_apis():
    server = LiveServer(control_token="s3cret")
    try:
        state = f"{server.url}/__mock__/state"
        refused = httpx.get(state)
        assert refused.status_code == 401 and "X-Mock-Token" in refused.json()["error"]
        assert httpx.get(state, headers={"X-Mock-Token": "wrong"}).status_code == 401
        assert httpx.get(state, headers={"X-Mock-Token": "s3cret"}).status_code == 200
        assert httpx.get(f"{server.url}/tagged-images/v1/images").status_code == 200
        server.reset()  # the BackgroundMock's own controls send it
    finally:
        server.stop()


def test_listening_beyond_loopback_generates_and_prints_a_control_token():
    def start(*argv):
        args = build_parser().parse_args(list(argv))
        settings = settings_from_args(args)
        return settings, startup_notes(args, settings)

    settings, notes = start()
    assert settings.control_token is None and notes == []
    settings, notes = start("--host", "0.0.0.0")
    assert len(settings.control_token) >= 24 and settings.control_token in notes[0]
    settings, notes = start("--host", "0.0.0.0", "--control-token", "mine")
    assert settings.control_token == "mine" and notes == []
    settings, notes = start("--allow-origin", "*")
    assert "every web page" in notes[0]
    for bad in ("app.example", "https://app.example/path", "ftp://app.example"):
        with pytest.raises(SystemExit):
            start("--allow-origin", bad)


def test_forced_behaviour_is_named_on_every_answer_it_shapes(http, mock):
    mock.set_behaviour(latency_ms=1, status=400, path_prefix="/tagged-images/")
    forced = http.get("/tagged-images/v1/images", headers={"Origin": PAGE})
    assert forced.status_code == 400 and forced.headers["x-mock-behaviour"] == "latency_ms=1, status=400"
    assert "X-Mock-Behaviour" in forced.headers["access-control-expose-headers"]
    assert "x-mock-behaviour" not in http.get("/everydaypic/v1/image").headers
    mock.set_behaviour()
    assert "x-mock-behaviour" not in http.get("/tagged-images/v1/images").headers


@pytest.mark.parametrize(
    "image", ["../../../../etc/hostname", "/etc/hostname", "link-out.png", "missing.png"]
)
def test_seed_images_must_be_files_inside_the_fixtures_directory(make_client, tmp_path, image):
    (tmp_path / "seed").mkdir()
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "ok.png").write_bytes(image_bytes())
    (tmp_path / "images" / "link-out.png").symlink_to("/etc/hostname")
    entries = [
        {"image": "ok.png", "fileName": "ok.png", "name": "ok"},
        {"image": image, "fileName": "x", "name": "x"},
    ]
    (tmp_path / "seed" / "everydaypic.json").write_text(json.dumps(entries))
    client = make_client()
    response = client.post("/__mock__/fixtures", json={"dir": str(tmp_path)})
    assert response.status_code == 400 and image in response.json()["error"]
    assert client.get("/__mock__/state").json()["stored_files"] == 0  # a bad seed loads nothing


def test_the_packaged_fixtures_still_load(make_client):
    response = make_client().post("/__mock__/fixtures")
    assert response.status_code == 201 and all(response.json()["loaded"].values())


def test_the_access_log_gives_a_refusals_reason(tmp_path):
    from support.mock_process import MockProcess

    server = MockProcess("--log-level", "info", log_dir=tmp_path)
    try:
        httpx.get(f"{server.url}/__mock__/state", headers={"Host": "attacker.example"})
        httpx.get(f"{server.url}/__mock__/state", headers={"Origin": EVIL})
    finally:
        output = server.stop()
    assert "421" in output and "DNS rebinding guard" in output
    assert "403" in output and "is not allowed to use this mock" in output
