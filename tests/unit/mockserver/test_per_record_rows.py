"""``--state-dir`` keeps one row per record: a write stores what it touched, another process loads what
moved, a failed write is undone from its undo log, and a store of the previous schema is migrated."""

from __future__ import annotations

import sqlite3

import pytest
from starlette.testclient import TestClient
from support.failing import fail_after_change
from support.images import image_bytes
from support.stores import (
    EVOTOR,
    evotor_upload,
    fill_evotor,
    rows_loaded_by,
    schema1_expected_state,
    schema1_store,
    tagged_upload,
)

from image_api_contracts import auth_headers
from mockserver.app import create_app
from mockserver.state import rows
from mockserver.state.durable import DB_FILE


def open_app(state_dir, **options):
    return create_app(allow_hosts=("testserver",), state_dir=state_dir, **options)


def rows_of_version(state_dir, version: int) -> int:
    with sqlite3.connect(state_dir / DB_FILE) as db:
        return db.execute("SELECT count(*) FROM records WHERE version = ?", (version,)).fetchone()[0]


def latest_version(state_dir) -> int:
    with sqlite3.connect(state_dir / DB_FILE) as db:
        return db.execute("SELECT value FROM meta WHERE name = 'version'").fetchone()[0]


@pytest.mark.parametrize("records", [10, 2000])
def test_an_upload_and_a_delete_write_one_record_row_whatever_the_store_holds(tmp_path, records):
    state_dir = tmp_path / "state"
    app = open_app(state_dir, apis=("evotor",))
    try:
        fill_evotor(app, records)
        assert rows_of_version(state_dir, latest_version(state_dir)) == records
        with TestClient(app) as client:
            before = app.durable.db.total_changes
            r = client.post(
                EVOTOR.format(product="new"),
                files={"datafile": ("p.png", image_bytes(300, 300), "image/png")},
                headers=auth_headers("evotor"),
            )
            assert r.status_code == 200, r.text
            # the record's row, the API's row, the blob's row, its deleted_blobs cleanup, the version
            assert app.durable.db.total_changes - before <= 5
            assert rows_of_version(state_dir, latest_version(state_dir)) == 1
            before = app.durable.db.total_changes
            path = EVOTOR.format(product="new") + "/" + r.json()["id"]
            assert client.delete(path, headers=auth_headers("evotor")).status_code == 204
            assert app.durable.db.total_changes - before <= 5
            assert rows_of_version(state_dir, latest_version(state_dir)) == 1  # the tombstone
    finally:
        app.durable.close()
    with sqlite3.connect(state_dir / DB_FILE) as db:
        assert db.execute("SELECT count(*) FROM records WHERE json IS NOT NULL").fetchone()[0] == records


def test_another_process_sees_a_write_and_a_delete_and_loads_only_those_rows(tmp_path):
    state_dir = tmp_path / "state"
    first, second = open_app(state_dir), open_app(state_dir)
    try:
        with TestClient(first) as one, TestClient(second) as two:
            made = [tagged_upload(one, f"t{i}.png", ["a", f"t{i}"]).json()["id"] for i in range(3)]
            assert two.get("/tagged-images/v1/images").json()["meta"]["total_results"] == 3
            loaded = rows_loaded_by(second)
            assert one.delete(f"/tagged-images/v1/images/{made[0]}").status_code == 204
            assert one.delete("/tagged-images/v1/tags/1").status_code == 204  # "a": every image carried it
            r = tagged_upload(one, "late.png", ["late"])
            assert r.status_code == 201
            listing = two.get("/tagged-images/v1/images").json()
            assert [i["filename"] for i in listing["results"]] == [
                i["filename"] for i in one.get("/tagged-images/v1/images").json()["results"]
            ]
            assert listing["meta"]["total_results"] == 3
            assert two.get(f"/tagged-images/v1/images/{made[0]}").status_code == 404
            assert two.get("/tagged-images/v1/tags").json() == one.get("/tagged-images/v1/tags").json()
            assert two.get("/__mock__/state").json()["apis"] == one.get("/__mock__/state").json()["apis"]
            # the deleted image, the deleted tag, the images that carried it, the new tag and image
            assert len(loaded) <= 6, loaded
            assert {change[0] for change in loaded} == {"images", "tags"}
            new_id = r.json()["id"]
            upload = two.get(f"/tagged-images/v1/images/{new_id}").json()
            assert upload["tags"] == [{"id": upload["tags"][0]["id"], "name": "late"}]
            assert (
                two.get("/tagged-images/v1/search/images", params={"exact_tags": "late"}).json()["meta"][
                    "total_results"
                ]
                == 1
            )
    finally:
        first.durable.close()
        second.durable.close()


def test_a_failed_write_is_undone_from_its_undo_log_without_reloading_the_api(tmp_path):
    state_dir = tmp_path / "state"
    app = open_app(state_dir, apis=("evotor",))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            ok = client.post(
                EVOTOR.format(product="kept"),
                files={"datafile": ("p.png", image_bytes(300, 300), "image/png")},
                headers=auth_headers("evotor"),
            )
            assert ok.status_code == 200
            api = app.ctx.apis["evotor"]
            reloads: list = []
            original = api.restore
            api.restore = lambda state: (reloads.append(state), original(state))
            fail_after_change(api, "upload_product_image", "boom after the change")
            r = client.post(
                EVOTOR.format(product="lost"),
                files={"datafile": ("p.png", image_bytes(300, 300), "image/png")},
                headers=auth_headers("evotor"),
            )
            assert r.status_code == 500
            assert reloads == []  # undone from what it touched, not reloaded
            assert [
                record["product_id"]
                for record in client.get("/__mock__/state").json()["apis"]["evotor"]["images"]
            ] == ["kept"]
            assert ("s1", "lost") not in api.by_product
    finally:
        app.durable.close()
    app = open_app(state_dir, apis=("evotor",))
    try:
        assert [record["product_id"] for record in app.ctx.dump()["evotor"]["images"]] == ["kept"]
    finally:
        app.durable.close()


def test_a_schema1_store_is_migrated_to_per_record_rows_on_open(tmp_path):
    state_dir = schema1_store(tmp_path)
    expected = schema1_expected_state()
    app = open_app(state_dir)
    try:
        with TestClient(app) as client:
            assert client.get("/__mock__/state").json() == expected
            # files are served as before, and the store goes on taking writes and deletes
            image = client.get("/tagged-images/v1/images").json()["results"][0]
            assert client.get(image["url"]).status_code == 200
            assert client.delete(f"/tagged-images/v1/images/{image['id']}").status_code == 204
            after = client.get("/__mock__/state").json()
    finally:
        app.durable.close()
    with sqlite3.connect(state_dir / DB_FILE) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "api_state" not in tables
        per_api = dict(db.execute("SELECT api, count(*) FROM records WHERE json IS NOT NULL GROUP BY api"))
        # tagged-images: one image left of three, and its four tags ("kept", t0, t1, t2)
        assert per_api == {
            "everydaypic": 3,
            "image-upload": 3,
            "sharinpix": 3,
            "evotor": 2,
            "tagged-images": 5,
        }
        assert db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()[0] == 2
    app = open_app(state_dir)  # reopened: nothing left to migrate, the same state
    try:
        assert TestClient(app).get("/__mock__/state").json() == after
    finally:
        app.durable.close()


def test_a_store_of_a_newer_schema_is_refused(tmp_path):
    state_dir = tmp_path / "state"
    open_app(state_dir).durable.close()
    with sqlite3.connect(state_dir / DB_FILE) as db:
        db.execute("UPDATE meta SET value = 99 WHERE name = 'schema_version'")
    with pytest.raises(SystemExit, match="schema version 99"):
        open_app(state_dir)


def test_old_tombstones_are_purged_and_a_process_behind_them_reloads_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(rows, "TOMBSTONE_HORIZON", 2)
    monkeypatch.setattr(rows, "PURGE_EVERY", 1)
    state_dir = tmp_path / "state"
    first, second = open_app(state_dir, apis=("evotor",)), open_app(state_dir, apis=("evotor",))
    try:
        with TestClient(first) as one, TestClient(second) as two:
            ids = [evotor_upload(one, f"p{i}").json()["id"] for i in range(6)]
            assert len(two.get("/__mock__/state").json()["apis"]["evotor"]["images"]) == 6
            for i, image_id in enumerate(ids[:4]):  # the second process looks away meanwhile
                path = EVOTOR.format(product=f"p{i}") + "/" + image_id
                assert one.delete(path, headers=auth_headers("evotor")).status_code == 204
            with sqlite3.connect(state_dir / DB_FILE) as db:
                assert db.execute("SELECT count(*) FROM records WHERE json IS NULL").fetchone()[0] <= 2
                assert db.execute("SELECT count(*) FROM deleted_blobs").fetchone()[0] <= 2
            state = two.get("/__mock__/state").json()
            assert state == one.get("/__mock__/state").json()
            assert [r["product_id"] for r in state["apis"]["evotor"]["images"]] == ["p4", "p5"]
    finally:
        first.durable.close()
        second.durable.close()
