"""toy behaviour (TOY-01, TOY-02, ALL-04, ALL-06). No delete exists, so checks create uniquely named things
and leave them; nothing assumes an empty server or an id format."""

from __future__ import annotations

import base64

import pytest

from conformance.checks.kit import body_of, concurrently
from conformance.checks.readback import BASELINE, ODD_TEXTS, PLAIN, Readback, json_bytes, pct, send
from conformance.findings import check, needs
from conformance.media import realistic_image

pytestmark = pytest.mark.api("toy")


def create(http, name: str, data: bytes):
    return http.post("/v1/things", json={"name": name, "image_base64": base64.b64encode(data).decode()})


def created_ok(response) -> bool:
    """What other rules need of a create: a 201 holding a thing with a non-empty string id."""
    body = body_of(response)
    return response.status_code == 201 and isinstance(body, dict) and bool(body.get("id"))


# -- TOY-01: a thing is stored with its name and its image's size ----------------------------------------
@pytest.mark.writes
@pytest.mark.rule("TOY-01")
def check_toy01_a_thing_is_stored_with_its_name_and_size(target, http):
    data = realistic_image("PNG", seed=21)
    name = target.unique("Thing Ünï")
    r = create(http, name, data)
    if not check(r.status_code == 201, f"POST /v1/things: expected 201, got {r.status_code}", response=r):
        return
    body = body_of(r) or {}
    check(isinstance(body.get("id"), str) and bool(body.get("id")), f"no id in {body!r}", response=r)
    check(body.get("name") == name, f"name {body.get('name')!r} is not the {name!r} sent", response=r)
    size = body.get("size")
    check(size == len(data), f"size {size!r}, the image has {len(data)} bytes", response=r)
    again = create(http, name, data)
    needs(again, "a second create of the same thing", "TOY-01", ok=created_ok)
    check(body_of(again)["id"] != body.get("id"), "two creates got one id", response=again)


# -- TOY-02: a stored thing reads back; an unknown id is a 404 in the toy's format ---------------------------
@pytest.mark.writes
@pytest.mark.rule("TOY-02")
def check_toy02_a_stored_thing_reads_back_and_is_listed(target, http):
    """Judged on the reads alone: what the create answered is TOY-01's."""
    name = target.unique("read")
    created = needs(create(http, name, realistic_image("JPEG", seed=22)), "a create", "TOY-01", ok=created_ok)
    thing_id = created.json()["id"]
    r = http.get(f"/v1/things/{pct(thing_id)}")
    thing = body_of(r) if r.status_code == 200 else None
    if not check(
        isinstance(thing, dict) and (thing.get("id"), thing.get("name")) == (thing_id, name),
        f"GET the created thing: {r.status_code}, not the thing {thing_id} named {name!r}",
        response=r,
    ):
        return
    listed = http.get("/v1/things")
    check(thing in (body_of(listed) or []), "the created thing is not in GET /v1/things", response=listed)
    missing = http.get(f"/v1/things/{pct(target.unique('missing'))}")
    error = (body_of(missing) or {}) if missing.status_code == 404 else {}
    check(
        isinstance(error, dict) and isinstance(error.get("error"), str),
        f"an unknown id: expected 404 with {{'error': ...}}, got {missing.status_code}",
        response=missing,
    )


# -- ALL-04: parallel creates -------------------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("ALL-04")
def check_all04_parallel_creates_lose_nothing(target, http):
    count = 12
    names = [target.unique(f"par{i}") for i in range(count)]
    images = [realistic_image(("PNG", "JPEG")[i % 2], seed=100 + i) for i in range(count)]
    responses = concurrently(lambda i: create(http, names[i], images[i]), range(count))
    for r in responses:
        needs(r, "a parallel create", "TOY-01", ok=created_ok)
    things = [r.json() for r in responses]
    check([t["name"] for t in things] == names, "a parallel create answered another create's thing")
    ids = [t["id"] for t in things]
    check(len(set(ids)) == count, f"{count} parallel creates got {len(set(ids))} distinct ids")
    listed = {t.get("id") for t in body_of(http.get("/v1/things")) or [] if isinstance(t, dict)}
    check(set(ids) <= listed, f"{len(set(ids) - listed)} of {count} parallel creates are not listed")
    sizes = [body_of(http.get(f"/v1/things/{pct(i)}")) or {} for i in ids]
    check([s.get("size") for s in sizes] == [len(i) for i in images], "a parallel create's size changed")


# -- ALL-06: what it accepted reads back --------------------------------------------------------------------
@pytest.mark.writes
@pytest.mark.rule("ALL-06")
def check_all06_toy_reads_back_what_it_accepted(target, http):
    readback = Readback(target, http)
    image = base64.b64encode(realistic_image("PNG", seed=23)).decode()
    writes = [(target.unique(label) + text, label) for label, text in ODD_TEXTS]
    writes.insert(0, (target.unique("first"), BASELINE[1:-1]))
    writes.append((target.unique("plain"), PLAIN[1:-1]))
    for name, label in writes:
        if readback.broken:  # the reads broke after an earlier write: the later ones prove nothing
            break
        body = json_bytes({"name": name, "image_base64": image})
        r = send(http, "POST", "/v1/things", body, "application/json")
        after = f"POST /v1/things ({label})"
        if not readback.write(r, after):
            continue
        thing_id = str((body_of(r) or {}).get("id", ""))
        readback.read(http.get(f"/v1/things/{pct(thing_id)}"), f"GET /v1/things/{thing_id}", after)
        readback.read(http.get("/v1/things"), "GET /v1/things", after)
