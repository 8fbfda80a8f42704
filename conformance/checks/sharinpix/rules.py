"""sharinpix rules one by one (SPX-01..05): the token and its grant, the seed's example body and answer,
list keys, wide numbers, a body without public_id, the response headers."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import urlencode

import pytest

from conformance.checks.kit import concurrently
from conformance.findings import check, refused, should
from conformance.recording import RecordingClient

from .common import (
    NO_TOKEN_401,
    NOT_GRANTED_403,
    NUMBERED_LISTS,
    WIDE_NUMBERS,
    body_of,
    created,
    image_breaks,
    post_form,
    seed_example,
)

pytestmark = pytest.mark.api("sharinpix")


# -- SPX-02 / SPX-03 on the seed's own example ---------------------------------------------------------
@pytest.fixture(scope="module")
def seed_answer(target, tls, response_schema):
    """The seed's example request, sent once; the checks that only read its answer share it."""
    with RecordingClient(
        base_url=target.base_url,
        headers=target.auth_headers(),
        timeout=30,
        verify=tls,
        on_response=response_schema,
    ) as c:
        body, cloudinary, metadatas = seed_example(target.unique("seed"))
        yield post_form(c, body, target.album_id), cloudinary, metadatas


@pytest.mark.writes
@pytest.mark.rule("SPX-02")
def check_spx02_seed_example_body_is_decoded_as_nested_form(seed_answer):
    r, cloudinary, _ = seed_answer
    created(r)
    infos = body_of(r).get("infos")
    check(isinstance(infos, dict), f"infos: expected the decoded cloudinary hash, got {infos!r}", response=r)
    infos = infos if isinstance(infos, dict) else {}
    for key in ("colors", "predominant", "coordinates", "tags", "image_metadata", "public_id"):
        check(
            infos.get(key) == cloudinary[key],
            f"cloudinary[{key}] of the seed's example body: expected it decoded as {cloudinary[key]!r}, "
            f"got {infos.get(key)!r}",
            response=r,
        )


@pytest.mark.writes
@pytest.mark.rule("SPX-02")
def check_spx02_numbered_list_keys_read_as_lists(target, http):
    """SHOULD (our decision): the seed writes lists as ``k[]=v``; numbered keys ``k[0]=v`` are another
    encoding, which a Rack (Rails) server reads as a map, or refuses. The seed's own is SPX-02's MUST."""
    body, cloudinary, _ = seed_example(target.unique("numbered"))
    count = iter(range(body.count("cloudinary[colors][]")))
    numbered = re.sub(r"cloudinary\[colors\]\[\]", lambda _: f"cloudinary[colors][{next(count)}]", body)
    r = post_form(http, numbered, target.album_id)
    answer = body_of(r) if r.is_success else None
    colors = answer.get("infos", {}).get("colors") if isinstance(answer, dict) else None
    should(
        target,
        colors == cloudinary["colors"],
        f"cloudinary[colors][0]=…: expected the list {cloudinary['colors'][:2]!r}…, got {r.status_code} "
        f"with colors {str(colors)[:120]}",
        response=r,
        decision=NUMBERED_LISTS,
    )


@pytest.mark.writes
@pytest.mark.rule("SPX-03")
def check_spx03_seed_example_answer_echoes_the_request(target, seed_answer):
    r, cloudinary, metadatas = seed_answer
    check(
        r.status_code == 200,
        f"create image: expected 200 (the seed's 200 OK), got {r.status_code}: {r.text[:300]}",
        response=r,
    )
    check(
        r.headers.get("content-type", "").startswith("application/json"),
        f"expected a JSON body, got Content-Type {r.headers.get('content-type')!r}",
        response=r,
    )
    if r.is_success:  # the bracket keys' decoding (SPX-02) is judged on this same answer by its own check
        for rule_id, message in image_breaks(body_of(r), cloudinary, metadatas, target.album_id):
            check(rule_id != "SPX-03", message, response=r)


@pytest.mark.writes
@pytest.mark.rule("SPX-03")
def check_spx03_numbers_wider_than_32_bits(target, http):
    """SHOULD (our decision): values up to 18 digits are accepted and echoed. The seed shows only values
    that fit 32 bits, so a server with int32 columns that refuses these honours the seed."""
    body, cloudinary, metadatas = seed_example(
        target.unique("wide"),
        width="4294967296",
        height="3000000000",
        bytes="4102444800",
        version="2147483648",
    )
    r = post_form(http, body, target.album_id)
    if not should(
        target,
        r.is_success,
        f"a cloudinary hash with 64-bit values: expected a 2xx, got {r.status_code}: {r.text[:200]}",
        response=r,
        decision=WIDE_NUMBERS,
    ):
        return
    breaks = image_breaks(body_of(r), cloudinary, metadatas, target.album_id)
    for _, message in breaks:
        should(target, False, f"64-bit values: {message}", response=r, decision=WIDE_NUMBERS)


# -- SPX-01 -----------------------------------------------------------------------------------------------
@pytest.mark.rule("SPX-01")
def check_spx01_without_or_with_a_malformed_token_is_refused(target, http):
    cases = {
        "no Authorization header": None,
        **{f"Authorization: {h!r}": h for h in ("Token nonsense", "Bearer", 'Token token="not-a-jwt"')},
    }

    def send(header):
        body = seed_example(target.unique("anon"))[0]
        if header is None:
            return post_form(http, body, target.album_id, drop_auth=True)
        return post_form(http, body, target.album_id, headers={"Authorization": header})

    for what, r in zip(cases, concurrently(send, cases.values()), strict=True):
        refused(r, what, should_status=401, decision=NO_TOKEN_401)


@pytest.mark.rule("SPX-01")
def check_spx01_token_not_granting_the_album_is_refused(target, http):
    """The caller's token grants its own album(s) only; a fresh album id on the path is not among them."""
    other = target.unique("album")
    r = post_form(http, seed_example(target.unique("foreign"))[0], other)
    refused(
        r,
        f"a token that does not grant image_upload on album {other}",
        should_status=403,
        decision=NOT_GRANTED_403,
    )


def _with_claims(token: str, change) -> str:
    """The token with its payload's claims changed (``change(claims) -> claims``), its signature kept: a
    server that verifies signatures refuses it for that alone, which this check accepts (any 4xx)."""
    header, payload, *rest = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    encoded = base64.urlsafe_b64encode(json.dumps(change(claims)).encode()).rstrip(b"=").decode()
    return ".".join([header, encoded, *rest])


@pytest.mark.writes
@pytest.mark.rule("SPX-01")
def check_spx01_a_grant_present_but_false_is_refused(target, http):
    """The seed grants by value: ``{album_id: {Access: {image_upload: true}}}``; the key present with
    ``false`` grants nothing."""
    token = target.credential
    if not isinstance(token, str) or token.count(".") != 2:
        pytest.skip("the target's credential is not a JWT whose claims can be shown with a false grant")

    def deny(claims):
        abilities = claims.get("abilities") if isinstance(claims.get("abilities"), dict) else {}
        return {**claims, "abilities": {**abilities, target.album_id: {"Access": {"image_upload": False}}}}

    try:
        denied = _with_claims(token, deny)
    except ValueError:
        pytest.skip("the target's credential is not a JWT whose claims can be read")
    r = post_form(
        http,
        seed_example(target.unique("denied"))[0],
        target.album_id,
        headers={"Authorization": f'Token token="{denied}"'},
    )
    refused(
        r,
        f"a token granting image_upload: false on album {target.album_id}",
        should_status=403,
        decision=NOT_GRANTED_403,
    )


# -- SPX-04 / SPX-05 (SHOULD) -----------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("SPX-04")
def check_spx04_body_without_public_id_is_4xx(target, http):
    forms = {
        "no public_id": seed_example(target.unique("x"), public_id=None)[0],
        "no cloudinary": urlencode([("metadatas[meta]", target.unique("orphan"))]),
    }
    for case, r in zip(
        forms, concurrently(lambda b: post_form(http, b, target.album_id), forms.values()), strict=True
    ):
        check(
            400 <= r.status_code < 500,
            f"a body with {case}: expected a 4xx, got {r.status_code}: {r.text[:200]}",
            response=r,
        )


@pytest.mark.writes
@pytest.mark.rule("SPX-05")
def check_spx05_response_headers(target, seed_answer):
    r = seed_answer[0]
    created(r)
    token = target.credential
    check(
        r.headers.get("X-token") == token,
        f"X-token: expected the caller's JWT {token[:24]}…, got {str(r.headers.get('X-token'))[:40]!r}",
        response=r,
    )
    check(
        bool(r.headers.get("X-Request-Id")),
        "X-Request-Id: expected a request id, absent or empty",
        response=r,
    )
    directives = {d.strip().lower() for d in r.headers.get("Cache-Control", "").split(",")}
    check(
        "no-store" in directives,
        f"Cache-Control: expected no-store, got {r.headers.get('Cache-Control')!r}",
        response=r,
    )
