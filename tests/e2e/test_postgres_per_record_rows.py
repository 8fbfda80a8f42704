"""``--store postgresql://`` keeps one row per record: a write stores what it touched whatever the store
holds, another process loads the rows that moved, a failed write is undone from its undo log, and a
schema-1 database (one ``api_state`` row per API holding its whole dump) is migrated on open. The apps run
in process on a real database (``tests/support/postgres_cluster.py``), each with its own connections."""

from __future__ import annotations

import psycopg
import pytest
from starlette.testclient import TestClient
from support.failing import fail_after_change
from support.postgres_cluster import pg_cluster, pg_url  # noqa: F401  (fixtures)
from support.stores import (
    EVOTOR,
    evotor_upload,
    fill_evotor,
    load_schema1_postgres,
    rows_loaded_by,
    tagged_upload,
)

from image_api_contracts import auth_headers
from mockserver.app import create_app


def open_app(url: str, **options):
    return create_app(allow_hosts=("testserver",), store=url, **options)


def rows_at_latest(url: str, api: str) -> int:
    with psycopg.connect(url) as db:
        return db.execute(
            "SELECT count(*) FROM records WHERE api = %s AND version = "
            "(SELECT version FROM api_state WHERE api = %s)",
            (api, api),
        ).fetchone()[0]


@pytest.mark.parametrize("records", [10, 1500])
def test_a_write_and_a_delete_store_one_record_row_whatever_the_store_holds(pg_url, records):  # noqa: F811
    app = open_app(pg_url, apis=("evotor",))
    fill_evotor(app, records)
    with TestClient(app) as client:
        r = evotor_upload(client, "new")
        assert r.status_code == 200, r.text
        assert rows_at_latest(pg_url, "evotor") == 1
        path = EVOTOR.format(product="new") + "/" + r.json()["id"]
        assert client.delete(path, headers=auth_headers("evotor")).status_code == 204
        assert rows_at_latest(pg_url, "evotor") == 1  # the tombstone
        assert len(client.get("/__mock__/state").json()["apis"]["evotor"]["images"]) == records
    with psycopg.connect(pg_url) as db:
        assert db.execute("SELECT count(*) FROM records WHERE json IS NOT NULL").fetchone()[0] == records
        assert db.execute("SELECT count(*) FROM blobs WHERE data IS NULL").fetchone()[0] == 1


def test_another_process_sees_a_write_and_a_delete(pg_url):  # noqa: F811
    first, second = open_app(pg_url), open_app(pg_url)
    with TestClient(first) as one, TestClient(second) as two:
        made = [tagged_upload(one, f"t{i}.png", ["a"]).json()["id"] for i in range(3)]
        assert two.get("/tagged-images/v1/images").json()["meta"]["total_results"] == 3
        loaded = rows_loaded_by(second)
        assert one.delete(f"/tagged-images/v1/images/{made[0]}").status_code == 204
        late = tagged_upload(one, "late.png", ["b"])
        assert late.status_code == 201
        assert two.get(f"/tagged-images/v1/images/{made[0]}").status_code == 404
        r = two.get(f"/tagged-images/v1/images/{late.json()['id']}")
        assert r.status_code == 200 and r.json()["tags"][0]["name"] == "b"
        assert two.get(r.json()["url"]).status_code == 200  # its bytes came along
        assert two.get("/__mock__/state").json()["apis"] == one.get("/__mock__/state").json()["apis"]
        assert sorted(change[0] for change in loaded) == ["images", "images", "tags"]


def test_a_failed_write_is_undone_from_its_undo_log_and_nothing_is_stored(pg_url):  # noqa: F811
    app = open_app(pg_url, apis=("evotor",))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert evotor_upload(client, "kept").status_code == 200
        api = app.ctx.apis["evotor"]
        reloads: list = []
        original = api.restore
        api.restore = lambda state: (reloads.append(state), original(state))
        fail_after_change(api, "upload_product_image", "boom after the change")
        assert evotor_upload(client, "lost").status_code == 500
        assert reloads == []
        products = [r["product_id"] for r in client.get("/__mock__/state").json()["apis"]["evotor"]["images"]]
        assert products == ["kept"]
    with psycopg.connect(pg_url) as db:
        assert db.execute("SELECT count(*) FROM records WHERE json IS NOT NULL").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM blobs").fetchone()[0] == 1
    with TestClient(open_app(pg_url, apis=("evotor",))) as client:
        products = [r["product_id"] for r in client.get("/__mock__/state").json()["apis"]["evotor"]["images"]]
        assert products == ["kept"]


def test_a_schema1_database_is_migrated_on_open(pg_url):  # noqa: F811
    expected = load_schema1_postgres(pg_url)
    app = open_app(pg_url)
    with TestClient(app) as client:
        assert client.get("/__mock__/state").json() == expected
        image = client.get("/tagged-images/v1/images").json()["results"][0]
        assert client.get(image["url"]).status_code == 200
        assert client.delete(f"/tagged-images/v1/images/{image['id']}").status_code == 204
        assert evotor_upload(client, "after-migration").status_code == 200
        after = client.get("/__mock__/state").json()
    with psycopg.connect(pg_url) as db:
        assert db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()[0] == "2"
        per_api = dict(db.execute("SELECT api, count(*) FROM records WHERE json IS NOT NULL GROUP BY api"))
        assert per_api == {
            "everydaypic": 3,
            "image-upload": 3,
            "sharinpix": 3,
            "evotor": 3,
            "tagged-images": 5,
        }
    with TestClient(open_app(pg_url)) as client:  # another process, later: the same state
        assert client.get("/__mock__/state").json() == after
