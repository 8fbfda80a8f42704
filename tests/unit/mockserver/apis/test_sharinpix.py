"""sharinpix through the mock (SPX-01..04, ALL-01..04)."""

import asyncio
import html
import json
import re
import uuid
from urllib.parse import quote

import httpx
import jwt
import yaml
from support.json_bodies import json_of
from support.source_documents import SEEDS_DIR, needs_sources

from conformance.openapi_check import assert_honours_contract
from image_api_contracts import SPECS_DIR, devtokens
from mockserver.app import create_app
from mockserver.images import inspect_image

ALBUM = "00100000123BB146"
PATH = f"/api/v1/albums/{ALBUM}/images/"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$")


def _seed_example_from_the_seed():
    """The seed's example exchange, parsed out of the seed document as it stands."""
    text = (SEEDS_DIR / "003_bb563f67edeea9c3.txt").read_text(encoding="utf-8")
    request_part, response_part = text.split("### Response", 1)
    pres = [html.unescape(p) for p in re.findall(r"<pre>(.*?)</pre>", request_part, re.S)]
    headers = dict(
        line.split(": ", 1) if ": " in line else (line.rstrip(":"), "") for line in pres[0].splitlines()
    )
    method, path = pres[1].split()
    body = pres[2]
    response_body = json.loads(html.unescape(re.findall(r"<pre>(.*?)</pre>", response_part, re.S)[-1]))
    return headers, method, path, body, response_body


def _seed_example_from_the_spec():
    """The same exchange as the spec keeps it: the verbatim body (``x-seed-example-body``), the example
    token (the ``X-token`` the seed's response echoes) and the example response."""
    operation = yaml.safe_load((SPECS_DIR / "sharinpix.yaml").read_text(encoding="utf-8"))["paths"][
        "/api/v1/albums/{album_id}/images/"
    ]["post"]
    media = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]
    ok = operation["responses"]["200"]
    headers = {
        "Authorization": f'Token token="{ok["headers"]["X-token"]["example"]}"',
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return headers, "POST", PATH, media["x-seed-example-body"], ok["content"]["application/json"]["example"]


# The tests send the spec's copy, so they run in a clone without the seed; with the seed, the copy is checked.
SEED_HEADERS, SEED_METHOD, SEED_PATH, SEED_BODY, SEED_RESPONSE = _seed_example_from_the_spec()
SEED_TOKEN = re.fullmatch(r'Token token="(.+)"', SEED_HEADERS["Authorization"]).group(1)


@needs_sources
def test_spx02_the_specs_copy_of_the_seed_example_is_the_seeds():
    """The tests send the spec's copy of the example exchange: it must be the seed's, to the byte."""
    from_seed, from_spec = _seed_example_from_the_seed(), _seed_example_from_the_spec()
    headers, *rest = from_seed
    assert headers["Authorization"] == from_spec[0]["Authorization"]
    assert headers["Content-Type"].startswith(from_spec[0]["Content-Type"])
    assert rest == list(from_spec[1:])


def auth(token: str = SEED_TOKEN) -> dict:
    return {"Authorization": f'Token token="{token}"'}


def unsigned(**claims) -> str:
    return jwt.encode(claims, "not-checked-by-default-but-long-enough-for-pyjwt", algorithm="HS256")


def post(client, body: str | bytes, album: str = ALBUM, headers: dict | None = None):
    return client.post(
        f"/api/v1/albums/{album}/images/",
        content=body,
        headers={**FORM, **(auth() if headers is None else headers)},
    )


def stored(client) -> dict:
    return client.get("/__mock__/state").json()["apis"]["sharinpix"]["albums"]


def assert_error(response, status: int):
    assert response.status_code == status, (response.status_code, response.text)
    body = json_of(response)
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]


# -- SPX-01: the token ---------------------------------------------------------------------------------
def test_spx01_missing_or_malformed_token_is_401(make_client):
    client = make_client("sharinpix")
    for headers in (
        {},
        {"Authorization": ""},
        {"Authorization": f"Bearer {SEED_TOKEN}"},
        {"Authorization": SEED_TOKEN},
        {"Authorization": 'Token token="not-a-jwt"'},
        {"Authorization": 'Token token="a.b.c"'},
    ):
        assert_error(post(client, "cloudinary[public_id]=x", headers=headers), 401)
    assert stored(client) == {}


def test_spx01_token_without_the_album_grant_is_403(make_client):
    client = make_client("sharinpix")
    assert_error(
        post(client, "cloudinary[public_id]=x", album="00100000999ZZ999"), 403
    )  # the seed's token, other album
    denied = {
        "image_upload false": {ALBUM: {"Access": {"image_upload": False}}},
        "image_upload 'true' (a string)": {ALBUM: {"Access": {"image_upload": "true"}}},
        "other ability": {ALBUM: {"Access": {"image_view": True}}},
        "no abilities": None,
    }
    for why, abilities in denied.items():
        token = unsigned(user_id="u", abilities=abilities) if abilities else unsigned(user_id="u")
        r = post(client, "cloudinary[public_id]=x", headers=auth(token))
        assert r.status_code == 403, (why, r.text)
        assert_error(r, 403)
    assert stored(client) == {}


def test_spx01_the_seeds_token_works_for_its_album_and_is_echoed(make_client):
    client = make_client("sharinpix")
    r = post(client, "cloudinary[public_id]=x")
    assert r.status_code == 200, r.text
    assert r.headers["X-token"] == SEED_TOKEN
    assert jwt.decode(SEED_TOKEN, options={"verify_signature": False})["abilities"] == {
        ALBUM: {"Access": {"image_upload": True}}
    }


def test_spx05_response_headers_echo_the_callers_token_and_forbid_caching(make_client):
    client = make_client("sharinpix")
    other = devtokens.sharinpix_token(ALBUM, user_id="someone-else")
    replies = [
        post(client, "cloudinary[public_id]=x", headers=auth(token)) for token in (SEED_TOKEN, other, other)
    ]
    assert [r.headers["X-token"] for r in replies] == [SEED_TOKEN, other, other]
    assert len({uuid.UUID(r.headers["X-Request-Id"]) for r in replies}) == 3
    assert all(r.headers["Cache-Control"] == "no-cache, no-store" for r in replies)
    assert all(re.fullmatch(r"\d+\.\d{6}", r.headers["X-Runtime"]) for r in replies)


def test_spx01_with_jwt_secret_signature_and_expiry_are_checked(make_client):
    client = make_client("sharinpix", jwt_secret=devtokens.DEV_SECRET)
    assert_error(post(client, "cloudinary[public_id]=x"), 401)  # the seed's token: other key, expired in 2019
    assert (
        post(client, "cloudinary[public_id]=x", headers=auth(devtokens.sharinpix_token())).status_code == 200
    )
    assert_error(
        post(client, "cloudinary[public_id]=x", album="OTHER", headers=auth(devtokens.sharinpix_token())), 403
    )


# -- SPX-02/03: the seed's own exchange --------------------------------------------------------------------
def test_spx02_spx03_the_seeds_example_request_as_it_stands(make_client):
    client = make_client("sharinpix", allow_hosts=("testserver", "example.org"))  # the seed names its Host
    assert SEED_METHOD == "POST" and SEED_PATH == PATH
    r = client.request(SEED_METHOD, SEED_PATH, content=SEED_BODY, headers=SEED_HEADERS)
    assert r.status_code == 200, r.text
    body = json_of(r)
    assert set(body) == set(SEED_RESPONSE)
    assert body["infos"] == SEED_RESPONSE["infos"]
    assert body["exifs"] == SEED_RESPONSE["exifs"]
    assert (body["width"], body["height"], body["original_width"], body["original_height"]) == (
        295,
        171,
        295,
        171,
    )
    assert body["size"] == "10668" and body["filename"] == "download" and body["format"] == "jpg"
    assert body["taken_at"] == "2018-01-01T08:00:00.000+00:00"
    assert body["metadatas"] == {"meta": "data"} and body["album_id"] == ALBUM
    same = (
        "gps",
        "gps_ip",
        "gps_exifs",
        "gps_html",
        "rotation",
        "crop_x",
        "crop_y",
        "crop_w",
        "crop_h",
        "title",
        "description",
        "page",
        "group_id",
        "color",
        "processed",
        "processing_error",
    )
    assert {k: body[k] for k in same} == {k: SEED_RESPONSE[k] for k in same}
    assert set(body["thumbnails"]) == set(SEED_RESPONSE["thumbnails"])
    assert set(body["external_urls"]) == set(SEED_RESPONSE["external_urls"])
    assert body["id"] == body["public_id"] and uuid.UUID(body["id"]).version == 4
    assert ISO_MS.match(body["created_at"]) and body["updated_at"] == body["created_at"]
    assert r.headers["X-token"] == SEED_TOKEN
    assert uuid.UUID(r.headers["X-Request-Id"]) and float(r.headers["X-Runtime"]) >= 0
    assert r.headers["Cache-Control"] == "no-cache, no-store"
    assert stored(client) == {ALBUM: [body]}


def test_spx03_rendition_urls_are_unsigned_cloudinary_transformations(make_client):
    client = make_client("sharinpix")
    body = json_of(post(client, SEED_BODY))
    attachment = "fl_attachment/dpr_auto,q_auto,f_auto"
    root, tail = (
        "https://res.cloudinary.com/hdtp0enrj/image/authenticated",
        "v1484586860/c6y8knpw2ywwwfc6cykj.jpg",
    )
    assert body["original_url"] == f"{root}/s--N4U79Bcw--/{tail}"
    files = f"http://testserver/__mock__/files/sharinpix/{body['id']}"
    assert (
        body["thumbnails"]["mini"]
        == f"{files}/thumbnails/mini.jpg#{root}/c_fit,h_1920,w_1920/c_fill,h_100,w_100/{attachment}/{tail}"
    )
    assert (
        body["thumbnails"]["original"]
        == f"{files}/thumbnails/original.jpg#{root}/fl_attachment/dpr_auto,q_auto,f_auto/{tail}"
    )
    assert (
        body["external_urls"]["fit2000"]
        == f"{files}/external_urls/fit2000.jpg#{root}/c_fit,h_2000,w_2000/{tail}"
    )
    assert body["external_urls"]["large"] == (
        f"{files}/external_urls/large.jpg#"
        f"{root}/c_fit,h_1920,w_1920/c_fill,h_200,w_200/fl_attachment/dpr_auto,q_auto,f_auto/{tail}"
    )
    # Without secure_url: url; without either: a cloudinary-shaped URL from public_id/version/format.
    body = json_of(
        post(
            client,
            "cloudinary[public_id]=p&cloudinary[url]=http%3A%2F%2Fc%2Fimage%2Fupload%2Fv7%2Fp.png&cloudinary[version]=7",
        )
    )
    assert body["original_url"] == "http://c/image/upload/v7/p.png"
    assert (
        body["external_urls"]["full"]
        .partition("#")[2]
        .startswith("http://c/image/upload/c_fit,h_1920,w_1920/")
    )
    body = json_of(post(client, "cloudinary[public_id]=p&cloudinary[version]=7&cloudinary[format]=png"))
    assert body["original_url"] == ""
    assert body["external_urls"]["mini"].partition("#")[2] == (
        "https://res.cloudinary.com/mock/image/upload/c_fit,h_1920,w_1920/c_fill,h_100,w_100/"
        "fl_attachment/dpr_auto,q_auto,f_auto/v7/p.png"
    )


def test_spx03_rendition_urls_serve_placeholder_pixels_of_the_recorded_size_and_format(make_client):
    client = make_client("sharinpix")
    body = json_of(post(client, SEED_BODY))  # the seed's 295x171 jpg
    for group in ("thumbnails", "external_urls"):
        for key, url in body[group].items():
            response = client.get(url.partition("#")[0])
            assert response.status_code == 200, (group, key, response.text)
            assert response.headers["content-type"] == "image/jpeg"
            facts = inspect_image(response.content)
            assert (facts.format, facts.width, facts.height) == ("JPEG", 295, 171)
    odd = json_of(
        post(
            client,
            "cloudinary[public_id]=p&cloudinary[width]=90000&cloudinary[height]=3&cloudinary[format]=pdf",
        )
    )
    response = client.get(odd["thumbnails"]["mini"].partition("#")[0])
    assert response.headers["content-type"] == "image/png"  # a format Pillow cannot write: PNG
    assert inspect_image(response.content).width == 2048  # scaled to fit, aspect kept (at least 1 high)
    files = f"/__mock__/files/sharinpix/{body['id']}"
    for missing in (
        f"{files}/thumbnails/nope.jpg",
        f"{files}/other/mini.jpg",
        "/__mock__/files/sharinpix/x/thumbnails/mini.jpg",
    ):
        assert client.get(missing).status_code == 404


def test_spx03_rendition_urls_follow_the_public_url(make_client):
    client = make_client("sharinpix", public_url="http://localhost:5173")
    body = json_of(post(client, SEED_BODY))
    assert body["thumbnails"]["mini"].startswith(
        f"http://localhost:5173/__mock__/files/sharinpix/{body['id']}/"
    )


def test_spx02_numbered_array_keys_mean_the_same_list(make_client):
    client = make_client("sharinpix")
    numbered = json_of(
        post(
            client,
            "cloudinary[public_id]=p&cloudinary[colors][0]=%23EBF1F9&cloudinary[colors][1]=13.2"
            "&cloudinary[tags][0]=t&cloudinary[predominant][google][0]=blue&cloudinary[predominant][google][1]=51.5",
        )
    )
    rack = json_of(
        post(
            client,
            "cloudinary[public_id]=p&cloudinary[colors][]=%23EBF1F9&cloudinary[colors][]=13.2"
            "&cloudinary[tags][]=t&cloudinary[predominant][google][]=blue&cloudinary[predominant][google][]=51.5",
        )
    )
    for body in (numbered, rack):
        assert body["infos"] == {
            "public_id": "p",
            "colors": ["#EBF1F9", "13.2"],
            "tags": ["t"],
            "predominant": {"google": ["blue", "51.5"]},
        }


def test_spx02_values_come_back_exactly_as_encoded(make_client):
    client = make_client("sharinpix")
    odd = "a&b=c +%/[x] ünï, 𝄞"
    form = (
        f"cloudinary[public_id]={quote(odd)}&cloudinary[original_filename]={quote(odd)}"
        f"&metadatas[{quote('k ü')}]={quote(odd)}"
        f"&metadatas[empty]=&cloudinary[coordinates][faces][]=&cloudinary[image_metadata][Note]={quote('1,2,3')}"
    )
    body = json_of(post(client, form))
    assert body["infos"]["public_id"] == odd and body["filename"] == odd
    assert body["metadatas"] == {"k ü": odd, "empty": ""}
    assert body["infos"]["coordinates"] == {"faces": [""]}
    assert body["exifs"] == {"Note": "1,2,3"}  # commas survive outside of key[] arrays


def test_spx02_malformed_forms_are_400(make_client):
    client = make_client("sharinpix")
    for form in (
        "cloudinary[public_id=x",
        "cloudinary[public_id]=x&cloudinary[public_id]=y",
        "cloudinary[public_id]=x&cloudinary=y",
        "cloudinary[public_id]=x&cloudinary[tags][]=a&cloudinary[tags][k]=b",
        "cloudinary[public_id]=x&metadatas=flat",
        "cloudinary[public_id]=x&cloudinary[width]=12px",
        "cloudinary[public_id]=x&cloudinary[bytes]=-1",
        "cloudinary[public_id]=x&cloudinary[image_metadata]=s",
        "cloudinary[public_id][]=x",
        "cloudinary[]=x",
        "cloudinary[public_id]=x&cloudinary[width]=" + "9" * 19,
        b"cloudinary[public_id]=\xff\xfe",
    ):
        assert_error(post(client, form), 400)
    assert stored(client) == {}


def test_all05_nested_values_the_seed_does_not_forbid_are_accepted(make_client):
    """Rack's nesting in extra cloudinary keys and in metadatas: the seed limits neither."""
    client = make_client("sharinpix")
    form = (
        "cloudinary[public_id]=deep&cloudinary[info][detection][captioning][status]=complete"
        "&cloudinary[info][tags][]=a&metadatas[a][b]=nested&metadatas[list][]=1&metadatas[list][]=2"
    )
    response = post(client, form)
    assert response.status_code == 200, response.text
    body = json_of(response)
    assert body["infos"]["info"] == {"detection": {"captioning": {"status": "complete"}}, "tags": ["a"]}
    assert body["metadatas"] == {"a": {"b": "nested"}, "list": ["1", "2"]}


def test_all03_wrong_content_types_and_empty_bodies_are_400_in_the_api_format(make_client):
    client = make_client("sharinpix")
    assert_error(client.post(PATH, json={"cloudinary": {"public_id": "x"}}, headers=auth()), 400)
    assert_error(
        client.post(PATH, files={"cloudinary[public_id]": ("a.txt", b"x", "text/plain")}, headers=auth()), 400
    )
    assert_error(post(client, ""), 400)
    assert stored(client) == {}


def test_spx02_empty_nested_containers_cannot_be_sent(make_client):
    """The spec's decision: `key=` is an empty string, not an empty array/object, so it breaks the schema."""
    client = make_client("sharinpix")
    for key in ("tags", "colors", "predominant", "coordinates", "image_metadata", "predominant][google"):
        assert_error(post(client, f"cloudinary[public_id]=x&cloudinary[{key}]="), 400)
    assert stored(client) == {}


def test_all02_responses_honour_the_spec_by_openapi_core(make_client):
    client = make_client("sharinpix", validate_responses=False)
    exchanges = [
        post(client, SEED_BODY),
        post(client, "cloudinary[public_id]=only"),
        post(client, "cloudinary[public_id]=x&cloudinary[image_metadata][DateTimeOriginal]=bad"),
        post(client, "cloudinary[width]=1"),
        post(client, "cloudinary[public_id]=x", headers={}),
        post(client, "cloudinary[public_id]=x", album="OTHER"),
        post(client, "cloudinary[public_id]=x&metadatas[big]=" + "a" * 1048576),
        client.post(PATH, json={"cloudinary": {"public_id": "x"}}, headers=auth()),
    ]
    assert [r.status_code for r in exchanges] == [200, 200, 200, 400, 401, 403, 413, 400]
    for response in exchanges:
        assert_honours_contract("sharinpix", response)


def test_all01_body_over_one_mebibyte_is_413(make_client):
    client = make_client("sharinpix")
    assert_error(post(client, "cloudinary[public_id]=x&metadatas[big]=" + "a" * 1048576), 413)
    assert post(client, "cloudinary[public_id]=x&metadatas[big]=" + "a" * 1000000).status_code == 200


# -- SPX-03: fields derived from the hash --------------------------------------------------------------------
def test_spx03_minimal_hash_gives_documented_fallbacks(make_client):
    client = make_client("sharinpix")
    body = json_of(post(client, "cloudinary[public_id]=only"))
    assert body["infos"] == {"public_id": "only"} and body["exifs"] == {} and body["metadatas"] == {}
    assert (body["width"], body["height"], body["size"], body["format"], body["filename"]) == (
        0,
        0,
        "0",
        "",
        "",
    )
    assert body["taken_at"] is None and body["original_url"] == ""
    assert {"mini", "large", "full"} <= set(body["thumbnails"]) and {"mini", "large", "full"} <= set(
        body["external_urls"]
    )


def test_spx03_taken_at_reads_date_time_original_as_utc_or_null(make_client):
    client = make_client("sharinpix")
    cases = {
        "2024:06:15 17:45:30": "2024-06-15T17:45:30.000+00:00",
        "2018-01-01 08:00:00": None,
        "2018:13:01 08:00:00": None,
        "2018:02:30 08:00:00": None,
        "yesterday": None,
        "": None,
    }
    for original, expected in cases.items():
        body = json_of(
            post(
                client,
                f"cloudinary[public_id]=p&cloudinary[image_metadata][DateTimeOriginal]={quote(original)}",
            )
        )
        assert body["taken_at"] == expected, original
        assert body["exifs"] == {"DateTimeOriginal": original}


def test_spx03_ids_are_fresh_uuids_and_records_are_kept_per_album(make_client):
    client = make_client("sharinpix")
    token = unsigned(abilities={a: {"Access": {"image_upload": True}} for a in ("A1", "A2")})
    a = [
        json_of(post(client, "cloudinary[public_id]=same", album="A1", headers=auth(token))) for _ in range(2)
    ]
    b = json_of(
        post(client, "cloudinary[public_id]=same&cloudinary[width]=007", album="A2", headers=auth(token))
    )
    assert len({a[0]["id"], a[1]["id"], b["id"]}) == 3
    assert b["album_id"] == "A2" and b["width"] == 7 and b["infos"]["width"] == "007"
    assert stored(client) == {"A1": a, "A2": [b]}


def test_dump_and_restore_round_trip(make_client):
    client = make_client("sharinpix")
    post(client, SEED_BODY)
    api = client.app.ctx.apis["sharinpix"]
    state = json.loads(json.dumps(api.dump()))
    api.reset()
    assert stored(client) == {}
    api.restore(state)
    assert api.dump() == state


# -- SPX-04 ------------------------------------------------------------------------------------------------
def test_spx04_missing_public_id_is_400_and_nothing_is_stored(make_client):
    client = make_client("sharinpix")
    for form in (
        "cloudinary[width]=10&metadatas[meta]=data",
        "metadatas[meta]=data",
        "cloudinary[public_id]=",
        SEED_BODY.replace("cloudinary[public_id]=c6y8knpw2ywwwfc6cykj&", ""),
    ):
        assert_error(post(client, form), 400)
    assert "public_id" in json_of(post(client, "cloudinary[width]=10"))["error"]
    assert stored(client) == {}


# -- Prefer, fixtures, concurrency -----------------------------------------------------------------------
def test_prefer_code_forces_a_documented_status(make_client):
    client = make_client("sharinpix")
    r = post(client, SEED_BODY, headers={**auth(), "Prefer": "code=401"})
    assert_error(r, 401)
    r = post(client, SEED_BODY, headers={**auth(), "Prefer": "code=200"})
    assert r.status_code == 200 and set(json_of(r)) == set(SEED_RESPONSE)
    assert stored(client) == {}


def test_fixtures_seed_goes_through_the_create_path(make_client, fixture_image):
    client = make_client("sharinpix")
    r = client.post("/__mock__/fixtures")
    assert r.status_code == 201 and r.json()["loaded"]["sharinpix"] == 3
    albums = stored(client)
    assert sorted(albums) == [ALBUM, "00100000456CC789"]
    photo, street = albums[ALBUM]
    assert (photo["width"], photo["height"], photo["format"]) == (640, 480, "jpg")
    assert photo["size"] == str(len(fixture_image("photo-exif.jpg")))
    assert photo["taken_at"] == "2018-01-01T08:00:00.000+00:00" and photo["metadatas"]["meta"] == "data"
    assert street["taken_at"] == "2024-06-15T17:45:30.000+00:00" and street["filename"] == "street corner"
    icon = albums["00100000456CC789"][0]
    assert (icon["width"], icon["height"], icon["format"], icon["taken_at"]) == (64, 64, "png", None)


def test_all04_parallel_creates_lose_nothing():
    app = create_app(apis=("sharinpix",), prefixed=False)

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            replies = await asyncio.gather(
                *(
                    client.post(
                        PATH,
                        content=f"cloudinary[public_id]=p{i}&metadatas[i]={i}",
                        headers={**FORM, **auth()},
                    )
                    for i in range(40)
                )
            )
            state = (await client.get("/__mock__/state")).json()
        return replies, state

    replies, state = asyncio.run(run())
    assert all(r.status_code == 200 for r in replies)
    bodies = [r.json() for r in replies]
    assert len({b["id"] for b in bodies}) == 40
    assert all(
        b["infos"]["public_id"] == f"p{i}" and b["metadatas"] == {"i": str(i)} for i, b in enumerate(bodies)
    )
    assert sorted(i["id"] for i in state["apis"]["sharinpix"]["albums"][ALBUM]) == sorted(
        b["id"] for b in bodies
    )


def test_spx02_array_items_and_values_keep_their_commas(make_client):
    """Connexion's flat form joins repeated keys with commas; the mock must not split values apart."""
    client = make_client("sharinpix")
    body = "cloudinary[public_id]=p&cloudinary[tags][]=a%2Cb&cloudinary[tags][]=c&metadatas[note]=x%2Cy"
    r = post(client, body)
    assert r.status_code == 200, r.text
    assert r.json()["infos"]["tags"] == ["a,b", "c"]
    assert r.json()["metadatas"] == {"note": "x,y"}
