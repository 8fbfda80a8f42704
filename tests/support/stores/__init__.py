"""Stores that earlier versions of the mock wrote, for the tests of their migration.

``schema1_state`` is a ``--state-dir`` written by the schema-1 code (commit 79801d2: one ``api_state`` row
per API holding its whole ``dump()``): three uploads on each of the five APIs through the app, then one
evotor and one tagged-images delete; ``expected_state.json`` is its ``GET /__mock__/state`` then.
``schema1_postgres.sql`` is the same made under ``--store`` (``pg_dump --inserts``, psql's own lines
dropped), ``schema1_postgres_state.json`` its state.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
from pathlib import Path

from image_api_contracts import auth_headers
from support.images import image_bytes

HERE = Path(__file__).parent
SCHEMA1 = HERE / "schema1_state"


def schema1_store(tmp_path: Path) -> Path:
    """A fresh copy of the schema-1 state directory (five APIs, a delete on two); returns its path."""
    target = tmp_path / "state"
    shutil.copytree(SCHEMA1, target, ignore=shutil.ignore_patterns("expected_state.json"))
    return target


def schema1_expected_state() -> dict:
    """``GET /__mock__/state`` as the schema-1 mock answered it over that store."""
    return json.loads((SCHEMA1 / "expected_state.json").read_text())


def load_schema1_postgres(url: str) -> dict:
    """Fill the (empty) database at ``url`` with the schema-1 ``--store`` database; returns the state
    ``GET /__mock__/state`` answered over it."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute((HERE / "schema1_postgres.sql").read_text())
    return json.loads((HERE / "schema1_postgres_state.json").read_text())


EVOTOR = "/evotor/stores/s1/products/{product}/images"


def evotor_upload(client, product: str):
    """A 300x300 PNG uploaded to an evotor product, as a client sends it."""
    return client.post(
        EVOTOR.format(product=product),
        files={"datafile": ("p.png", image_bytes(300, 300), "image/png")},
        headers=auth_headers("evotor"),
    )


def fill_evotor(app, n: int) -> None:
    """``n`` evotor records through the handler's own path, stored by the store's own write (a reset
    first: the API's rows are rewritten wholesale), on a loop of its own."""
    state, api = app.durable, app.ctx.apis["evotor"]
    png = image_bytes(300, 300)

    async def fill():
        await state.begin(("evotor",))
        api.reset()
        for i in range(n):
            api.create_record(png, "s1", f"fill{i}", "token")
        await state.commit(("evotor",))
        if hasattr(state, "drop_connections"):  # PostgreSQL's are bound to this loop; the app opens its own
            await state.drop_connections()

    asyncio.run(fill())


TAGGED_PNG = base64.b64encode(image_bytes(8, 8)).decode()


def tagged_upload(client, filename: str, tags: list[str]):
    """A small PNG uploaded to tagged-images in one shot (base64 in JSON), as a client sends it."""
    body = {"filename": filename, "tags": tags, "image_data": TAGGED_PNG}
    return client.post("/tagged-images/v1/upload", json=body)


def rows_loaded_by(app) -> list:
    """The record changes ``app`` loads from the store from now on (its tagged-images handler's
    ``apply_rows``, still applied): what another process's writes cost this one."""
    loaded: list = []
    api = app.ctx.apis["tagged-images"]
    original = api.apply_rows
    api.apply_rows = lambda scalars, changes: (loaded.extend(changes), original(scalars, changes))
    return loaded
