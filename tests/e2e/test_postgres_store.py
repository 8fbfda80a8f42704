"""``--store postgresql://``: real ``mockserver`` processes on one real PostgreSQL database (a cluster the
tests start, ``tests/support/postgres_cluster.py``). What one process acknowledged, every other reads at
once; writes from many processes lose nothing; a ``kill -9`` loses nothing acknowledged; the database going
away gives
503s in each API's format and the mock recovers by itself when it returns."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from support.images import image_bytes
from support.mock_process import MockProcess
from support.postgres_cluster import pg_cluster, pg_url, wait_until_down  # noqa: F401  (fixtures)
from support.round_robin_proxy import round_robin_proxy

from image_api_contracts import APIS, auth_headers
from mockserver.state.postgres import SCHEMA_VERSION, redacted

TAGGED = "/tagged-images/v1"
EVOTOR = "/evotor/stores/s1/products/{product}/images"


@pytest.fixture
def mocks(tmp_path, pg_url):  # noqa: F811
    """``mocks(n)``: n processes on one new database; every one still running is stopped after."""
    started: list[MockProcess] = []

    def start(n: int = 2, *args: str) -> list[MockProcess]:
        for _ in range(n):
            started.append(MockProcess("--store", pg_url, *args, log_dir=tmp_path))
        return started[-n:]

    start.url = pg_url
    yield start
    for server in started:
        server.stop()
        server.kill()


def upload(url: str, n: int, tag: str = "t") -> httpx.Response:
    png = image_bytes(8 + n % 50, 5, color=(n % 256, 7, 7))
    body = {"filename": f"{tag}{n}.png", "tags": [tag], "image_data": base64.b64encode(png).decode()}
    with httpx.Client(timeout=30) as c:
        return c.post(url + TAGGED + "/upload", json=body)


def tagged_records(url: str, tag: str) -> list[dict]:
    tags = httpx.get(url + TAGGED + "/tags", params={"limit": 100}, timeout=30).json()["results"]
    tag_id = next(t["id"] for t in tags if t["name"] == tag)
    records, offset = [], 0
    while True:
        page = httpx.get(
            f"{url}{TAGGED}/tags/{tag_id}/images", params={"limit": 100, "offset": offset}, timeout=30
        ).json()["results"]
        records += page
        if len(page) < 100:
            return records
        offset += 100


def tagged_ids(url: str, tag: str) -> list[int]:
    return [record["id"] for record in tagged_records(url, tag)]


def test_a_write_on_one_process_is_read_at_once_on_the_other(mocks):
    one, other = mocks(2)
    for n in range(10):
        up = upload(one.url, n) if n % 2 else upload(other.url, n)
        assert up.status_code == 201, up.text
        writer, reader = (one, other) if n % 2 else (other, one)
        got = httpx.get(f"{reader.url}{TAGGED}/images/{up.json()['id']}", timeout=30)
        assert got.status_code == 200, got.text
        assert got.headers["x-mock-worker"] != up.headers["x-mock-worker"]
        file_url = httpx.URL(got.json()["url"])
        assert httpx.get(reader.url + file_url.raw_path.decode(), timeout=30).status_code == 200
        # the signed URL one process handed out is valid on the other (one signing key in the database)
        assert httpx.get(writer.url + file_url.raw_path.decode(), timeout=30).status_code == 200
        assert httpx.delete(f"{writer.url}{TAGGED}/images/{up.json()['id']}", timeout=30).status_code == 204
        assert httpx.get(f"{reader.url}{TAGGED}/images/{up.json()['id']}", timeout=30).status_code == 404
    # behaviour, the journal and reset are the database's too
    forced = {"status": 404, "path_prefix": "/tagged-images/"}
    assert httpx.post(one.url + "/__mock__/behaviour", json=forced).status_code == 200
    message = httpx.get(f"{other.url}{TAGGED}/images/1").json()["message"]
    assert message == "response forced by Prefer: code=404"
    journal = httpx.get(other.url + "/__mock__/requests", params={"method": "DELETE"}).json()["requests"]
    assert len(journal) == 10 and {e["headers"]["host"] for e in journal} == {
        f"127.0.0.1:{one.port}",
        f"127.0.0.1:{other.port}",
    }
    assert httpx.post(other.url + "/__mock__/reset").status_code == 204
    assert httpx.get(one.url + "/__mock__/behaviour").json()["status"] is None
    assert httpx.get(one.url + "/__mock__/requests").json()["requests"] == []
    assert upload(one.url, 99).json()["id"] == 1  # a reset starts the ids again, everywhere
    assert httpx.post(other.url + "/__mock__/fixtures", timeout=30).status_code == 201
    seeded = httpx.get(one.url + "/__mock__/state", timeout=30).json()["apis"]
    assert len(seeded["image-upload"]["images"]) > 0  # the packaged fixtures, loaded through the other


def test_parallel_uploads_over_two_processes_lose_nothing_and_get_distinct_ids(mocks):
    servers = mocks(2)

    def one_upload(n: int) -> int:
        r = upload(servers[n % 2].url, n, tag="par")
        assert r.status_code == 201, r.text
        return r.json()["id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(one_upload, range(60)))
    assert len(set(ids)) == 60
    for server in servers:
        assert sorted(tagged_ids(server.url, "par")) == sorted(ids)

    # One image per evotor product, across processes: of concurrent uploads exactly one wins.
    png300 = image_bytes(300, 300)

    def evotor_upload(n: int) -> int:
        with httpx.Client(timeout=30) as c:
            return c.post(
                servers[n % 2].url + EVOTOR.format(product="race"),
                files={"datafile": ("p.png", png300, "image/png")},
                headers=auth_headers("evotor"),
            ).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert sorted(pool.map(evotor_upload, range(6))) == [200, 409, 409, 409, 409, 409]


def test_kill_9_of_one_process_mid_load_loses_nothing_acknowledged(mocks):
    """Every acknowledged upload is stored, under the id it was answered with. The only records stored
    without an answer are uploads the victim was handling when it died (committed, not yet answered):
    at most one per client thread, each one of those unanswered requests."""
    victim, survivor = mocks(2)
    acknowledged: dict[int, str] = {}  # id -> the file name its upload sent
    unanswered_by_victim: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def load(worker: int) -> None:
        n = worker * 10_000
        while not stop.is_set():
            n += 1
            server = victim if n % 2 else survivor
            try:
                r = upload(server.url, n, tag="k9")
            except httpx.TransportError:
                with lock:  # the victim is gone: not acknowledged, though it may have been committed
                    unanswered_by_victim.add(f"k9{n}.png")
                continue
            if r.status_code == 201:
                with lock:
                    assert r.json()["id"] not in acknowledged, "one id answered to two uploads"
                    acknowledged[r.json()["id"]] = f"k9{n}.png"

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    while len(acknowledged) < 30:
        threading.Event().wait(0.05)
    victim.kill()  # SIGKILL, mid-load
    killed_at = len(acknowledged)
    while len(acknowledged) < killed_at + 20:  # the survivor keeps serving
        threading.Event().wait(0.05)
    stop.set()
    for t in threads:
        t.join()
    stored = {record["id"]: record["filename"] for record in tagged_records(survivor.url, "k9")}
    lost = {i: name for i, name in acknowledged.items() if stored.get(i) != name}
    assert not lost, f"acknowledged uploads missing or changed after kill -9: {lost}"
    unacknowledged = {i: name for i, name in stored.items() if i not in acknowledged}
    assert set(unacknowledged.values()) <= unanswered_by_victim, (
        f"stored without an answer, and not in flight on the victim: {unacknowledged}"
    )
    assert len(unacknowledged) <= len(threads)  # one request in flight per client thread at most


def test_the_database_away_gives_503_in_each_apis_format_and_the_mock_recovers(mocks, pg_cluster):  # noqa: F811
    (server,) = mocks(1)
    assert upload(server.url, 1).status_code == 201
    pg_cluster.stop()
    wait_until_down(pg_cluster)
    try:
        read = httpx.get(f"{server.url}{TAGGED}/images/1", timeout=30)
        assert read.status_code == 503
        assert set(read.json()) == {"code", "message"}  # tagged-images' own error body
        assert "database is unavailable" in read.json()["message"]
        write = httpx.post(
            server.url + EVOTOR.format(product="p"),
            files={"datafile": ("p.png", image_bytes(300, 300), "image/png")},
            headers=auth_headers("evotor"),
            timeout=30,
        )
        assert write.status_code == 503
        assert "nothing of this request was kept" in write.text or "unavailable" in write.text
    finally:
        pg_cluster.start()
    assert httpx.get(f"{server.url}{TAGGED}/images/1", timeout=30).status_code == 200
    assert upload(server.url, 2).status_code == 201


def test_a_newer_schema_is_refused_with_a_clear_message(mocks, tmp_path):
    mocks(1)[0].stop()
    import psycopg

    with psycopg.connect(mocks.url, autocommit=True) as db:
        db.execute("UPDATE meta SET value = %s WHERE name = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(RuntimeError, match="made by a newer mockserver"):
        MockProcess("--store", mocks.url, log_dir=tmp_path)


def test_the_password_is_never_printed(pg_cluster, tmp_path):  # noqa: F811
    url = pg_cluster.new_database().replace("mock@", "mock:s3cret-pw@")  # trust auth: any password
    server = MockProcess("--store", url, "--log-level", "info", log_dir=tmp_path)
    try:
        assert upload(server.url, 1).status_code == 201
    finally:
        output = server.stop()
    assert "state in postgresql://mock:***@" in output and "s3cret-pw" not in output
    unreachable = f"postgresql://mock:s3cret-pw@127.0.0.1:{pg_cluster.port + 1}/nowhere"
    with pytest.raises(RuntimeError) as failed:
        MockProcess("--store", unreachable, log_dir=tmp_path)
    assert "cannot reach the store postgresql://mock:***@" in str(failed.value)
    assert "s3cret-pw" not in str(failed.value)
    assert redacted("postgresql://u:p@h/db?password=x&sslmode=require") == (
        "postgresql://u:***@h/db?password=***&sslmode=require"
    )


def test_without_the_driver_the_message_names_the_extra(tmp_path):
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from mockserver.cli import main\n"
        "main(['--store', 'postgresql://x@127.0.0.1:1/db', '--port', '0'])\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert 'pip install "image-api-contracts[postgresql]"' in run.stderr


def test_the_conformance_suite_passes_all_five_apis_through_a_round_robin_proxy(mocks, tmp_path):
    servers = mocks(2)
    proxy = round_robin_proxy([s.url for s in servers])
    try:
        workers = {httpx.get(proxy.url + "/", timeout=10).headers["x-mock-worker"] for _ in range(4)}
        assert len(workers) == 2  # requests really alternate between the processes
        for api in APIS:
            report = tmp_path / f"{api}.json"
            run = subprocess.run(
                [
                    sys.executable, "-m", "conformance", "--api", api,
                    "--base-url", f"{proxy.url}/{api}{APIS[api].server_path}",
                    "--seed", "1", "--max-examples", "3", "--report", str(report),
                ],
                capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
            verdicts = {r["id"]: r["status"] for r in json.loads(report.read_text())["rules"]}
            assert not [rule for rule, status in verdicts.items() if status in ("fail", "warn")], (
                api,
                run.stdout[-3000:],
            )
    finally:
        proxy.stop()


def test_workers_on_one_host_share_the_database_too(mocks):
    (server,) = mocks(1, "--workers", "2")
    workers, names = set(), []
    for n in range(40):
        if len(workers) == 2 and n >= 10:
            break
        with httpx.Client(timeout=30) as c:  # a connection each: successive requests reach either worker
            created = c.post(server.url + TAGGED + "/tags", json={"name": f"w{n}"})
        assert created.status_code == 201, created.text
        workers.add(created.headers["x-mock-worker"])
        names.append(f"w{n}")
    assert len(workers) == 2
    listed = httpx.get(server.url + TAGGED + "/tags", params={"limit": 100}, timeout=30).json()["results"]
    assert sorted(t["name"] for t in listed) == sorted(names)


def test_the_dashboard_of_any_replica_shows_and_deletes_every_replicas_records(mocks):
    """The gallery, its delete, the journal's pages and its feed read the database, not one process."""
    one, other = mocks(2)
    up = upload(one.url, 1, tag="dash")
    assert up.status_code == 201, up.text
    image_id = up.json()["id"]
    items = httpx.get(other.url + "/__mock__/ui/api/records", timeout=30).json()["apis"]["tagged-images"]
    assert [item["id"] for item in items["items"]] == [str(image_id)]
    page = httpx.get(other.url + "/__mock__/requests", params={"limit": 1}, timeout=30).json()
    newest = [(e["method"], e["path"], e["headers"]["host"]) for e in page["requests"]]
    assert newest == [("POST", f"{TAGGED}/upload", f"127.0.0.1:{one.port}")]  # the other replica's
    deleted = httpx.delete(f"{other.url}/__mock__/ui/api/records/tagged-images/{image_id}", timeout=30)
    assert deleted.status_code == 204, deleted.text
    assert httpx.get(f"{one.url}{TAGGED}/images/{image_id}", timeout=30).status_code == 404
    feed_url = other.url + "/__mock__/requests/feed"
    with httpx.stream("GET", feed_url, params={"method": "PUT"}, timeout=30) as feed:
        lines = feed.iter_lines()
        assert next(lines).startswith("retry:")
        refused = httpx.put(f"{one.url}/__mock__/files/tagged-images/nowhere")
        assert refused.status_code in (400, 401, 403, 404)
        event = next(line for line in lines if line.startswith("data:"))
    assert json.loads(event[len("data:") :])["path"] == "/__mock__/files/tagged-images/nowhere"
