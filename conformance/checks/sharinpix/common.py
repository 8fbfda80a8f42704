"""What the sharinpix checks share: the seed's example request and its bracket-nested form encoding,
the decisions their SHOULD parts name, the breaks an image answer can have, and generated image data."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from urllib.parse import parse_qsl, urlencode

from hypothesis import strategies as st

from conformance.checks.kit import body_of
from conformance.findings import needs
from image_api_contracts import APIS

FORM = "application/x-www-form-urlencoded"
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
INT32_MAX = 2**31 - 1  # the seed's numbers all fit; a server storing them in int32 columns honours it
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


def created(response, what: str = "create of the seed's example image") -> dict:
    """A setup create: any 2xx with a JSON object, else the check is not exercised (see SPX-03)."""
    needs(response, what, "SPX-03", ok=lambda r: r.is_success and isinstance(body_of(r), dict))
    return body_of(response)


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
