"""What a browser on another origin needs: credentialed CORS, Private-Network-Access preflights, errors it
can read, and file URLs that point where the page can reach them (--public-url, X-Forwarded-*)."""

from __future__ import annotations

import pytest
from support.images import image_bytes

from image_api_contracts import auth_headers
from mockserver.cli import build_parser, settings_from_args

PAGE = "http://localhost:5173"


def test_a_credentialed_request_gets_its_origin_echoed_with_credentials_and_vary(make_client):
    client = make_client()
    response = client.get(
        "/evotor/stores/s/products/p/images", headers={"Origin": PAGE, **auth_headers("evotor")}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == PAGE  # never "*": browsers refuse it
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in response.headers["vary"]
    exposed = response.headers["access-control-expose-headers"]
    assert "*" not in exposed and {"Location", "X-Request-Id"} <= set(exposed.split(", "))


def test_a_request_without_origin_gets_no_cors_headers(make_client):
    response = make_client().get("/tagged-images/v1/images")
    assert not [name for name in response.headers if name.startswith("access-control-")]


def test_preflights_allow_the_credential_headers_and_private_network_access(make_client):
    client = make_client()
    response = client.options(
        "/image-upload/UploadImage",
        headers={
            "Origin": PAGE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == PAGE
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-allow-private-network"] == "true"
    assert response.headers["access-control-allow-headers"] == "authorization, content-type"
    assert "POST" in response.headers["access-control-allow-methods"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/evotor/stores/s/products/p/images", 401),  # no credential
        ("GET", "/tagged-images/v1/images?page=x", 400),  # refused by validation
        ("GET", "/tagged-images/v1/images/404", 404),  # by the handler
        ("GET", "/__mock__/files/evotor/nothing", 404),  # a file URL
        ("GET", "/__mock__/requests?colour=red", 400),  # a control
    ],
)
def test_errors_stay_readable_cross_origin(make_client, method, path, status):
    response = make_client().request(method, path, headers={"Origin": PAGE})
    assert response.status_code == status
    assert response.headers["access-control-allow-origin"] == PAGE
    assert response.headers["access-control-allow-credentials"] == "true"


def upload_url(client, **headers) -> str:
    response = client.post("/tagged-images/v1/images", json={"filename": "a.png"}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["upload_url"]


def test_file_urls_follow_x_forwarded_host_only_behind_a_trusted_proxy(make_client):
    forwarded = {"X-Forwarded-Host": "app.test:5173, proxy.internal", "X-Forwarded-Proto": "https"}
    untrusted = make_client()
    assert upload_url(untrusted).startswith("http://testserver/__mock__/files/")
    # Anyone can send X-Forwarded-Host: without --trust-proxy the URLs keep the request's own host.
    assert upload_url(untrusted, **forwarded).startswith("https://testserver/__mock__/files/tagged-images/")
    client = make_client(trust_proxy=True, allow_hosts=("testserver", "app.test"))
    assert upload_url(client, **forwarded).startswith("https://app.test:5173/__mock__/files/tagged-images/")
    assert upload_url(client, **{"X-Forwarded-Proto": "https"}).startswith("https://testserver/__mock__/")


def test_public_url_wins_over_the_request_and_its_forwarded_headers(make_client):
    client = make_client(public_url="http://localhost:5173/mock")
    url = upload_url(client, **{"X-Forwarded-Host": "elsewhere.test"})
    assert url.startswith("http://localhost:5173/mock/__mock__/files/tagged-images/")
    # The signature covers the mock's own path, so the URL works once the proxy strips its prefix.
    path_and_query = url.removeprefix("http://localhost:5173/mock")
    stored = client.put(path_and_query, content=image_bytes(), headers={"Content-Type": "image/png"})
    assert stored.is_success, stored.text


def test_the_public_url_option_takes_an_origin_and_an_optional_prefix():
    def public_url(*argv):
        return settings_from_args(build_parser().parse_args(list(argv))).public_url

    assert public_url() is None
    assert public_url("--public-url", "http://localhost:5173/") == "http://localhost:5173"
    assert public_url("--public-url", "https://dev.test/api/") == "https://dev.test/api"
    for bad in ("localhost:5173", "ftp://x.test", "http://x.test/?a=1"):
        with pytest.raises(SystemExit):
            public_url("--public-url", bad)


def test_under_state_dir_every_answer_carries_cors_and_the_worker_is_readable(make_client, tmp_path):
    client = make_client(state_dir=tmp_path)
    response = client.post("/tagged-images/v1/tags", json={"name": "a"}, headers={"Origin": PAGE})
    assert response.status_code == 201
    assert response.headers["access-control-allow-origin"] == PAGE and response.headers["x-mock-worker"]
    assert "X-Mock-Worker" in response.headers["access-control-expose-headers"]
