"""sharinpix behaviour (SPX-01..05, ALL-04, ALL-05). The API has one operation,
POST /api/v1/albums/{album_id}/images/, with a bracket-nested form body. There is no list, get or delete:
every check sends a fresh, unique Cloudinary public_id and judges the 200 body it gets back; nothing
assumes an empty album (and "nothing is stored" after a refusal cannot be observed from outside).

The setup request is the seed's example body, every field of it (27 colour pairs and all), with only
``cloudinary[public_id]`` made unique. Generated data stays within what the seed's example shows: every
number fits a signed 32-bit integer, as the seed's largest (version 1484586860) does. Wider numbers (up
to the mock's 18 digits) are our decision, judged at SHOULD by a check of their own.

The seed names no status for a refused token: any 4xx is the MUST; 401 without a token and 403 for a
token that does not grant the album are the mock's (SHOULD).
"""

from __future__ import annotations

import base64
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cache
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from conformance.recording import RecordingClient
from conformance.verdicts import check, judged, needs, refused, should
from image_api_contracts import APIS

pytestmark = pytest.mark.api("sharinpix")

FORM = "application/x-www-form-urlencoded"
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
INT32_MAX = 2**31 - 1  # the seed's numbers all fit; a server storing them in int32 columns honours it
POOL = 6

NO_TOKEN_401 = "x-decision: a missing or malformed token gets 401"
NOT_GRANTED_403 = "x-decision: a token whose abilities do not grant the album gets 403"
NUMBERED_LISTS = "x-decision: numbered list keys (k[0]=v&k[1]=w, qs/OpenAPI-generator style) read as k[]=v"
WIDE_NUMBERS = "x-decision: cloudinary[width], [height] and [bytes] take up to 18 digits (64-bit)"

# The seed's example request body, verbatim (seed 003_bb563f67edeea9c3.txt, kept in the spec under
# x-seed-example-body); SEED_PUBLIC_ID is replaced by a unique id before sending (no delete exists).
SEED_PUBLIC_ID = "c6y8knpw2ywwwfc6cykj"


@cache
def seed_example_body() -> str:
    spec = APIS["sharinpix"].spec
    media = spec["paths"]["/api/v1/albums/{album_id}/images/"]["post"]["requestBody"]["content"][FORM]
    return media["x-seed-example-body"].strip()


def rack_decode(body: str) -> dict:
    """What a Rack (Rails) server makes of a bracket form: ``a[b]=v`` a map, ``a[]=v`` a list element.
    Kept here, apart from the mock's decoder, so the suite's expectation does not mirror the mock."""
    result: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head, *parts = re.findall(r"^[^\[]+|(?<=\[)[^\]]*(?=\])", key)
        node, name = result, head
        for part in parts:
            if part == "":
                node = node.setdefault(name, [])
                break
            node = node.setdefault(name, {})
            name = part
        if isinstance(node, list):
            node.append(value)
        else:
            node[name] = value
    return result


def seed_example(public_id: str, /, **changes) -> tuple[str, dict, dict]:
    """(body, cloudinary, metadatas) of the seed's example with ``public_id``; ``changes`` replace
    cloudinary values (None drops the key)."""
    form = rack_decode(seed_example_body().replace(SEED_PUBLIC_ID, public_id))
    cloudinary, metadatas = form["cloudinary"], form.get("metadatas", {})
    for key, value in changes.items():
        if value is None:
            cloudinary.pop(key, None)
        else:
            cloudinary[key] = value
    if not changes:  # the seed's own bytes on the wire, brackets unencoded as the seed sends them
        return seed_example_body().replace(SEED_PUBLIC_ID, public_id), cloudinary, metadatas
    return encode(cloudinary, metadatas), cloudinary, metadatas


# -- requests ---------------------------------------------------------------------------------------------
def images_path(album_id: str) -> str:
    return f"/api/v1/albums/{album_id}/images/"


def form_pairs(value, prefix: str) -> list[tuple[str, str]]:
    """Rack's bracket encoding: ``a[b]=v`` for a map, ``a[]=v`` (repeated) for a list."""
    if isinstance(value, dict):
        return [pair for key, item in value.items() for pair in form_pairs(item, f"{prefix}[{key}]")]
    if isinstance(value, list):
        return [(f"{prefix}[]", item) for item in value]
    return [(prefix, value)]


def encode(cloudinary: dict | None, metadatas: dict | None = None) -> str:
    pairs = form_pairs(cloudinary, "cloudinary") if cloudinary else []
    return urlencode(pairs + (form_pairs(metadatas, "metadatas") if metadatas else []))


def post_form(http, body: str, album_id: str, headers: dict | None = None, drop_auth: bool = False):
    request = http.build_request(
        "POST",
        images_path(album_id),
        content=body.encode(),
        headers={"Content-Type": FORM, **(headers or {})},
    )
    if drop_auth:
        request.headers.pop("Authorization", None)
    return http.send(request)


def body_of(response):
    try:
        return response.json()
    except ValueError:
        return None


def created(response, what: str = "create of the seed's example image") -> dict:
    """A setup create: any 2xx with a JSON object, else the check is not exercised (see SPX-03)."""
    needs(response, what, "SPX-03", ok=lambda r: r.is_success and isinstance(body_of(r), dict))
    return body_of(response)


def concurrently(function, items) -> list:
    with ThreadPoolExecutor(max_workers=POOL) as pool:
        return list(pool.map(function, items))


# -- what comes back --------------------------------------------------------------------------------------
def exif_to_utc(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y:%m:%d %H:%M:%S").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def as_time(value) -> datetime | None:
    """An ISO 8601 date-time with an offset, else None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


REQUIRED = [
    "id",
    "public_id",
    "infos",
    "exifs",
    "width",
    "height",
    "format",
    "size",
    "filename",
    "album_id",
    "metadatas",
    "taken_at",
    "created_at",
    "updated_at",
    "thumbnails",
    "external_urls",
]


def image_breaks(image, cloudinary: dict, metadatas: dict, album_id: str) -> list[tuple[str, str]]:
    """Every break of the 200 body against the form that was sent, as (rule, message): a bracket key that
    did not decode to its list or map is SPX-02's; every echo rule of the body is SPX-03's."""
    if not isinstance(image, dict):
        return [("SPX-03", f"the 200 body must be the image object, got {str(image)[:120]!r}")]
    breaks = []

    def spx03(ok, message):
        if not ok:
            breaks.append(("SPX-03", message))

    missing = [k for k in REQUIRED if k not in image]
    spx03(not missing, f"the image lacks {missing}")
    image_id = image.get("id")
    spx03(isinstance(image_id, str) and UUID.match(image_id), f"id: expected a UUID, got {image_id!r}")
    spx03(
        image.get("public_id") == image_id,
        f"public_id: expected the id {image_id!r}, got {image.get('public_id')!r}",
    )
    infos = image.get("infos") if isinstance(image.get("infos"), dict) else {}
    for key, sent in cloudinary.items():
        got = infos.get(key, "<absent>")
        if got != sent:
            rule = "SPX-02" if isinstance(sent, list | dict) else "SPX-03"
            what = "decoded as" if rule == "SPX-02" else "echoed as"
            breaks.append((rule, f"infos.{key}: cloudinary[{key}] must be {what} {sent!r}, got {got!r}"))
    exifs = cloudinary.get("image_metadata", {})
    spx03(
        image.get("exifs") == exifs,
        f"exifs: expected cloudinary[image_metadata] {exifs}, got {image.get('exifs')!r}",
    )
    for key in ("width", "height"):
        value = image.get(key)
        if key in cloudinary:
            spx03(
                isinstance(value, int) and not isinstance(value, bool) and value == int(cloudinary[key]),
                f"{key}: expected the integer {int(cloudinary[key])}, got {value!r}",
            )
    for field, source in (("format", "format"), ("size", "bytes"), ("filename", "original_filename")):
        if source in cloudinary:
            spx03(
                image.get(field) == cloudinary[source],
                f"{field}: expected cloudinary[{source}] {cloudinary[source]!r}, got {image.get(field)!r}",
            )
    spx03(
        image.get("album_id") == album_id, f"album_id: expected {album_id!r}, got {image.get('album_id')!r}"
    )
    spx03(
        image.get("metadatas") == metadatas,
        f"metadatas: expected {metadatas}, got {image.get('metadatas')!r}",
    )
    expected_taken = exif_to_utc(exifs.get("DateTimeOriginal"))
    if expected_taken is not None:
        spx03(
            as_time(image.get("taken_at")) == expected_taken,
            f"taken_at: expected DateTimeOriginal {exifs['DateTimeOriginal']!r} read as UTC "
            f"({expected_taken.isoformat()}), got {image.get('taken_at')!r}",
        )
    for key in ("created_at", "updated_at"):
        spx03(
            as_time(image.get(key)) is not None,
            f"{key}: expected a date-time with an offset, got {image.get(key)!r}",
        )
    for key in ("thumbnails", "external_urls"):
        urls = image.get(key)
        bad = [k for k in ("mini", "large", "full") if not isinstance(urls, dict) or not urls.get(k)]
        spx03(
            not bad, f"{key}: expected an object with non-empty mini/large/full URLs, missing or empty: {bad}"
        )
    return breaks


# -- Hypothesis strategies: the cloudinary hash of a direct upload, within the seed's example ranges -------
KEYS = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,14}", fullmatch=True)
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=24)
COUNT = st.integers(0, INT32_MAX).map(str)


@st.composite
def exif_dates(draw) -> str:
    moment = draw(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2037, 12, 31, 23, 59, 59)))
    return moment.strftime("%Y:%m:%d %H:%M:%S")


@st.composite
def cloudinary_hashes(draw, public_id: str) -> dict:
    """A Cloudinary upload result as the form carries it: every scalar a string, lists of strings."""
    colors = draw(
        st.lists(
            st.tuples(
                st.from_regex(r"#[0-9A-F]{6}", fullmatch=True),
                st.decimals(0, 100, places=1, allow_nan=False).map(str),
            ),
            min_size=1,
            max_size=4,
        )
    )
    metadata = draw(st.dictionaries(KEYS.filter(lambda k: k != "DateTimeOriginal"), TEXT, max_size=3))
    version = draw(st.integers(1, INT32_MAX).map(str))
    fmt = draw(st.sampled_from(["jpg", "png", "gif", "webp", "heic", "tiff"]))
    hexes = st.from_regex(r"[0-9a-f]{40}", fullmatch=True)
    signed = draw(st.from_regex(r"[A-Za-z0-9]{8}", fullmatch=True))
    path = f"image/authenticated/s--{signed}--/v{version}/{public_id}.{fmt}"
    info = {  # every field of the seed's example, in its order, with generated values of its kind
        "public_id": public_id,
        "version": version,
        "signature": draw(hexes),
        "width": draw(st.integers(1, 20000).map(str)),
        "height": draw(st.integers(1, 20000).map(str)),
        "format": fmt,
        "resource_type": "image",
        "created_at": draw(exif_dates()).replace(":", "-", 2).replace(" ", "T") + "Z",
        "tags": draw(st.lists(st.from_regex(r"[A-Za-z0-9]{1,18}", fullmatch=True), min_size=1, max_size=3)),
        "bytes": draw(COUNT),
        "type": "authenticated",
        "etag": draw(hexes)[:32],
        "url": f"http://res.cloudinary.com/demo/{path}",
        "secure_url": f"https://res.cloudinary.com/demo/{path}",
        "image_metadata": {**metadata, "DateTimeOriginal": draw(exif_dates())},
        "colors": [item for pair in colors for item in pair],
        "predominant": {"google": [item for pair in colors for item in pair]},
        "phash": draw(hexes)[:16],
        "coordinates": {"faces": [""]},
        "illustration_score": str(draw(st.floats(0, 1))),
        "semi_transparent": draw(st.sampled_from(["true", "false"])),
        "grayscale": draw(st.sampled_from(["true", "false"])),
        "original_filename": draw(TEXT.filter(bool)),
    }
    return info


metadatas_maps = st.dictionaries(KEYS, TEXT, min_size=1, max_size=4)


class SharinpixMachine(RuleBasedStateMachine):
    """Creates images from generated Cloudinary hashes and from the seed's own example body; each 200 body
    must echo what was sent (SPX-02: the bracket keys decoded; SPX-03: the echo rules)."""

    def __init__(self, target, http):
        super().__init__()
        self.target, self.http = target, http

    def _create(self, body: str, cloudinary: dict, metadatas: dict) -> None:
        r = judged(post_form(self.http, body, self.target.album_id))
        assert r.is_success, f"create image: expected 200 (SPX-03), got {r.status_code}: {r.text[:300]}"
        breaks = image_breaks(body_of(r), cloudinary, metadatas, self.target.album_id)
        assert not breaks, f"({breaks[0][0]}) " + "; ".join(message for _, message in breaks)[:600]

    @rule(data=st.data(), metadatas=metadatas_maps)
    def create_generated(self, data, metadatas):
        cloudinary = data.draw(cloudinary_hashes(self.target.unique("pid")))
        self._create(encode(cloudinary, metadatas), cloudinary, metadatas)

    @rule()
    def create_seed_example(self):
        self._create(*seed_example(self.target.unique("seed")))


@pytest.mark.writes
@pytest.mark.rule("SPX-03", "SPX-02")
def test_spx_state_machine(target, http, hypothesis_settings):
    run_state_machine_as_test(lambda: SharinpixMachine(target, http), settings=hypothesis_settings)


# -- SPX-02 / SPX-03 on the seed's own example ---------------------------------------------------------
@pytest.fixture(scope="module")
def seed_answer(target, tls):
    """The seed's example request, sent once; the checks that only read its answer share it."""
    with RecordingClient(
        base_url=target.base_url, headers=target.auth_headers(), timeout=30, verify=tls
    ) as c:
        body, cloudinary, metadatas = seed_example(target.unique("seed"))
        yield post_form(c, body, target.album_id), cloudinary, metadatas


@pytest.mark.writes
@pytest.mark.rule("SPX-02")
def test_spx02_seed_example_body_is_decoded_as_nested_form(seed_answer):
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
def test_spx02_numbered_list_keys_read_as_lists(target, http):
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
def test_spx03_seed_example_answer_echoes_the_request(target, seed_answer):
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
def test_spx03_numbers_wider_than_32_bits(target, http):
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
def test_spx01_without_or_with_a_malformed_token_is_refused(target, http):
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
def test_spx01_token_not_granting_the_album_is_refused(target, http):
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
def test_spx01_a_grant_present_but_false_is_refused(target, http):
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
def test_spx04_body_without_public_id_is_4xx(target, http):
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
def test_spx05_response_headers(target, seed_answer):
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


# -- ALL-04 -----------------------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("ALL-04")
def test_all04_parallel_creates_lose_nothing(target, http):
    """No list or get exists: 20 parallel creates must give 20 distinct ids, each echoing its own request."""
    forms = []
    for i in range(20):
        body, cloudinary, _ = seed_example(target.unique(f"par{i}"))
        forms.append(
            (
                body.replace("metadatas[meta]=data", f"metadatas[meta]=data&metadatas[index]={i}"),
                cloudinary["public_id"],
                {"meta": "data", "index": str(i)},
            )
        )
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda f: post_form(http, f[0], target.album_id), forms))
    needs(responses[0], "a create of the seed's example", "SPX-03")
    images = []
    for i, r in enumerate(responses):
        check(r.is_success, f"parallel create {i}: got {r.status_code}: {r.text[:200]}", response=r)
        images.append(body_of(r) if r.is_success and isinstance(body_of(r), dict) else {})
    ids = [image.get("id") for image in images if image]
    check(len(set(ids)) == len(ids), f"{len(ids)} parallel creates gave {len(set(ids))} distinct ids: {ids}")
    # Whose request does each answer echo? Only another request's data is ALL-04's (a missing or wrong
    # echo of the answer's own request is SPX-03's, judged on its own).
    owners = {sent: i for i, (_, sent, _) in enumerate(forms)}
    for i, (image, r) in enumerate(zip(images, responses, strict=True)):
        if not image:
            continue
        echoed = (image.get("infos") or {}).get("public_id")
        index = (image.get("metadatas") or {}).get("index")
        others = {owners.get(echoed, i), int(index) if str(index).isdigit() else i} - {i}
        check(
            not others,
            f"parallel create {i} answered with the data of create {sorted(others)}: public_id {echoed}, "
            f"metadatas {image.get('metadatas')}",
            response=r,
        )


# -- ALL-05: what the seed allows is accepted ------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("ALL-05")
def test_all05_bodies_the_seed_allows_are_accepted(target, http):
    """The seed marks every parameter "Required: false" and bounds nothing: fields may be left out, keys
    beyond the example's may come (Cloudinary adds them), and any value of the example's kinds is fine.
    (A body without cloudinary[public_id] is SPX-04's, at SHOULD; it is not sent here.)"""
    unique = target.unique
    full_cloudinary = seed_example(unique("x"))[1]
    extra = {
        **full_cloudinary,
        "public_id": unique("extra"),
        "access_mode": "authenticated",
        "pages": "1",
        "placeholder": "false",
        "info": {"detection": {"captioning": {"status": "complete"}}},
        "context": {"custom": {"alt": "a product"}},
    }
    bodies = {
        "only cloudinary[public_id]": encode({"public_id": unique("min")}),
        "the seed's example without metadatas": encode({**full_cloudinary, "public_id": unique("nometa")}),
        "cloudinary keys beyond the seed's example": encode(extra, {"meta": "data"}),
        "image_metadata without DateTimeOriginal": encode(
            {"public_id": unique("nodate"), "image_metadata": {"Colorspace": "RGB"}}, {"meta": "data"}
        ),
        "non-ASCII file name and metadata, an empty metadata value": encode(
            {"public_id": unique("utf"), "original_filename": "фото товара 😀", "width": "1", "height": "1"},
            {"описание": "зелёный", "note": ""},
        ),
        "a metadata value nested as a map": encode({"public_id": unique("nested")}, {"a": {"b": "c"}}),
    }
    answers = concurrently(lambda b: post_form(http, b, target.album_id), bodies.values())
    for what, r in zip(bodies, answers, strict=True):
        check(
            r.is_success,
            f"a body with {what}: expected a 2xx, got {r.status_code}: {r.text[:200]}",
            response=r,
        )
