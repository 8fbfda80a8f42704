"""everydaypic behaviour (EDP-01..06, ALL-04). No delete exists, so checks create uniquely named images
and leave them; nothing assumes an empty server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from conformance.media import image_bytes, images, not_an_image

pytestmark = pytest.mark.api("everydaypic")


def upload(http, data: bytes, mime: str, file_name: str, name: str):
    return http.post(
        "/v1/image", files={"file": (file_name, data, mime)}, data={"fileName": file_name, "name": name}
    )


def created_image(response) -> dict:
    assert response.status_code == 200, (
        f"upload: expected 200, got {response.status_code}: {response.text[:200]}"
    )
    body = response.json()
    assert isinstance(body, list) and len(body) == 1, (
        f"the 200 body must be an array holding the image: {body}"
    )
    return body[0]


class EverydaypicMachine(RuleBasedStateMachine):
    """Uploads real images, then checks download, info by id and by fileName against what it uploaded."""

    uploaded = Bundle("uploaded")

    def __init__(self, target, http):
        super().__init__()
        self.target, self.http = target, http
        self.mine: dict[str, tuple[dict, bytes, str]] = {}  # id -> (image, bytes, mime)

    @rule(target=uploaded, image=images())
    def upload(self, image):
        data, mime = image
        file_name, name = self.target.unique("f") + ".img", self.target.unique("n")
        created = created_image(upload(self.http, data, mime, file_name, name))
        assert created["fileName"] == file_name and created["name"] == name, created  # EDP-03
        assert created.get("id") and created["id"] not in self.mine, "ids must be non-empty and unique"
        assert isinstance(created.get("userID"), str) and isinstance(created.get("created"), str)
        self.mine[created["id"]] = (created, data, mime)
        return created["id"]

    @rule(image_id=uploaded)
    def download(self, image_id):
        _, data, mime = self.mine[image_id]
        r = self.http.get(f"/v1/image/{image_id}")
        assert r.status_code == 200, f"download: {r.status_code}"
        assert r.content == data, f"download returned {len(r.content)} bytes, uploaded {len(data)} (EDP-05)"
        assert r.headers.get("content-type", "").split(";")[0] == mime, r.headers.get("content-type")

    @rule(
        by_id=st.lists(uploaded, max_size=3, unique=True), by_name=st.lists(uploaded, max_size=3, unique=True)
    )
    def info(self, by_id, by_name):
        if not by_id and not by_name:
            return
        names = [self.mine[i][0]["fileName"] for i in by_name]
        r = self.http.get("/v1/image/info", params={"id": by_id, "fileName": names})
        assert r.status_code == 200, f"info: {r.status_code} {r.text[:200]}"
        got = {image["id"] for image in r.json()}
        assert got == set(by_id) | set(by_name), (
            f"info returned {got}, expected the union {set(by_id) | set(by_name)}"
        )

    @invariant()
    def unknown_id_is_404(self):
        if len(self.mine) % 4 == 1:  # now and then, not every step
            assert self.http.get(f"/v1/image/{self.target.unique('missing')}").status_code == 404


@pytest.mark.writes
@pytest.mark.rule("EDP-03", "EDP-04", "EDP-05")
def test_edp_state_machine(target, http, hypothesis_settings):
    run_state_machine_as_test(lambda: EverydaypicMachine(target, http), settings=hypothesis_settings)


@pytest.mark.writes
@pytest.mark.rule("EDP-01")
@pytest.mark.parametrize("missing", ["file", "fileName", "name"])
def test_edp01_each_field_is_required(target, http, missing):
    file_name = target.unique("missing") + ".png"
    files = {"file": ("a.png", image_bytes(), "image/png")} if missing != "file" else {}
    data = {k: v for k, v in {"fileName": file_name, "name": "n"}.items() if k != missing}
    r = http.post("/v1/image", files=files or None, data=data)
    assert r.status_code == 400, f"without {missing}: expected 400, got {r.status_code}"


@pytest.mark.writes
@pytest.mark.rule("EDP-02")
def test_edp02_non_image_is_refused_and_not_stored(target, http):
    file_name = target.unique("text") + ".png"
    r = upload(http, not_an_image(), "image/png", file_name, "n")
    assert r.status_code == 400, f"a text file as image: expected 400, got {r.status_code}"
    assert http.get("/v1/image/info", params={"fileName": file_name}).status_code == 404, "it was stored"


@pytest.mark.rule("EDP-04", "EDP-05")
def test_edp_unknown_ids_are_404(target, http):
    assert http.get(f"/v1/image/{target.unique('nope')}").status_code == 404
    assert http.get("/v1/image/info", params={"id": target.unique("nope")}).status_code == 404


@pytest.mark.rule("EDP-06")
def test_edp06_errors_are_plain_text(target, http):
    r = http.get(f"/v1/image/{target.unique('nope')}")
    assert r.headers.get("content-type", "").startswith("text/plain"), r.headers.get("content-type")


@pytest.mark.writes
@pytest.mark.rule("ALL-04")
def test_all04_parallel_uploads_lose_nothing(target, http):
    payloads = [image_bytes(8 + i, 8, "PNG", (i * 9 % 256, 40, 90)) for i in range(20)]
    names = [target.unique(f"par{i}") + ".png" for i in range(20)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(
            pool.map(lambda i: upload(http, payloads[i], "image/png", names[i], names[i]), range(20))
        )
    created = [created_image(r) for r in responses]
    assert len({c["id"] for c in created}) == 20, "parallel uploads got duplicate ids"
    assert [c["fileName"] for c in created] == names, "responses were mixed up between uploads"
    listed = http.get("/v1/image/info", params={"id": [c["id"] for c in created]}).json()
    assert len(listed) == 20, f"{20 - len(listed)} of 20 parallel uploads are missing"
    for c, data in zip(created, payloads, strict=True):
        assert http.get(f"/v1/image/{c['id']}").content == data, "a parallel upload's bytes changed"
