"""Bad input against a live mock on a real socket.

Every case of the battery must get a clear 4xx in the API's own error format (mockserver/errors.py), leave
``GET /__mock__/state`` exactly as it was (nothing stored, no id used up), and leave the server healthy:
a normal upload right after it still works. Raw sockets send what httpx will not (chunked bodies that
never end, request lines past the HTTP parser's limit).
"""

from __future__ import annotations

import base64
import json
import socket
import struct
import time
import uuid
import zlib
from dataclasses import dataclass, field

import httpx
import jwt
import pytest
from support.api_errors import assert_api_error
from support.images import image_bytes
from support.live_server import LiveServer

from image_api_contracts import APIS, auth_headers
from image_api_contracts.devtokens import DEV_ALBUM, DEV_SECRET
from mockserver.apis.signing import UrlSigner

SIGNING_KEY = b"bad-input-battery-signing-key"
MAX_BODY = 1024 * 1024  # --max-body-bytes of the battery's mock: oversized bodies stay cheap to send
TIMEOUT = 15  # seconds; a hang fails the case instead of the run

STORE = "20180413-2595-40E8-80CB-4646C05D81B6"
EDP_UPLOAD = "/everydaypic/v1/image"
IUP_UPLOAD = "/image-upload/UploadImage"
SPX_UPLOAD = f"/sharinpix/api/v1/albums/{DEV_ALBUM}/images/"
TIM = "/tagged-images/v1"
FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}


def evotor_images(product: str = "p-1") -> str:
    return f"/evotor/stores/{STORE}/products/{product}/images"


# -- inputs -------------------------------------------------------------------------------------------
def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A well-formed PNG header (IHDR with a valid CRC) declaring ``width`` x ``height`` RGB pixels: 30 GB
    if decoded, a few dozen bytes on the wire."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 4096))
        + png_chunk(b"IEND", b"")
    )


PNG_300 = image_bytes(300, 300)  # valid for every API, evotor's 300x300 rule included
TRUNCATED_PNG = PNG_300[: len(PNG_300) // 2]
BOMB = png_bomb()
BOUNDARY = "battery-boundary"
MULTIPART = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


def multipart(*parts: tuple[str, bytes, str | None, str | None], boundary: str = BOUNDARY) -> bytes:
    """``(field, data, filename, content type)`` parts, encoded by hand so any of them may be wrong."""
    out = b""
    for name, data, filename, ctype in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        out += f"Content-Type: {ctype}\r\n".encode() if ctype else b""
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def file_form(
    api: str, data: bytes, filename: str | None = "a.png", ctype: str | None = "image/png"
) -> bytes:
    """The API's upload form with ``data`` as its file part (``filename=None``: a text part)."""
    field_name = {"evotor": "datafile"}.get(api, "file")
    extra = [("fileName", b"a.png", None, None), ("name", b"a", None, None)] if api == "everydaypic" else []
    return multipart((field_name, data, filename, ctype), *extra)


def hs256(claims: dict, key: str = DEV_SECRET) -> str:
    return jwt.encode({"iat": 1700000000, **claims}, key, algorithm="HS256")


def unsigned_jwt(claims: dict) -> str:
    """``alg: none``: a JWT with an empty signature."""
    return jwt.encode({"iat": 1700000000, **claims}, None, algorithm="none")


# -- the server and its health ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server():
    live = LiveServer(signing_key=SIGNING_KEY, max_body_bytes=MAX_BODY)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def secret_server():
    """Verifies JWT signatures and expiry (``--jwt-secret``), for the token cases."""
    live = LiveServer(jwt_secret=DEV_SECRET)
    yield live
    live.stop()


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as c:
        assert c.post("/__mock__/reset").status_code == 204
        yield c


def state(client: httpx.Client) -> dict:
    r = client.get("/__mock__/state")
    assert r.status_code == 200
    return r.json()


def assert_healthy(client: httpx.Client, api: str) -> None:
    """A normal upload (and, where the API has one, download or delete) works right after the bad input."""
    headers = auth_headers(api)
    if api == "everydaypic":
        r = client.post(EDP_UPLOAD, content=file_form(api, PNG_300), headers=MULTIPART)
        assert r.status_code == 200, r.text
        assert client.get(f"{EDP_UPLOAD}/{r.json()[0]['id']}").content == PNG_300
    elif api == "evotor":
        path = evotor_images(f"health-{uuid.uuid4()}")
        r = client.post(path, content=file_form(api, PNG_300), headers={**headers, **MULTIPART})
        assert r.status_code == 200, r.text
        assert client.delete(f"{path}/{r.json()['id']}", headers=headers).status_code == 204
    elif api == "image-upload":
        r = client.post(IUP_UPLOAD, content=file_form(api, PNG_300), headers={**headers, **MULTIPART})
        assert r.status_code == 200, r.text
        name = r.json()["data"]["fileName"]
        assert client.delete(
            "/image-upload/DeleteImage", params={"FileName": name}, headers=headers
        ).is_success
    elif api == "sharinpix":
        r = client.post(SPX_UPLOAD, content=b"cloudinary[public_id]=health", headers={**headers, **FORM})
        assert r.status_code == 200, r.text
    else:
        image = {"filename": "health.png", "image_data": base64.b64encode(PNG_300).decode()}
        r = client.post(f"{TIM}/upload", json=image)
        assert r.status_code == 201, r.text
        assert client.delete(f"{TIM}/images/{r.json()['id']}").status_code == 204


# -- the battery -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    api: str
    name: str
    method: str
    path: str
    status: int  # the status the spec documents for this input
    content: bytes | None = None
    headers: dict = field(default_factory=dict)
    auth: bool = True  # send the API's dev token

    def send(self, client: httpx.Client) -> httpx.Response:
        headers = {**(auth_headers(self.api) if self.auth else {}), **self.headers}
        return client.request(self.method, self.path, content=self.content, headers=headers)


def multipart_cases() -> list[Case]:
    """The three multipart uploads: broken forms, wrong content types, and files that are not images."""
    uploads = {"everydaypic": EDP_UPLOAD, "evotor": evotor_images(), "image-upload": IUP_UPLOAD}
    cases = []
    for api, path in uploads.items():
        good = file_form(api, PNG_300)
        field_name = {"evotor": "datafile"}.get(api, "file")
        forms = {
            "malformed-multipart": (b"--x\r\nbroken", {"content-type": "multipart/form-data; boundary=x"}),
            "truncated-multipart": (good[: len(good) // 2], MULTIPART),
            "multipart-without-closing-boundary": (good[: good.rindex(b"--" + BOUNDARY.encode())], MULTIPART),
            "missing-boundary": (good, {"content-type": "multipart/form-data"}),
            "wrong-boundary": (good, {"content-type": "multipart/form-data; boundary=other"}),
            "part-without-name": (good.replace(f'name="{field_name}"; '.encode(), b""), MULTIPART),
            "too-many-parts": (multipart(*[(f"x{i}", b"v", None, None) for i in range(1100)]), MULTIPART),
            "empty-body": (b"", MULTIPART),
            "wrong-content-type-json": (json.dumps({field_name: "x"}).encode(), JSON),
            "wrong-content-type-form": (f"{field_name}=x".encode(), FORM),
            "wrong-content-type-image": (PNG_300, {"content-type": "image/png"}),
            "no-content-type": (good, {}),
            "file-field-is-text": (file_form(api, b"not a file", filename=None, ctype=None), MULTIPART),
            "body-over-the-limit": (file_form(api, b"\x00" * (MAX_BODY + 1)), MULTIPART),
        }
        if api != "image-upload":  # IUP-02 stores any bytes (the seed never asks for an image): see below
            forms |= {
                "zero-byte-file": (file_form(api, b""), MULTIPART),
                "truncated-png": (file_form(api, TRUNCATED_PNG), MULTIPART),
                "decompression-bomb-png": (file_form(api, BOMB), MULTIPART),
                "text-declared-as-png": (file_form(api, b"hello"), MULTIPART),
            }
        for name, (content, headers) in forms.items():
            status = 413 if name == "body-over-the-limit" else 400
            cases.append(Case(api, name, "POST", path, status, content, headers))
    return cases


def json_cases() -> list[Case]:
    """tagged-images' JSON bodies: not objects, too deep, not JSON, bad or oversized base64, bad images."""

    def upload(data: bytes | str) -> bytes:
        text = data if isinstance(data, str) else base64.b64encode(data).decode()
        return json.dumps({"filename": "a.png", "image_data": text}).encode()

    bodies = {
        "json-array": b"[1, 2]",
        "json-string": b'"image"',
        "json-number": b"42",
        "json-null": b"null",
        "invalid-json": b'{"filename": ',
        "json-not-utf8": b'{"filename": "\xff\xfe"}',
        "deeply-nested-array": b"[" * 100_000 + b"]" * 100_000,
        "deeply-nested-object": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        "nested-just-under-recursion-limit": b'{"filename": "a", "tags": ' + b"[" * 950 + b"]" * 950 + b"}",
        "nested-beyond-any-schema": b'{"filename": "a", "x": ' + b"[" * 40 + b"]" * 40 + b"}",
    }
    cases = [
        Case("tagged-images", name, "POST", f"{TIM}/images", 400, body, JSON) for name, body in bodies.items()
    ]
    uploads = {
        "base64-invalid-characters": (upload("!!!not base64!!!"), 400),
        "base64-bad-padding": (upload("iVBORw0KGgo"), 400),
        "base64-of-nothing": (upload(""), 400),
        "base64-of-truncated-png": (upload(TRUNCATED_PNG), 400),
        "base64-of-decompression-bomb": (upload(BOMB), 400),
        "base64-of-text": (upload(b"hello"), 400),
        "base64-oversized": (upload("A" * 4_000_000), 413),
        "wrong-content-type-form": (b"filename=a.png&image_data=AAAA", 400),
    }
    for name, (body, status) in uploads.items():
        headers = FORM if name.endswith("form") else JSON
        cases.append(Case("tagged-images", name, "POST", f"{TIM}/upload", status, body, headers))
    return cases


def form_cases() -> list[Case]:
    """sharinpix's bracket form."""
    bodies = {
        "form-not-utf8": (b"cloudinary[public_id]=\xff\xfe", FORM, 400),
        "form-nested-too-deep": (b"cloudinary" + b"[a]" * 5000 + b"=1", FORM, 400),
        "form-contradicting-keys": (b"cloudinary[public_id]=1&cloudinary=2", FORM, 400),
        "form-without-public-id": (b"cloudinary[format]=png", FORM, 400),
        "form-width-not-digits": (b"cloudinary[public_id]=x&cloudinary[width]=1e9", FORM, 400),
        "form-over-one-mebibyte": (b"cloudinary[public_id]=" + b"x" * (1024 * 1024), FORM, 413),
        "wrong-content-type-json": (b'{"cloudinary": {"public_id": "x"}}', JSON, 400),
        "wrong-content-type-multipart": (
            multipart(("cloudinary[public_id]", b"x", None, None)),
            MULTIPART,
            400,
        ),
        "empty-body": (b"", FORM, 400),
    }
    return [Case("sharinpix", n, "POST", SPX_UPLOAD, s, body, h) for n, (body, h, s) in bodies.items()]


def path_and_query_cases() -> list[Case]:
    """Long query strings and path segments (well within the 64 KiB request head, so the API judges them:
    past it, the HTTP protocol refuses them, tests/unit/mockserver/test_head_limits.py), traversal and
    control characters."""
    long = "x" * 15_000
    traversal = "..%2F..%2F..%2Fetc%2Fpasswd"
    return [
        Case("everydaypic", "long-query-string", "GET", f"{EDP_UPLOAD}/info?id={long}", 404),
        Case("evotor", "long-path-segment", "GET", f"{evotor_images()}/{long}", 404),
        Case(
            "image-upload", "long-query-string", "DELETE", f"/image-upload/DeleteImage?FileName={long}", 404
        ),
        Case(
            "sharinpix",
            "long-album-id",
            "POST",
            SPX_UPLOAD.replace(DEV_ALBUM, long),
            403,
            b"cloudinary[public_id]=x",
            FORM,
        ),
        Case("tagged-images", "long-query-string", "GET", f"{TIM}/images?limit={'9' * len(long)}", 400),
        Case(
            "tagged-images",
            "long-search",
            "GET",
            f"{TIM}/search/images?" + "&".join(["exact_tags=a"] * 4000) + "&limit=101",
            400,
        ),
        Case("everydaypic", "path-traversal-in-id", "GET", f"{EDP_UPLOAD}/{traversal}", 404),
        Case("evotor", "path-traversal-in-file-url", "GET", f"/__mock__/files/evotor/{traversal}", 404),
        Case(
            "image-upload",
            "path-traversal-in-file-name",
            "DELETE",
            "/image-upload/DeleteImage?FileName=../../etc/passwd",
            404,
        ),
        Case(
            "image-upload",
            "path-traversal-in-file-url",
            "GET",
            f"/__mock__/files/image-upload/{traversal}",
            404,
        ),
        Case("everydaypic", "control-characters-in-id", "GET", f"{EDP_UPLOAD}/%00%0A%1B", 404),
        Case("evotor", "control-characters-in-image-id", "DELETE", f"{evotor_images()}/%00%0A%1B", 404),
        Case(
            "sharinpix",
            "control-characters-in-album-id",
            "POST",
            SPX_UPLOAD.replace(DEV_ALBUM, "%00%0A"),
            403,
            b"cloudinary[public_id]=x",
            FORM,
        ),
        Case("tagged-images", "control-characters-in-id", "GET", f"{TIM}/images/%00%0A", 404),
        # beyond int64: refused, never stored
        Case("tagged-images", "id-beyond-int64", "GET", f"{TIM}/images/{'9' * 30}", 400),
        # Long and empty names are valid under the seed (no length stated): only a wrong type is bad input.
        Case("tagged-images", "tag-name-not-a-string", "POST", f"{TIM}/tags", 400, b'{"name": ["x"]}', JSON),
        Case("tagged-images", "filename-a-number", "POST", f"{TIM}/images", 400, b'{"filename": 1}', JSON),
    ]


def auth_cases() -> list[Case]:
    """Tokens the default mock (shape check only) refuses: absent, not a JWT, wrong scheme."""
    cases = [
        Case("evotor", "missing-token", "GET", evotor_images(), 401, auth=False),
        Case(
            "evotor", "empty-token", "GET", evotor_images(), 401, headers={"X-Authorization": ""}, auth=False
        ),
    ]
    for api, method, path, scheme in (
        ("image-upload", "GET", "/image-upload/GetAllImages", "Bearer {}"),
        ("sharinpix", "POST", SPX_UPLOAD, 'Token token="{}"'),
    ):
        tokens = {
            "missing-token": None,
            "token-not-a-jwt": scheme.format("12345abcdef"),
            "token-with-two-parts": scheme.format("eyJhbGciOiJIUzI1NiJ9.e30"),
            "token-payload-not-json": scheme.format("eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln"),
            "token-wrong-scheme": "Basic dXNlcjpwYXNz",
        }
        body, headers = (b"cloudinary[public_id]=x", FORM) if api == "sharinpix" else (None, {})
        for name, value in tokens.items():
            sent = {**headers, **({"Authorization": value} if value is not None else {})}
            cases.append(Case(api, name, method, path, 401, body, sent, auth=False))
    return cases


BATTERY = multipart_cases() + json_cases() + form_cases() + path_and_query_cases() + auth_cases()


@pytest.mark.parametrize("case", BATTERY, ids=[f"{c.api}-{c.name}" for c in BATTERY])
def test_bad_input_gets_a_clear_4xx_in_the_apis_format(client, case, record_property):
    record_property("bad_input", case.api)
    before = state(client)
    response = case.send(client)
    assert response.status_code == case.status, (response.status_code, response.text[:300])
    assert_api_error(case.api, response)
    assert state(client) == before, "a rejected request changed the mock's state"
    assert_healthy(client, case.api)


# -- tokens under --jwt-secret ---------------------------------------------------------------------------
def secret_token_cases() -> list[tuple[str, str, str]]:
    """(api, case, token): each well-formed but invalid once signatures and expiry are checked."""
    grant = {"user_id": "u", "abilities": {DEV_ALBUM: {"Access": {"image_upload": True}}}}
    claims = {"image-upload": {"sub": "u"}, "sharinpix": grant}
    cases = []
    for api, c in claims.items():
        cases += [
            (api, "expired", hs256({**c, "exp": int(time.time()) - 60})),
            (
                api,
                "signed-with-another-key",
                hs256({**c, "exp": 4102444800}, key="another-secret-that-is-32-bytes-long"),
            ),
            (api, "alg-none", unsigned_jwt({**c, "exp": 4102444800})),
            (api, "without-exp", hs256(c)),
            (api, "signature-of-another-payload", hs256({**c, "exp": 4102444800})[:-4] + "AAAA"),
        ]
    return cases


SECRET_CASES = secret_token_cases()


@pytest.mark.parametrize(("api", "name", "token"), SECRET_CASES, ids=[f"{a}-{n}" for a, n, _ in SECRET_CASES])
def test_invalid_tokens_get_401_under_jwt_secret(secret_server, api, name, token, record_property):
    record_property("bad_input", api)
    with httpx.Client(base_url=secret_server.url, timeout=TIMEOUT) as client:
        before = state(client)
        if api == "image-upload":
            headers = {"Authorization": f"Bearer {token}", **MULTIPART}
            response = client.post(IUP_UPLOAD, content=file_form(api, PNG_300), headers=headers)
        else:
            headers = {"Authorization": f'Token token="{token}"', **FORM}
            response = client.post(SPX_UPLOAD, content=b"cloudinary[public_id]=x", headers=headers)
        assert response.status_code == 401, response.text
        assert_api_error(api, response)
        assert state(client) == before
        assert_healthy(client, api)  # the dev tokens are signed with the secret


# -- signed URLs -------------------------------------------------------------------------------------------
@pytest.fixture
def record(client):
    """A tagged-images record without its file: its id and upload path."""
    r = client.post(f"{TIM}/images", json={"filename": "a.png"})
    assert r.status_code == 201
    return r.json()["id"], f"/__mock__/files/tagged-images/{r.json()['id']}"


def signed(method: str, path: str, key: bytes = SIGNING_KEY, **kwargs) -> str:
    return UrlSigner(key).query(method, path, **kwargs)


SIGNED_URL_CASES = {
    # name: (method, the query for the file's path, body, expected status)
    "unsigned": ("PUT", lambda path: "", PNG_300, 403),
    "forged-signature": (
        "PUT",
        lambda path: f"expires={int(time.time()) + 600}&signature={'0' * 64}",
        PNG_300,
        403,
    ),
    "expired": ("PUT", lambda path: signed("PUT", path, now=time.time() - 3600), PNG_300, 403),
    "expiry-moved-later": (
        "PUT",
        lambda path: signed("PUT", path).replace("expires=", "expires=9"),
        PNG_300,
        403,
    ),
    "get-signature-used-for-put": ("PUT", lambda path: signed("GET", path), PNG_300, 403),
    "signature-of-another-record": ("PUT", lambda path: signed("PUT", path + "0"), PNG_300, 403),
    "expires-not-a-number": ("PUT", lambda path: "expires=soon&signature=" + "0" * 64, PNG_300, 403),
    "signed-with-another-key": ("PUT", lambda path: signed("PUT", path, key=b"other"), PNG_300, 403),
    "put-of-zero-bytes": ("PUT", lambda path: signed("PUT", path), b"", 400),
    "put-of-truncated-png": ("PUT", lambda path: signed("PUT", path), TRUNCATED_PNG, 400),
    "put-of-decompression-bomb": ("PUT", lambda path: signed("PUT", path), BOMB, 400),
    "put-over-the-limit": ("PUT", lambda path: signed("PUT", path), b"\0" * (MAX_BODY + 1), 413),
    "get-of-a-file-not-uploaded": ("GET", lambda path: signed("GET", path), None, 404),
}


@pytest.mark.parametrize("name", sorted(SIGNED_URL_CASES))
def test_bad_signed_urls_and_files_are_refused(client, record, name, record_property):
    record_property("bad_input", "tagged-images")
    _, path = record
    method, query, body, status = SIGNED_URL_CASES[name]
    before = state(client)
    headers = {"content-type": "image/png"}
    response = client.request(method, f"{path}?{query(path)}", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert_api_error("tagged-images", response)
    assert state(client) == before
    assert_healthy(client, "tagged-images")


def test_signed_url_for_a_traversal_path_finds_nothing(client, record_property):
    """Even correctly signed, a file key is an id looked up in memory: ``..`` never reaches a file system."""
    record_property("bad_input", "tagged-images")
    path = "/__mock__/files/tagged-images/..%2F..%2Fetc%2Fpasswd"
    signed = UrlSigner(SIGNING_KEY).query("GET", "/__mock__/files/tagged-images/../../etc/passwd")
    response = client.get(f"{path}?{signed}")
    assert response.status_code in (403, 404), response.text
    assert_api_error("tagged-images", response)


# -- limits enforced while the body streams in ---------------------------------------------------------------
def raw_exchange(server: LiveServer, head: bytes, chunks) -> tuple[httpx.Response, int]:
    """Send ``head``, then ``chunks`` in chunked encoding (never its terminator), and read the response.

    Sending stops as soon as the server has answered. Returns the response and the body bytes sent; a
    server that waited for the end of the body would time out here instead of answering.
    """
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(head)
        for chunk in chunks:
            sock.settimeout(0)
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    break  # the server has answered
            except BlockingIOError:
                pass
            sock.settimeout(TIMEOUT)
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
            sent += len(chunk)
        sock.settimeout(TIMEOUT)
        data = b""
        while b"\r\n\r\n" not in data:
            received = sock.recv(65536)
            assert received, "the server closed the connection without answering"
            data += received
        head_bytes, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head_bytes.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in header_lines)
        headers = {k.lower(): v for k, v in headers.items()}
        while len(body) < int(headers["content-length"]):
            received = sock.recv(65536)
            assert received, "the server closed the connection in the middle of its answer"
            body += received
    return httpx.Response(int(status_line.split()[1]), headers=headers, content=body), sent


CHUNK = 16 * 1024


def chunks_past(limit: int):
    """Chunks up to twice the limit: more than enough to pass it; the body's end is never sent."""
    for _ in range(2 * limit // CHUNK + 2):
        yield b"\x00" * CHUNK


@pytest.mark.parametrize(
    ("api", "path", "ctype", "limit"),
    [
        ("everydaypic", EDP_UPLOAD, MULTIPART["content-type"], MAX_BODY),
        ("evotor", evotor_images(), MULTIPART["content-type"], MAX_BODY),
        ("image-upload", IUP_UPLOAD, MULTIPART["content-type"], MAX_BODY),
        ("sharinpix", SPX_UPLOAD, FORM["content-type"], 1024 * 1024),  # the spec's x-max-body-bytes
        ("tagged-images", f"{TIM}/upload", JSON["content-type"], 3_960_000),  # the spec's x-max-body-bytes
    ],
    ids=lambda value: value if value in APIS else "",
)
def test_chunked_body_over_the_limit_gets_413_before_it_ends(
    server, client, api, path, ctype, limit, record_property
):
    """No Content-Length: the limit can only be enforced by counting while reading. The body never ends,
    so the 413 proves the server answered from the bytes it had, without buffering the whole body."""
    record_property("bad_input", api)
    before = state(client)
    auth = "".join(f"{k}: {v}\r\n" for k, v in auth_headers(api).items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        f"Content-Type: {ctype}\r\n{auth}\r\n"
    ).encode()
    response, sent = raw_exchange(server, head, chunks_past(limit))
    assert response.status_code == 413, response.text[:300]
    assert_api_error(api, response)
    assert sent > limit
    assert state(client) == before
    assert_healthy(client, api)


def test_chunked_put_to_a_signed_url_over_the_limit_gets_413_before_it_ends(
    server, client, record, record_property
):
    record_property("bad_input", "tagged-images")
    _, path = record
    before = state(client)
    head = (
        f"PUT {path}?{UrlSigner(SIGNING_KEY).query('PUT', path)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Transfer-Encoding: chunked\r\nContent-Type: image/png\r\n\r\n"
    ).encode()
    response, sent = raw_exchange(server, head, chunks_past(MAX_BODY))
    assert response.status_code == 413, response.text[:300]
    assert_api_error("tagged-images", response)
    assert sent > MAX_BODY
    assert state(client) == before
    assert_healthy(client, "tagged-images")


def test_declared_content_length_over_the_limit_is_refused_without_reading_the_body(
    server, client, record_property
):
    """Content-Length of 1 GB and no body at all: an answer can only come from the header."""
    record_property("bad_input", "everydaypic")
    head = (
        f"POST {EDP_UPLOAD} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000000\r\n"
        f"Content-Type: {MULTIPART['content-type']}\r\n\r\n"
    ).encode()
    response, _ = raw_exchange(server, head, [])
    assert response.status_code == 413, response.text[:300]
    assert_api_error("everydaypic", response)
    assert "limit" in response.text
    assert_healthy(client, "everydaypic")


def test_chunked_upload_under_the_limit_is_accepted(client):
    """The other side of the limit: a chunked body (no Content-Length) is a body, not a missing one."""
    form = file_form("everydaypic", PNG_300)
    chunks = (form[i : i + 100] for i in range(0, len(form), 100))
    r = client.post(EDP_UPLOAD, content=chunks, headers=MULTIPART)
    assert r.status_code == 200, r.text
    assert "content-length" not in r.request.headers
    assert client.get(f"{EDP_UPLOAD}/{r.json()[0]['id']}").content == PNG_300


# -- the HTTP layer ---------------------------------------------------------------------------------------
def test_request_line_beyond_the_head_limit_is_414_in_the_apis_format_and_the_server_lives(server, client):
    """Past the request-head limit (64 KiB; a 1 MB query string), the mock's HTTP protocol answers 414
    before the parser buffers it or any application code runs, in the format of the API the path names
    (mockserver.serving)."""
    head = f"GET {TIM}/images?q={'x' * 1_000_000} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    response, _ = raw_exchange(server, head, [])
    assert response.status_code == 414
    assert_api_error("tagged-images", response)
    assert_healthy(client, "tagged-images")


# -- hostile but valid names: accepted, stored safely, returned intact -----------------------------------
HOSTILE_NAMES = [
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "nul\x00byte",
    "escape\x1b[31mred",
    "right-to-left\u202egnp.exe",
    "emoji-\U0001f4f7-名前.png",
    " leading and trailing spaces ",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_hostile_names_are_kept_as_data_and_never_used_as_paths(client, name):
    """Where a spec allows any string, the name is stored and echoed exactly; image-upload's cloud name
    (part of its file URL) is reduced to path-safe ASCII; nothing is ever read from or written to disk."""
    r = client.post(f"{TIM}/images", json={"filename": name, "tags": [name]})
    assert r.status_code == 201, r.text
    record = client.get(f"{TIM}/images/{r.json()['id']}").json()
    assert record["filename"] == name and record["tags"][0]["name"] == name

    r = client.post(
        EDP_UPLOAD,
        content=multipart(
            ("file", PNG_300, "a.png", "image/png"),
            ("fileName", name.encode(), None, None),
            ("name", name.encode(), None, None),
        ),
        headers=MULTIPART,
    )
    assert r.status_code == 200, r.text
    assert r.json()[0]["fileName"] == name and r.json()[0]["name"] == name

    files = {"file": (name, PNG_300, "image/png")}
    r = client.post(IUP_UPLOAD, files=files, headers=auth_headers("image-upload"))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    cloud = data["fileName"]
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in cloud), cloud
    assert data["fileLinkPath"] == f"images/{cloud}" and data["mediaLink"].endswith(f"/{cloud}")
    assert client.get(data["mediaLink"]).content == PNG_300


def test_image_upload_stores_any_bytes_verbatim_without_decoding_them(client):
    """IUP-02 decides any bytes are a valid upload, so a zero-byte file, a truncated PNG and a bomb are
    stored and served back exactly; the bomb is only inspected up to its header, never decoded."""
    headers = auth_headers("image-upload")
    for data in (b"", TRUNCATED_PNG, BOMB):
        r = client.post(IUP_UPLOAD, files={"file": ("x.png", data, "image/png")}, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["size"] == len(data)
        assert client.get(r.json()["data"]["mediaLink"]).content == data
    assert state(client)["stored_bytes"] == len(TRUNCATED_PNG) + len(BOMB)
