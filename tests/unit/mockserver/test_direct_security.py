"""An accepted credential is verified directly (``mockserver.connexion_ext.security``), every other one by
Connexion's own path: for every credential, good or bad, with and without ``--jwt-secret``, the mock
answers exactly as it does with Connexion's path alone (status, body, the token it echoes)."""

from __future__ import annotations

import time

import pytest
from support.evotor import AUTH as EVOTOR_AUTH
from support.evotor import images_path
from support.image_upload import SECRET, token

from mockserver.connexion_ext import security

ALBUM = "00100000000ABCD1"


def _sharinpix_token(key: str = "not-checked-by-default-but-long-enough-for-pyjwt", **claims) -> str:
    import jwt

    return jwt.encode(claims, key, algorithm="HS256")


GRANT = {ALBUM: {"Access": {"image_upload": True}}}
EXPIRED = int(time.time()) - 60

CREDENTIALS = {
    "image-upload": [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "bearer  " + token()},
        {"Authorization": "Bearer " + token()},
        {"Authorization": "Bearer " + token(exp=EXPIRED)},
        {"Authorization": "Bearer " + token(key="another-secret-of-at-least-32-bytes!!")},
        {"Authorization": "Basic " + token()},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Bearer " + token() + " trailing"},
    ],
    "evotor": [
        {},
        {"X-Authorization": ""},
        {"X-Authorization": "   "},
        EVOTOR_AUTH,
        {"x-authorization": "another-token"},
        {"Authorization": EVOTOR_AUTH["X-Authorization"]},
    ],
    "sharinpix": [
        {},
        {"Authorization": 'Token token="not-a-jwt"'},
        {"Authorization": f'Token token="{_sharinpix_token(abilities=GRANT, exp=EXPIRED + 7200)}"'},
        {"Authorization": f'Token token="{_sharinpix_token(SECRET, abilities=GRANT, exp=EXPIRED + 7200)}"'},
        {"Authorization": f'Token token="{_sharinpix_token(SECRET, abilities=GRANT, exp=EXPIRED)}"'},
        {"Authorization": f'Token token="{_sharinpix_token(abilities={"other": GRANT[ALBUM]})}"'},
        {"Authorization": f"Bearer {_sharinpix_token(abilities=GRANT)}"},
    ],
}


def _request(client, api: str, headers: dict):
    if api == "image-upload":
        return client.get("/GetAllImages", headers=headers)
    if api == "evotor":
        return client.get(images_path(), headers=headers)
    return client.post(
        f"/api/v1/albums/{ALBUM}/images/",
        content="cloudinary[public_id]=x",
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )


def _answers(make_client, api: str, settings: dict) -> list:
    client = make_client(api, **settings)
    answers = []
    for headers in CREDENTIALS[api]:
        r = _request(client, api, headers)
        body = r.json()
        if api == "sharinpix" and r.status_code == 200:
            body = sorted(body)  # a new image each time (its ids, times, URLs): its fields must be equal
        answers.append((r.status_code, body, r.headers.get("x-token")))
    return answers


@pytest.mark.parametrize("settings", [{}, {"jwt_secret": SECRET}], ids=["shape only", "jwt secret"])
@pytest.mark.parametrize("api", sorted(CREDENTIALS))
def test_every_credential_gets_the_answer_connexions_path_gives(make_client, monkeypatch, api, settings):
    direct = _answers(make_client, api, settings)
    with monkeypatch.context() as patched:
        patched.setattr(security, "direct_check", lambda operation: None)  # Connexion's path alone
        connexions = _answers(make_client, api, settings)
    assert direct == connexions
    statuses = {status for status, _, _ in direct}
    assert 401 in statuses and statuses & {200, 201}, statuses  # both verdicts were exercised


def test_every_operation_of_the_specs_is_checked_directly(make_client):
    client = make_client()
    assert client.get("/image-upload/GetAllImages").status_code == 401  # builds Connexion's stack
    layer = client.app.connexion.middleware.middleware_stack
    operations = [
        op
        for middleware in layer
        if isinstance(middleware, security.DirectCheckSecurityMiddleware)
        for apis in middleware.apis.values()
        for api in apis
        for op in api.operations.values()
    ]
    secured = [op for op in operations if op.security]
    assert secured and all(op.direct is not None for op in secured)
