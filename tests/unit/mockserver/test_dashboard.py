"""What the dashboard needs from the mock, without a browser: the journal in pages (``limit``, a
cursor), its push feed (server-sent events, resumable, filtered, costing the APIs nothing while none is
open), the safety rules on the dashboard's routes, and a prompt stop with a feed open."""

from __future__ import annotations

import json
import signal
import threading
import time

import httpx
import pytest
from support.mock_process import MockProcess

from image_api_contracts import FIXTURES_DIR
from mockserver.dashboard.routes import CONTENT_SECURITY_POLICY
from mockserver.state.context import MockContext
from mockserver.state.fixtures import load_seed_data
from mockserver.state.settings import Settings

BROKEN = "/tagged-images/v1/images?page=first"  # refused by the spec: verdict "broken"
HONOURED = "/tagged-images/v1/images"


def send(client, count: int, path: str = HONOURED) -> None:
    for _ in range(count):
        client.get(path)


def walk(client, **query) -> tuple[list[int], int]:
    """Every page from the newest back; the ids in journal order, and how many pages it took."""
    ids, pages, cursor = [], 0, None
    while True:
        params = {**query, **({"cursor": cursor} if cursor else {})}
        body = client.get("/__mock__/requests", params=params).json()
        pages += 1
        ids = [entry["id"] for entry in body["requests"]] + ids
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, pages


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_pages_walk_the_whole_journal_newest_first_each_in_journal_order(make_client, tmp_path, store):
    client = make_client(**({"state_dir": tmp_path} if store == "sqlite" else {}))
    send(client, 4)
    send(client, 3, BROKEN)
    send(client, 3)
    everything = [entry["id"] for entry in client.get("/__mock__/requests").json()["requests"]]
    assert len(everything) == 10
    first = client.get("/__mock__/requests", params={"limit": 4}).json()
    assert [e["id"] for e in first["requests"]] == everything[-4:]  # the newest four, oldest first
    assert first["next_cursor"] == str(everything[-4])
    assert walk(client, limit=4) == (everything, 3)
    assert walk(client, limit=10) == (everything, 1)
    assert walk(client, limit=1) == (everything, 10)
    broken, pages = walk(client, limit=2, verdict="broken")  # filters apply before the page is cut
    assert len(broken) == 3 and pages == 2
    assert (
        client.get("/__mock__/requests", params={"limit": 2, "verdict": "broken"}).json()["requests"][0][
            "contract"
        ]["verdict"]
        == "broken"
    )


def test_the_unpaged_answer_is_unchanged_and_bad_pages_are_refused_with_a_reason(make_client):
    client = make_client()
    send(client, 2)
    assert set(client.get("/__mock__/requests").json()) == {"journal_size", "requests"}
    for query, words in [
        ({"limit": "0"}, "limit must be a whole number from 1 to 1000"),
        ({"limit": "1001"}, "limit must be"),
        ({"limit": "ten"}, "limit must be"),
        ({"limit": "5", "cursor": "abc"}, "cursor must be the next_cursor of an earlier page"),
    ]:
        answer = client.get("/__mock__/requests", params=query)
        assert answer.status_code == 400 and words in answer.text, (query, answer.text)
    assert client.get("/__mock__/requests", params={"cursor": "2"}).json()["requests"][-1]["id"] == 1


def read_events(response, count: int) -> list[dict]:
    """The next ``count`` request events of an open feed."""
    events, lines = [], response.iter_lines()
    current: dict = {}
    for line in lines:
        if line.startswith("id: "):
            current["id"] = int(line[4:])
        elif line.startswith("data: "):
            current["entry"] = json.loads(line[6:])
        elif line == "" and current:
            events.append(current)
            current = {}
            if len(events) == count:
                return events
    raise AssertionError(f"the feed ended after {events}")


def test_the_feed_pushes_new_entries_filtered_and_resumes_from_last_event_id(live_mock):
    live_mock.reset()
    journal = live_mock.app.ctx.journal
    assert journal.watchers == []  # no feed open: the request path calls nothing
    with httpx.Client(base_url=live_mock.url, timeout=10) as client:
        send(client, 1)
        with client.stream("GET", "/__mock__/requests/feed", params={"verdict": "broken"}) as feed:
            assert feed.headers["content-type"].startswith("text/event-stream")
            assert len(journal.watchers) == 1
            send(client, 1)
            send(client, 1, BROKEN)
            send(client, 1)
            send(client, 1, BROKEN)
            events = read_events(feed, 2)
        assert [e["entry"]["contract"]["verdict"] for e in events] == ["broken", "broken"]
        assert [e["entry"]["query"] for e in events] == [{"page": ["first"]}] * 2
        assert all(e["id"] == e["entry"]["id"] for e in events)
        # A reconnecting client names the last event it saw and gets what it missed.
        with client.stream(
            "GET", "/__mock__/requests/feed", headers={"Last-Event-ID": str(events[0]["id"])}
        ) as feed:
            resumed = read_events(feed, 2)
        assert [e["id"] for e in resumed] == [events[0]["id"] + 1, events[0]["id"] + 2]
        refused = client.get("/__mock__/requests/feed", params={"since": "yesterday"})
        assert refused.status_code == 400 and "since must be an entry id" in refused.text
    deadline = time.monotonic() + 5
    while journal.watchers and time.monotonic() < deadline:  # closed feeds unsubscribe
        time.sleep(0.05)
    assert journal.watchers == []


def test_the_dashboard_is_served_under_a_strict_policy_and_only_to_its_own_origin(make_client):
    client = make_client(public_url="http://localhost:8000")
    page = client.get("/__mock__/ui/", headers={"Host": "localhost:8000"})
    assert page.status_code == 200 and page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "<script>" not in page.text and 'src="/__mock__/ui/static/dashboard.js"' in page.text
    assert "cdn" not in page.text.lower() and "http" not in page.text.replace("http-equiv", "")
    for asset in ("dashboard.js", "dashboard.css", "favicon.svg"):
        assert client.get(f"/__mock__/ui/static/{asset}").status_code == 200
    assert client.get("/__mock__/ui/static/../journal.py").status_code == 404
    assert "/__mock__/ui/" in client.get("/").text  # linked from the index page
    hostile = client.get("/__mock__/ui/api/records", headers={"Origin": "https://evil.test"})
    assert hostile.status_code == 403
    created = client.post(
        "/everydaypic/v1/image",
        files={"file": ("a.png", _png(), "image/png")},
        data={"fileName": "a.png", "name": "a"},
    )
    image_id = created.json()[0]["id"]
    delete = f"/__mock__/ui/api/records/everydaypic/{image_id}"
    # A loopback origin may drive the APIs (a dev server's page), not the dashboard's controls.
    other = client.delete(delete, headers={"Origin": "http://localhost:5173"})
    assert other.status_code == 403 and "dashboard's own origin" in other.text
    assert client.delete(delete, headers={"Origin": "http://localhost:8000"}).status_code == 204
    assert client.get("/__mock__/state").json()["apis"]["everydaypic"]["images"] == []
    assert client.delete(delete).status_code == 404


def test_with_a_control_token_the_page_loads_and_its_data_needs_the_token(make_client):
    client = make_client(control_token="s3cret")
    assert client.get("/__mock__/ui/").status_code == 200
    assert client.get("/__mock__/ui/static/dashboard.js").status_code == 200
    assert client.get("/__mock__/ui/api/records").status_code == 401
    assert client.get("/__mock__/requests/feed").status_code == 401
    assert client.get("/__mock__/ui/api/records", headers={"X-Mock-Token": "s3cret"}).status_code == 200


def _png() -> bytes:
    from support.images import image_bytes

    return image_bytes()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_mock_stops_promptly_with_a_feed_open(tmp_path, stop):
    server = MockProcess(log_dir=tmp_path)
    opened, ended = threading.Event(), threading.Event()

    def follow():
        try:
            with httpx.stream("GET", f"{server.url}/__mock__/requests/feed", timeout=30) as feed:
                opened.set()
                for _ in feed.iter_bytes():
                    pass
        except httpx.HTTPError:
            pass
        finally:
            ended.set()

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    try:
        assert opened.wait(10)
        time.sleep(0.2)
        started = time.monotonic()
        server.proc.send_signal(stop)
        server.proc.wait(timeout=10)
        stopped_in = time.monotonic() - started
    finally:
        server.kill() if server.proc.poll() is None else None
    assert stopped_in < 3, f"the mock took {stopped_in:.1f} s to stop: {server.output()}"
    assert ended.wait(5)
    assert f"{server.url}/__mock__/ui/" in server.output()  # the dashboard's address, printed at start-up


def test_a_mock_served_from_a_thread_stops_promptly_with_a_feed_open():
    from mockserver.testing import BackgroundMock

    mock = BackgroundMock().start()
    opened = threading.Event()

    def follow():
        try:
            with httpx.stream("GET", f"{mock.url}/__mock__/requests/feed", timeout=30) as feed:
                opened.set()
                for _ in feed.iter_bytes():
                    pass
        except httpx.HTTPError:
            pass

    threading.Thread(target=follow, daemon=True).start()
    assert opened.wait(10)
    started = time.monotonic()
    mock.stop()
    assert time.monotonic() - started < 3


def test_a_dashboard_delete_under_a_state_dir_is_committed_for_every_process(make_client, tmp_path):
    one, two = make_client(state_dir=tmp_path), make_client(state_dir=tmp_path)
    form, files = {"fileName": "a.png", "name": "a"}, {"file": ("a.png", _png(), "image/png")}
    ids = [one.post("/everydaypic/v1/image", files=files, data=form).json()[0]["id"] for _ in range(2)]
    assert two.get("/__mock__/ui/api/records").json()["apis"]["everydaypic"]["count"] == 2
    assert one.delete(f"/__mock__/ui/api/records/everydaypic/{ids[0]}").status_code == 204
    for client in (two, make_client(state_dir=tmp_path)):  # another process, and one opened afterwards
        items = client.get("/__mock__/ui/api/records").json()["apis"]["everydaypic"]["items"]
        assert [item["id"] for item in items] == [ids[1]]
        assert client.get(f"/__mock__/ui/api/images/everydaypic/{ids[0]}").status_code == 404


def test_the_shared_journal_is_read_newest_first_in_chunks_up_to_its_size(tmp_path):
    import orjson

    from mockserver.layers.journal import SqliteJournal

    journal = SqliteJournal(8, tmp_path)
    for n in range(10):  # two more than it keeps: trimming is occasional, reading is bounded
        journal.db.execute("INSERT INTO journal (json) VALUES (?)", (orjson.dumps({"n": n}),))
    assert [e["id"] for e in journal.newest_first(chunk=3)] == [10, 9, 8, 7, 6, 5, 4, 3]
    assert [e["n"] for e in journal.newest_first(before=5, chunk=3)] == [3, 2, 1, 0]
    assert [e["id"] for e in journal.newest_first(chunk=3)] == [e["id"] for e in reversed(journal.entries())]


def _grown(state: dict, kind, copies: int) -> dict:
    """The state with each record repeated ``copies`` times under new ids (in more than one group where the
    API groups its records), so that the gallery's cut falls inside it."""

    def copied(records: list[dict]) -> list[dict]:
        grown = []
        for n in range(copies):
            for record in records:
                old_id = record[kind.id_field]
                new_id = old_id + 1000 * (n + 1) if isinstance(old_id, int) else f"{old_id}-{n}"
                grown.append({**record, kind.id_field: new_id})
        return grown

    if kind.grouped_by:
        groups = state[kind.grouped_by]
        first = next(iter(groups.values()))
        return {**state, kind.grouped_by: {f"album-{g}": copied(first) for g in range(3)}}
    return {**state, "images": copied(state["images"])}


def test_the_gallery_reads_the_newest_records_without_a_dump_and_sees_what_a_dump_lists():
    """The gallery reloads after every write it sees; ``StoredRecords.newest`` reads the newest records
    from the handler's own container, never the whole ``dump()``, and gives exactly the tail of it."""
    ctx = MockContext(Settings())
    load_seed_data(ctx, FIXTURES_DIR)
    for api, handler in ctx.apis.items():
        kind = handler.stored_records
        assert kind.container is not None, f"{api}'s gallery would dump the whole store on every reload"
        handler.restore(_grown(handler.dump(), kind, 90))
        records = kind.records(handler.dump())
        assert len(records) > 200, api
        handler.dump = None  # newest() must not call it
        for limit in (0, 1, 7, 200, len(records) + 5):
            count, shown = kind.newest(handler, limit)
            assert count == len(records), api
            assert shown == (records[-limit:] if limit else []), (api, limit)
