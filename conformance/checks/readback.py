"""ALL-06: what a server accepted, it can read back.

Each check sends writes carrying unusual but seed-typed data: astral-plane characters, right-to-left and
combining marks, zero-width and non-characters, controls, long strings within the seed's limits, boundary
numbers and dates, and lone surrogates wherever the wire format can carry them (JSON ``\\ud800`` escapes;
in form fields, multipart part values and part file names as the bytes ``ED A0 80``; a multipart body
naming ``charset=utf-7``). A server may refuse any of them with a 4xx (a lone surrogate is no Unicode
text: refusing it is legal). For each write it *accepts* with a 2xx, every read operation of the API must
still answer a 2xx whose body is valid against the spec: one stored value must never break a listing.
What a check creates is deleted where the API can delete.

sharinpix has no read operation: what it accepted reads back in the answer to the write itself, and a
later write of the seed's example must still be answered with a valid 2xx.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import secrets
import uuid
from urllib.parse import quote, urlsplit

import pytest
from openapi_core import OpenAPI
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from conformance.findings import NotExercised, check, needs
from conformance.media import image_bytes
from conformance.openapi_check import HttpxOpenAPIRequest, HttpxOpenAPIResponse, violation_text
from conformance.seed_view import seed_view
from image_api_contracts import resolve_refs

RULE = "ALL-06"

# (label, text): every one a str the seed's "string" allows, or a lone surrogate (which a server may refuse)
ODD_TEXTS = [
    ("astral", "\U0001d518\U0001d52b\U0001f600\U0001f004\U0002070e"),
    ("rtl-combining", "\u05e9\u05dc\u05d5\u05dd \u202eabc\u202c e\u0301\u0302\u0303 \u0627\u0644\u0639"),
    ("zero-width", "\ufeffa\u200b\u200d\u2060b"),
    ("noncharacters", "\uffff\ufffe\U0010ffff\U000e0001"),
    ("controls", "a\u0001\u001f\u007f\u0085b"),
    ("lone-high-surrogate", "\ud800"),
    ("lone-low-surrogate", "x\udfffy"),
    ("reversed-pair", "\udc00\ud800"),
]
LONG_DEFAULT = 1000  # characters of a "long" string where the spec states no maxLength
# Seed-typed integers at the edges of the usual machine ranges (a server may refuse those it cannot hold).
BOUNDARY_INTEGERS = [0, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**64, -1]
PLAIN = "(plain, after the others)"  # the label of each check's last write: ordinary data
# Each check's first write is plain too: when even its reads break, the reads are broken for any data,
# which is the read's own rule (ALL-02 and the API's), not a read-back one, so ALL-06 is not exercised.
BASELINE = "(plain, before the others)"


# -- the wire ---------------------------------------------------------------------------------------------
def wire(text: str) -> bytes:
    """UTF-8, with a lone surrogate as its three generalized-UTF-8 bytes (what a careless client sends)."""
    return text.encode("utf-8", "surrogatepass")


def pct(text: str) -> str:
    """A path segment or query value, percent-encoded from :func:`wire`."""
    return quote(wire(text), safe="")


def json_bytes(value) -> bytes:
    """JSON with every non-ASCII character escaped: a lone surrogate travels as ``\\ud800``."""
    return json.dumps(value, ensure_ascii=True).encode("ascii")


def multipart(parts: list[tuple[str, bytes, bytes | None, str | None]], charset: str | None = None):
    """(body, content type) of ``(name, value, filename, part content type)`` parts, byte for byte."""
    boundary = secrets.token_hex(12)
    chunks = []
    for name, value, filename, part_type in parts:
        disposition = b'form-data; name="' + name.encode() + b'"'
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
        head = b"Content-Disposition: " + disposition + b"\r\n"
        if part_type:
            head += b"Content-Type: " + part_type.encode() + b"\r\n"
        chunks.append(b"--" + boundary.encode() + b"\r\n" + head + b"\r\n" + value + b"\r\n")
    body = b"".join(chunks) + b"--" + boundary.encode() + b"--\r\n"
    content_type = "multipart/form-data" + (f"; charset={charset}" if charset else "")
    return body, f"{content_type}; boundary={boundary}"


def header_safe(text: str) -> str:
    """A part's file name travels inside a quoted header value: no quote, backslash, CR or LF in it."""
    return "".join(c for c in text if c not in '"\\\r\n')


# -- the spec: its seed view, as every MUST check judges ---------------------------------------------------
def request_schema(api: str, path: str, method: str, media_type: str) -> dict:
    spec = seed_view(api)
    operation = resolve_refs(spec["paths"][path][method], spec)
    return operation["requestBody"]["content"][media_type]["schema"]


def long_text(max_length: int | None, prefix: str) -> str:
    """A string of exactly the seed's maxLength (else LONG_DEFAULT) characters, astral ones included."""
    length = min(max_length or LONG_DEFAULT, LONG_DEFAULT)
    filler = "\U0001f600e\u0301"
    text = prefix + filler * length
    return text[:length] if length >= len(prefix) else prefix[:length]


@functools.cache
def _seed_openapi(api: str, base_url: str) -> OpenAPI:
    return OpenAPI.from_dict({**seed_view(api), "servers": [{"url": base_url}]})


def seed_violation(api: str, base_url: str, response) -> str | None:
    """Why the response is not what the seed view allows (status, media type, body), or None."""
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    schema = _documented_schema(api, base_url, response, media) if media.startswith("text/") else None
    if schema is not None and schema.get("type", "string") != "string":
        return _json_text_violation(schema, response, media)
    try:
        _seed_openapi(api, base_url).validate_response(
            HttpxOpenAPIRequest(response.request), HttpxOpenAPIResponse(response)
        )
    except Exception as exc:  # openapi-core raises a family of errors; all mean "not as the seed says"
        return violation_text(exc)
    return None


def _documented_schema(api: str, base_url: str, response, media: str) -> dict | None:
    """The seed view's schema for this answer's operation, status and media type."""
    spec = seed_view(api)
    path = urlsplit(str(response.request.url)).path[len(urlsplit(base_url).path) :] or "/"
    for template, item in spec["paths"].items():
        pattern = "".join(
            "[^/]+" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", template)
        )
        operation = item.get(response.request.method.lower())
        if operation and re.fullmatch(pattern, path):
            responses = resolve_refs(operation.get("responses", {}), spec)
            documented = responses.get(str(response.status_code)) or responses.get("default") or {}
            return (documented.get("content", {}).get(media) or {}).get("schema")
    return None


def _json_text_violation(schema: dict, response, media: str) -> str | None:
    """A seed that types a text/plain answer as an object means JSON sent as text (ASP.NET's habit):
    openapi-core reads such a body as a string, so it is parsed and validated here."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return f"a {media} body that is not the JSON object its schema describes"
    errors = OAS30Validator(schema, format_checker=oas30_format_checker).iter_errors(body)
    found = [f"at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
    return "; ".join(found[:5]) or None


# -- judging ----------------------------------------------------------------------------------------------
class Readback:
    """Judges every read after an accepted write; each break is its own finding, with its exact request."""

    def __init__(self, target, http):
        self.target, self.http = target, http
        self.accepted = self.refused = 0
        self.broken = False  # a read broke: the check stops sending writes, the poisoning one is found
        self.in_baseline = False

    def write(self, response, what: str) -> bool:
        """True when the server accepted the write (2xx); a 4xx is a legal refusal, a 5xx ALL-01's. The
        last, plain write must be accepted (ALL-05), or nothing after the odd ones was read back."""
        self.in_baseline = what.endswith(BASELINE)
        if what.endswith((PLAIN, BASELINE)):
            needs(response, what, "ALL-05")
        if 200 <= response.status_code < 300:
            self.accepted += 1
            return True
        self.refused += 1
        return False

    def read(self, response, what: str, after: str) -> bool:
        """A read after an accepted write: a 2xx, valid against the seed view."""
        if not 200 <= response.status_code < 300:
            problem = f"answers {response.status_code}: {response.text[:200]!r}"
        else:
            problem = seed_violation(self.target.api, self.target.base_url, response)
            if problem is not None:
                problem = f"answers {response.status_code} with what the seed does not allow: {problem}"
        if problem is not None and self.in_baseline:
            raise NotExercised("ALL-02", f"after a plain write, {what} {problem}", response.request)
        self.broken |= problem is not None
        return check(problem is None, f"after {after} was accepted, {what} {problem}", response=response)


def send(http, method: str, path: str, body: bytes | None = None, content_type: str | None = None):
    headers = {"Content-Type": content_type} if content_type else {}
    return http.request(method, path, content=body, headers=headers)


# -- tagged-images ------------------------------------------------------------------------------------------
def _tim_reads(readback: Readback, http, after: str, image_id, tag_ids: list[int], search: bool) -> None:
    """Every read of the API, aimed where the write's record and tags are."""
    readback.read(http.get("/images?limit=100"), "GET /images", after)
    readback.read(http.get("/images?uploaded_only=true&limit=100"), "GET /images?uploaded_only=true", after)
    tags = []
    if image_id is not None:
        r = http.get(f"/images/{image_id}")
        if readback.read(r, f"GET /images/{image_id}", after):
            tags = r.json().get("tags") or []
    _tim_walk_tags(readback, http, after, set(tag_ids))
    for tag in tags or [{"id": t, "name": None} for t in tag_ids]:
        readback.read(http.get(f"/tags/{tag['id']}/images"), f"GET /tags/{tag['id']}/images", after)
        if search and isinstance(tag.get("name"), str) and "|" not in tag["name"]:
            name = pct(tag["name"])  # the seed marks both filters required: send both
            path = f"/search/images?exact_tags={name}&match_tags={name}"
            readback.read(http.get(path), "GET /search/images (the tag, exact and matched)", after)
    if search:
        any_tag = http.get("/search/images?exact_tags=a&match_tags=%25")
        readback.read(any_tag, "GET /search/images (any tag)", after)


def _tim_walk_tags(readback: Readback, http, after: str, wanted: set[int], max_pages: int = 50) -> None:
    """The tag listing, page after page until every tag of the write was listed (alphabetical order)."""
    for page in range(max_pages):
        r = http.get(f"/tags?page={page}&limit=100")
        if not readback.read(r, f"GET /tags?page={page}&limit=100", after):
            return
        body = r.json()
        wanted -= {tag.get("id") for tag in body.get("results", []) if isinstance(tag, dict)}
        if not wanted or not body.get("meta", {}).get("has_more_pages"):
            return


@pytest.mark.api("tagged-images")
@pytest.mark.rule("ALL-06")
@pytest.mark.writes
def check_all06_tagged_images_reads_back_what_it_accepted(target, http):
    readback = Readback(target, http)
    images, tags = [], []
    schema = request_schema("tagged-images", "/images", "post", "application/json")
    tag_schema = schema["properties"]["tags"]["items"]
    png = base64.b64encode(image_bytes(8, 8)).decode()
    writes = []
    for i, (label, text) in enumerate(ODD_TEXTS):
        unique = target.unique(label)
        size = BOUNDARY_INTEGERS[i % len(BOUNDARY_INTEGERS)]
        writes.append(("/images", {"filename": text, "size": size, "tags": [unique + text]}, label))
    for label, text in ODD_TEXTS[::2]:
        writes.append(("/tags", {"name": target.unique(label) + text}, label))
    for label, text in ODD_TEXTS[1::3]:
        unique = target.unique(label)
        body = {"filename": unique + text, "image_data": png, "tags": [unique + text]}
        writes.append(("/upload", body, label))
    prefix = target.unique("long")
    writes.append(
        (
            "/images",
            {
                "filename": long_text(schema["properties"]["filename"].get("maxLength"), prefix),
                "size": 2**63 - 1,
                "tags": [long_text(tag_schema.get("maxLength"), prefix)],
            },
            "long strings",
        )
    )
    writes += [("/images", {"filename": target.unique("size"), "size": n}, f"size {n}") for n in (2**64, -1)]
    # Last, a plain write: a refused or failed write before it must not have left a trace that breaks reads.
    plain_record = {"filename": "plain.png", "size": 10, "tags": [target.unique("plain")]}
    writes.append(("/images", plain_record, PLAIN[1:-1]))
    writes.insert(0, ("/images", {**plain_record, "tags": [target.unique("first")]}, BASELINE[1:-1]))
    plain = target.unique("baseline")
    # The seed marks both search filters required, so a search sends both. When even a plain one is
    # refused, that is TIM-12's break, not a read-back one: the search is left out of the reads.
    search = 200 <= http.get(f"/search/images?exact_tags={plain}&match_tags={plain}").status_code < 300
    try:
        for path, body, label in writes:
            if readback.broken:  # the reads broke after an earlier write: the later ones prove nothing
                break
            r = send(http, "POST", path, json_bytes(body), "application/json")
            after = f"POST {path} ({label})"
            if not readback.write(r, after):
                continue
            created = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            created_id = created.get("id") if isinstance(created, dict) else None
            if path == "/tags":
                new_tags = [created_id] if created_id is not None else []
                tags += new_tags
                _tim_reads(readback, http, after, None, new_tags, search)
                continue
            images += [created_id] if created_id is not None else []
            record = http.get(f"/images/{created_id}")
            listed = record.json().get("tags", []) if record.status_code == 200 else []
            tag_ids = [t.get("id") for t in listed if isinstance(t, dict)]
            tags += tag_ids
            _tim_reads(readback, http, after, created_id, tag_ids, search)
    finally:
        for image_id in images:
            http.delete(f"/images/{image_id}")
        for tag_id in dict.fromkeys(tags):
            http.delete(f"/tags/{tag_id}")


# -- evotor --------------------------------------------------------------------------------------------------
@pytest.mark.api("evotor")
@pytest.mark.rule("ALL-06")
@pytest.mark.writes
def check_all06_evotor_reads_back_what_it_accepted(target, http):
    readback = Readback(target, http)
    png = image_bytes(300, 300)
    created = []  # (store path segment, product path segment, image id)
    store = pct(target.store_id)
    writes = [(store, pct(target.unique(label) + text), text, label) for label, text in ODD_TEXTS]
    odd_store = pct(target.store_id + "-" + ODD_TEXTS[0][1])
    writes.append((odd_store, pct(target.unique("store")), "s.png", "store id"))
    writes.append((store, pct(target.unique("plain")), "plain.png", PLAIN[1:-1]))
    writes.insert(0, (store, pct(target.unique("first")), "plain.png", BASELINE[1:-1]))
    try:
        for store, product, name, label in writes:
            if readback.broken:  # the reads broke after an earlier write: the later ones prove nothing
                break
            base = f"/stores/{store}/products/{product}/images"
            body, content_type = multipart([("datafile", png, wire(header_safe(name) or "x"), "image/png")])
            r = send(http, "POST", base, body, content_type)
            after = f"POST {base} ({label})"
            if not readback.write(r, after):
                continue
            image_id = str(r.json().get("id", ""))
            created.append((store, product, image_id))
            readback.read(http.get(base), f"GET {base}", after)
            readback.read(http.get(f"{base}/{pct(image_id)}"), f"GET {base}/{image_id}", after)
    finally:
        for store, product, image_id in created:
            http.delete(f"/stores/{store}/products/{product}/images/{pct(image_id)}")


# -- image-upload --------------------------------------------------------------------------------------------
@pytest.mark.api("image-upload")
@pytest.mark.rule("ALL-06")
@pytest.mark.writes
def check_all06_image_upload_reads_back_what_it_accepted(target, http):
    readback = Readback(target, http)
    png = image_bytes(16, 16)
    names = [(target.unique(label) + header_safe(text), label, None) for label, text in ODD_TEXTS]
    names.append((long_text(None, target.unique("long")), "long file name", None))
    names.append(("+2AA-.png", "charset=utf-7 naming a lone surrogate", "utf-7"))
    names.append((target.unique("plain") + ".png", PLAIN[1:-1], None))
    names.insert(0, (target.unique("first") + ".png", BASELINE[1:-1], None))
    created = []
    try:
        for name, label, charset in names:
            if readback.broken:  # the reads broke after an earlier write: the later ones prove nothing
                break
            body, content_type = multipart([("file", png, wire(name), "image/png")], charset=charset)
            r = send(http, "POST", "/UploadImage", body, content_type)
            after = f"POST /UploadImage ({label})"
            if not readback.write(r, after):
                continue
            data = r.json().get("data") if isinstance(r.json(), dict) else None
            if isinstance(data, dict) and isinstance(data.get("fileName"), str):
                created.append(data["fileName"])
            readback.read(http.get("/GetAllImages"), "GET /GetAllImages", after)
    finally:
        for file_name in created:
            http.delete(f"/DeleteImage?FileName={pct(file_name)}")


# -- everydaypic ----------------------------------------------------------------------------------------
@pytest.mark.api("everydaypic")
@pytest.mark.rule("ALL-06")
@pytest.mark.writes
def check_all06_everydaypic_reads_back_what_it_accepted(target, http):
    """No delete exists: the images keep unique names and stay."""
    readback = Readback(target, http)
    png = image_bytes(16, 16)
    writes = []
    for label, text in ODD_TEXTS:
        unique = target.unique(label)
        writes.append((unique + text, text + unique, unique + header_safe(text) + ".png", label, None))
    unique = target.unique("long")
    long_names = long_text(None, unique), long_text(None, unique + "n")
    writes.append((*long_names, unique + ".png", "long strings", None))
    writes.append(
        ("+2AA-" + target.unique("u7"), "+2AA-", "u7.png", "charset=utf-7 naming a lone surrogate", "utf-7")
    )
    unique = target.unique("plain")
    writes.append((unique, unique, "plain.png", PLAIN[1:-1], None))
    first = target.unique("first")
    writes.insert(0, (first, first, "plain.png", BASELINE[1:-1], None))
    for file_name, name, part_name, label, charset in writes:
        if readback.broken:  # the reads broke after an earlier write: the later ones prove nothing
            break
        body, content_type = multipart(
            [
                ("file", png, wire(part_name), "image/png"),
                ("fileName", wire(file_name), None, None),
                ("name", wire(name), None, None),
            ],
            charset=charset,
        )
        r = send(http, "POST", "/v1/image", body, content_type)
        after = f"POST /v1/image ({label})"
        if not readback.write(r, after):
            continue
        created = r.json()
        created = created if isinstance(created, list) else [created]  # one object: ALL-02's break
        image = created[0] if created and isinstance(created[0], dict) else {}
        image_id, stored_name = str(image.get("id", "")), image.get("fileName")
        by_id = http.get(f"/v1/image/info?id={pct(image_id)}")
        readback.read(by_id, f"GET /v1/image/info?id={image_id}", after)
        if isinstance(stored_name, str):
            path = f"/v1/image/info?fileName={pct(stored_name)}"
            readback.read(http.get(path), "GET /v1/image/info?fileName=<the stored fileName>", after)
        readback.read(http.get(f"/v1/image/{pct(image_id)}"), f"GET /v1/image/{image_id}", after)


# -- sharinpix ------------------------------------------------------------------------------------------
SPX_FIELDS = {  # the seed example's fields that matter here (the whole example: sharinpix/rules.py)
    "cloudinary[version]": "1484586860",
    "cloudinary[width]": "295",
    "cloudinary[height]": "171",
    "cloudinary[format]": "jpg",
    "cloudinary[resource_type]": "image",
    "cloudinary[bytes]": "10668",
    "cloudinary[type]": "authenticated",
    "cloudinary[secure_url]": "https://res.cloudinary.com/hdtp0enrj/image/authenticated/s--N4U79Bcw--/"
    "v1484586860/c6y8knpw2ywwwfc6cykj.jpg",
    "cloudinary[image_metadata][DateTimeOriginal]": "2018:01:01 08:00:00",
    "cloudinary[colors][]": "#EBF1F9",
    "cloudinary[original_filename]": "download",
    "metadatas[meta]": "data",
}


def _spx_form(fields: dict[str, str]) -> bytes:
    pairs = {"cloudinary[public_id]": str(uuid.uuid4()), **SPX_FIELDS, **fields}
    return b"&".join(quote(k, safe="[]").encode() + b"=" + pct(v).encode() for k, v in pairs.items())


@pytest.mark.api("sharinpix")
@pytest.mark.rule("ALL-06")
@pytest.mark.writes
def check_all06_sharinpix_reads_back_what_it_accepted(target, http):
    """No read exists: the write's own answer is the read-back, and the next seed-example write must work."""
    readback = Readback(target, http)
    path = f"/api/v1/albums/{pct(target.album_id)}/images/"
    form = "application/x-www-form-urlencoded"
    writes = []
    for label, text in ODD_TEXTS:
        writes.append(
            (
                {
                    "cloudinary[original_filename]": text,
                    "metadatas[meta]": text,
                    "cloudinary[colors][]": text,
                },
                label,
            )
        )
    for date in ("0999:01:01 00:00:00", "0001:01:01 00:00:00", "9999:12:31 23:59:59", "2016:02:29 23:59:60"):
        writes.append(({"cloudinary[image_metadata][DateTimeOriginal]": date}, f"DateTimeOriginal {date}"))
    for n in BOUNDARY_INTEGERS[1:-1]:
        fields = {f"cloudinary[{key}]": str(n) for key in ("width", "height", "bytes")}
        writes.append((fields, f"width, height, bytes {n}"))
    writes.append(({"cloudinary[original_filename]": long_text(None, target.unique("long"))}, "long strings"))
    writes.append(({}, PLAIN[1:-1]))
    writes.insert(0, ({}, BASELINE[1:-1]))
    for fields, label in writes:
        if readback.broken:  # the reads broke after an earlier write: the later ones prove nothing
            break
        r = send(http, "POST", path, _spx_form(fields), form)
        after = f"POST {path} ({label})"
        if not readback.write(r, after):
            continue
        readback.read(r, f"its own answer (POST {path})", after)
        later = send(http, "POST", path, _spx_form({}), form)
        readback.read(later, f"a later POST {path} of the seed example", after)
