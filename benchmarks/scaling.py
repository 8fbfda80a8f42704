"""What one request costs as the store grows: list, search, get, upload and delete, per API, at 100,
10,000 and 100,000 records, and what a record costs in memory: ``python benchmarks/scaling.py`` (scaling.md).

Each store is filled through the handlers' own code paths (the image check answered from a cache, so that a
100,000-record fill takes seconds), then every request goes through the whole ASGI app as built by
``create_app`` (guard, journal, reply cache, Connexion, validation, the atomic layer), called in process
one at a time: the cost measured is the mock's, without a socket or a load generator's share, which do
not depend on the store's size. Reads are made reply-cache misses (a distinct ignored query parameter,
as ``run.py`` does). Each figure is the median of ``--rounds`` rounds (p50, p95, p99 of each round).
Every loop is bounded: ``--requests`` per operation and round, fewer for listings of the whole store.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from image_api_contracts import auth_headers  # noqa: E402
from image_api_contracts.devtokens import DEV_ALBUM  # noqa: E402
from mockserver.app import create_app  # noqa: E402
from mockserver.images import inspect_image  # noqa: E402
from mockserver.request_state import CURRENT_SCOPE, ORIGIN  # noqa: E402
from mockserver.state.undo import note_rebinding  # noqa: E402

SIZES = (100, 10_000, 100_000)
HOST = b"127.0.0.1:8000"
BOUNDARY = "scalingboundary7MA4YWxkTrZu0gW"
WHOLE_STORE_LISTING_BUDGET = 40_000_000  # bytes a whole-store listing may send per round (bounds its count)


def png(width: int, height: int, color=(10, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def multipart(fields: dict[str, str], file_field: str, data: bytes) -> tuple[bytes, str]:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{file_field}"; filename="a.png"\r\n'
        f"Content-Type: image/png\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode(), f"multipart/form-data; boundary={BOUNDARY}"


@dataclass
class Call:
    """One request through the app: its answer's status and body."""

    app: Callable
    counter: list = field(default_factory=lambda: [0])

    async def __call__(
        self,
        method: str,
        path: str,
        headers: dict | None = None,
        body: bytes = b"",
        query: str = "",
        miss: bool = True,
    ) -> tuple[int, bytes]:
        self.counter[0] += 1
        if miss and method == "GET":
            query = f"{query}&uncached={self.counter[0]}" if query else f"uncached={self.counter[0]}"
        raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        raw += [(b"host", HOST), (b"content-length", str(len(body)).encode())]
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": raw,
            "scheme": "http",
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 50000),
            "http_version": "1.1",
            "root_path": "",
            "asgi": {"version": "3.0"},
        }
        sent = False
        status, chunks = 0, []

        async def receive():
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)


# -- filling a store through the handlers ------------------------------------------------------------
class FactsCache:
    """The handlers' image check, answered from a cache while a store is filled (the same few images)."""

    def __init__(self, api):
        self.api, self.known = api, {}

    def __enter__(self):
        self.api.image_facts = lambda data: (
            self.known.get(data) or self.known.setdefault(data, inspect_image(data))
        )

    def __exit__(self, *exc):
        del self.api.image_facts


def fill(ctx, name: str, count: int) -> None:
    api = ctx.apis[name]
    small, product = png(8, 8), png(300, 300)
    with FactsCache(api):
        for i in range(count):
            if name == "evotor":
                api.create_record(product, "store", f"p{i}", "token")
            elif name == "image-upload":
                api.store_upload(small, f"photo-{i}.png", "image/png")
            elif name == "everydaypic":
                api.create_record(small, f"photo-{i}.png", f"photo {i}")
            elif name == "tagged-images":
                api._create_uploaded(f"photo-{i}.png", small, [f"tag-{i % 100}", "all"])
            elif name == "sharinpix":
                api.create_record(
                    DEV_ALBUM,
                    {
                        "cloudinary": {
                            "public_id": f"p{i}",
                            "width": "8",
                            "height": "8",
                            "format": "png",
                            "bytes": "70",
                        }
                    },
                )


async def store_fill(app, name: str) -> None:
    """Commit what :func:`fill` made through the store's own write path, as one write that replaced the
    API's records (a fixture load's or a reset's: every row and file stored); then the connections this
    loop opened are dropped (the requests run on another loop)."""
    state, api = app.durable, app.ctx.apis[name]
    await state.begin((name,))
    container = next(attr for attr, value in vars(api).items() if isinstance(value, dict))
    note_rebinding(api.undo, api, container)  # "replaced whole": the commit writes every row
    await state.commit((name,))
    if hasattr(state, "drop_connections"):
        await state.drop_connections()


# -- the operations, per API ----------------------------------------------------------------------
@dataclass
class Operation:
    kind: str  # list, search, get, upload, delete
    what: str  # the request, as a reader would write it
    request: Callable  # (call, i) -> awaitable (status, body)
    whole_store: bool = False  # a listing of every record: fewer requests at large sizes


def operations(ctx, name: str) -> list[Operation]:
    api = ctx.apis[name]
    auth = auth_headers(name)
    if name == "evotor":
        body, ctype = multipart({}, "datafile", png(300, 300))
        ids = list(api.images)
        products = {image_id: api.images[image_id].product_id for image_id in ids}
        up = {**auth, "Content-Type": ctype}
        return [
            Operation(
                "list",
                "GET a product's images",
                lambda c, i: c("GET", "/stores/store/products/p1/images", auth),
            ),
            Operation(
                "get",
                "GET one image",
                lambda c, i: c(
                    "GET", f"/stores/store/products/{products[ids[i % 50]]}/images/{ids[i % 50]}", auth
                ),
            ),
            Operation(
                "upload",
                "POST a 300x300 PNG",
                lambda c, i: c(
                    "POST", f"/stores/store/products/new-{i}-{time.monotonic_ns()}/images", up, body
                ),
            ),
            Operation(
                "delete",
                "DELETE an image",
                lambda c, i: c(
                    "DELETE", f"/stores/store/products/{products[ids[-1 - i]]}/images/{ids[-1 - i]}", auth
                ),
            ),
        ]
    if name == "image-upload":
        body, ctype = multipart({}, "file", png(8, 8))
        names = list(api.images)
        return [
            Operation(
                "list",
                "GET /GetAllImages (the whole store)",
                lambda c, i: c("GET", "/GetAllImages", auth),
                whole_store=True,
            ),
            Operation(
                "upload",
                "POST /UploadImage",
                lambda c, i: c("POST", "/UploadImage", {**auth, "Content-Type": ctype}, body),
            ),
            Operation(
                "delete",
                "DELETE /DeleteImage",
                lambda c, i: c("DELETE", "/DeleteImage", auth, query=f"FileName={names[-1 - i]}"),
            ),
        ]
    if name == "everydaypic":
        body, ctype = multipart({"fileName": "a.png", "name": "a"}, "file", png(8, 8))
        ids = list(api.images)
        return [
            Operation(
                "list",
                "GET /v1/image/info (the whole store)",
                lambda c, i: c("GET", "/v1/image/info"),
                whole_store=True,
            ),
            Operation(
                "search",
                "GET /v1/image/info?id=… (one id)",
                lambda c, i: c("GET", "/v1/image/info", query=f"id={ids[i % 50]}"),
            ),
            Operation(
                "get", "GET /v1/image/{id} (download)", lambda c, i: c("GET", f"/v1/image/{ids[i % 50]}")
            ),
            Operation(
                "upload", "POST /v1/image", lambda c, i: c("POST", "/v1/image", {"Content-Type": ctype}, body)
            ),
        ]
    if name == "tagged-images":
        data = base64.b64encode(png(8, 8)).decode()
        upload = json.dumps({"filename": "a.png", "image_data": data, "tags": ["new", "all"]}).encode()
        ids = list(api.images)
        jsonh = {"Content-Type": "application/json"}
        return [
            Operation(
                "list", "GET /v1/images?limit=20", lambda c, i: c("GET", "/v1/images", query="limit=20")
            ),
            Operation(
                "search",
                "GET /v1/search/images?exact_tags=tag-7&match_tags=tag-%25",
                lambda c, i: c(
                    "GET", "/v1/search/images", query="exact_tags=tag-7&match_tags=tag-%25&limit=20"
                ),
            ),
            Operation("get", "GET /v1/images/{id}", lambda c, i: c("GET", f"/v1/images/{ids[i % 50]}")),
            Operation(
                "upload",
                "POST /v1/upload (base64 PNG, 2 tags)",
                lambda c, i: c("POST", "/v1/upload", jsonh, upload),
            ),
            Operation(
                "delete", "DELETE /v1/images/{id}", lambda c, i: c("DELETE", f"/v1/images/{ids[-1 - i]}")
            ),
        ]
    if name == "sharinpix":
        form = (
            b"cloudinary[public_id]=6f1c9b1e&cloudinary[width]=8&cloudinary[height]=8&cloudinary[format]=png"
        )
        headers = {**auth, "Content-Type": "application/x-www-form-urlencoded"}
        return [
            Operation(
                "upload",
                "POST an album image",
                lambda c, i: c("POST", f"/api/v1/albums/{DEV_ALBUM}/images/", headers, form),
            ),
        ]
    raise ValueError(name)


# -- measuring --------------------------------------------------------------------------------
def percentiles(times: list[float]) -> dict:
    ordered = sorted(times)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "n": len(ordered)}


async def measure(call: Call, op: Operation, count: int, start: int) -> dict:
    """Wall time per request (its percentiles) and the process's CPU time per request (the mean): under
    the durable stores a write's wall time includes waits that are not the mock's work (SQLite's fsyncs
    on the disk, PostgreSQL's answer), which vary with the disk and the machine, not with the store."""
    times = []
    cpu_began = time.process_time()
    for i in range(start, start + count):
        began = time.perf_counter()
        status, _ = await op.request(call, i)
        times.append(time.perf_counter() - began)
        if status >= 300 and not (op.kind == "delete" and status == 404):
            raise RuntimeError(f"{op.what}: {status}")
    return {**percentiles(times), "cpu_us": (time.process_time() - cpu_began) / max(count, 1) * 1e6}


def run_size(name: str, size: int, args, state_dir: str | None, store: str | None = None) -> dict:
    settings = {"apis": (name,), "prefixed": False, "allow_hosts": ("127.0.0.1:8000",)}
    if not args.journal:
        settings["journal_size"] = 0
    if state_dir:
        settings["state_dir"] = state_dir
    if store:
        settings["store"] = store
    load_at_start = os.getloadavg()[0]  # the machine is shared: how busy it was is part of the figure
    app = create_app(**settings)
    ctx = app.ctx
    # As the server process does at start-up: what the app is built from (Connexion builds its stack on
    # the first request) is frozen out of the garbage collector's walk; the records added later are not.
    asyncio.run(Call(app)("GET", "/no-such-path", miss=False))
    gc.collect()
    gc.freeze()
    # What a record holds in memory (its file's bytes excepted: the fill shares one image): every
    # allocation traced from the empty store to the filled one, its listing encoded once (as a read would).
    gc.collect()
    tracemalloc.start()
    empty = tracemalloc.get_traced_memory()[0]
    fill(ctx, name, size)
    if name in ("image-upload", "tagged-images"):  # the APIs that keep their records encoded
        origin = "http://127.0.0.1:8000"
        token = CURRENT_SCOPE.set({ORIGIN: origin, "headers": []})
        if name == "image-upload":  # GetAllImages: every record encoded, and the origin's listing view
            asyncio.run(ctx.apis[name].get_all_images())
        else:
            for record in list(ctx.apis[name].images.values()):
                ctx.apis[name].encoded_record(record, origin, int(time.time()))
        CURRENT_SCOPE.reset(token)
    if app.durable is not None:  # under --state-dir and --store the fill is stored as a reset's would be
        # Traced too: what the durable store keeps in Python per record after its commit counts; the rows
        # it encoded are garbage then (collected below, before the figures, not during them).
        asyncio.run(store_fill(app, name))
    gc.collect()
    memory = (tracemalloc.get_traced_memory()[0] - empty) / max(size, 1)
    tracemalloc.stop()
    stored = stored_bytes(state_dir, store) / max(size, 1) if app.durable is not None else None
    if store:
        settled(store)
    call = Call(app)
    ops = operations(ctx, name)
    results: dict[str, dict] = {}

    async def rounds():
        for op in ops:
            offset = 0  # each operation's own requests: a delete takes the store's last records in turn
            count = args.requests
            if op.whole_store:
                per = max(1, size * 400)  # bytes a listing of the store sends, about
                count = max(3, min(args.requests, WHOLE_STORE_LISTING_BUDGET // per))
            if op.kind == "delete":
                count = min(count, max(1, size // (2 * args.rounds)))
            measured = []
            for _ in range(args.rounds):
                status, answer = await op.request(call, offset)  # a warm-up, outside the figures
                if status >= 300:
                    raise RuntimeError(f"{name} {op.what}: {status} {answer[:300]!r}")
                measured.append(await measure(call, op, count, offset + 1))
                offset += count + 1
            results[op.kind] = {
                "what": op.what,
                **{q: statistics.median(m[q] for m in measured) for q in ("p50", "p95", "p99", "cpu_us")},
                "n": sum(m["n"] for m in measured),
            }

    asyncio.run(rounds())
    gc.unfreeze()
    return {
        "api": name,
        "records": size,
        "bytes_per_record": memory,
        "stored_bytes_per_record": stored,
        "load_average": [load_at_start, os.getloadavg()[0]],
        "ops": results,
    }


def settled(store: str) -> None:
    """The scratch database vacuumed and analysed after its fill, as autovacuum leaves a store that has been
    serving for a while: measured straight after loading 100,000 rows, the requests shared the machine's
    two cores with autovacuum's pass over them (0.2 ms more per read at 100,000 records, none of it the
    mock's CPU)."""
    import psycopg

    with psycopg.connect(store, autocommit=True) as db:
        db.execute("VACUUM (ANALYZE)")


RECORD_TABLES_SQLITE = ("records", "records_version", "records_seq", "records_tombstones")


def stored_bytes(state_dir: str | None, store: str | None) -> int:
    """What the records' rows take in the durable store: the ``records`` table with its indexes (pages
    in use and free space within them; the files' bytes, kept apart, excluded). SQLite: its pages
    (``dbstat``, read through the WAL); PostgreSQL: ``pg_total_relation_size`` (heap, TOAST, indexes)."""
    if store:
        import psycopg

        with psycopg.connect(store, autocommit=True) as db:
            db.execute("VACUUM ANALYZE records")  # the visibility map settled; dead tuples are none here
            return db.execute("SELECT pg_total_relation_size('records')").fetchone()[0]
    import sqlite3

    from mockserver.state.durable import DB_FILE

    with contextlib.closing(sqlite3.connect(Path(state_dir) / DB_FILE)) as db:
        names = (*RECORD_TABLES_SQLITE, "sqlite_autoindex_records_1")
        marks = ",".join("?" * len(names))
        return db.execute(f"SELECT sum(pgsize) FROM dbstat WHERE name IN ({marks})", names).fetchone()[0]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, {platform.platform()}, Python {platform.python_version()}"


def table(results: list[dict]) -> str:
    lines = [
        "| API | operation | request | "
        + " | ".join(f"{n:,} records p50 / p95 / p99 (ms)" for n in SIZES_SEEN)
        + f" | p50 {SIZES_SEEN[-1]:,} / {SIZES_SEEN[0]:,} | CPU µs a request, "
        + " / ".join(f"{n:,}" for n in SIZES_SEEN)
        + f" | CPU {SIZES_SEEN[-1]:,} / {SIZES_SEEN[0]:,} |",
        "|---|---|---|" + "---|" * len(SIZES_SEEN) + "---|---|---|",
    ]
    by_api: dict[str, dict[int, dict]] = {}
    for r in results:
        by_api.setdefault(r["api"], {})[r["records"]] = r
    for api, sizes in by_api.items():
        kinds = list(next(iter(sizes.values()))["ops"])
        for kind in kinds:
            cells, first = [], None
            for n in SIZES_SEEN:
                op = sizes.get(n, {}).get("ops", {}).get(kind)
                cells.append(f"{op['p50']:.3f} / {op['p95']:.3f} / {op['p99']:.3f}" if op else "—")
            low, high = sizes.get(SIZES_SEEN[0]), sizes.get(SIZES_SEEN[-1])
            ratio = (high["ops"][kind]["p50"] / low["ops"][kind]["p50"]) if low and high else None
            cpu = [sizes.get(n, {}).get("ops", {}).get(kind, {}).get("cpu_us") for n in SIZES_SEEN]
            cpu_ratio = cpu[-1] / cpu[0] if cpu[0] and cpu[-1] else None
            first = next(iter(sizes.values()))["ops"][kind]["what"]
            lines.append(
                f"| {api} | {kind} | {first} | "
                + " | ".join(cells)
                + (f" | {ratio:.2f}x | " if ratio else " | — | ")
                + " / ".join(f"{c:.0f}" if c is not None else "—" for c in cpu)
                + (f" | {cpu_ratio:.2f}x |" if cpu_ratio else " | — |")
            )
    lines += [
        "",
        "| API | " + " | ".join(f"bytes a record, {n:,}" for n in SIZES_SEEN) + " |",
        "|---|" + "---|" * len(SIZES_SEEN),
    ]
    for api, sizes in by_api.items():
        lines.append(
            f"| {api} | "
            + " | ".join(f"{sizes[n]['bytes_per_record']:.0f}" if n in sizes else "—" for n in SIZES_SEEN)
            + " |"
        )
    if any(r.get("stored_bytes_per_record") is not None for r in results):
        lines += [
            "",
            "| API | " + " | ".join(f"stored bytes a record, {n:,}" for n in SIZES_SEEN) + " |",
            "|---|" + "---|" * len(SIZES_SEEN),
        ]
        for api, sizes in by_api.items():
            cells = [
                f"{sizes[n]['stored_bytes_per_record']:.0f}"
                if n in sizes and sizes[n].get("stored_bytes_per_record") is not None
                else "—"
                for n in SIZES_SEEN
            ]
            lines.append(f"| {api} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


SIZES_SEEN: tuple[int, ...] = SIZES


@contextlib.contextmanager
def scratch_database(server: str | None):
    """A new, empty database on the PostgreSQL server at ``server`` (None: none), dropped afterwards
    with whatever connections the run left open."""
    if not server:
        yield None
        return
    import psycopg

    name = f"scaling_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(server)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def main(argv=None) -> int:
    global SIZES_SEEN
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="records per API, comma-separated")
    parser.add_argument("--api", action="append", help="only this API (repeatable)")
    parser.add_argument("--requests", type=int, default=300, help="requests per operation and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-journal", dest="journal", action="store_false", help="the request journal off")
    parser.add_argument("--state-dir", action="store_true", help="under --state-dir (a fresh temporary one)")
    parser.add_argument(
        "--store",
        metavar="URL",
        help="under --store: a PostgreSQL server where a new database is made (and dropped) per API and size",
    )
    parser.add_argument("--output", help="write the table (markdown) and the figures (.json beside it)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke mode: 100 and 1,000 records, few requests"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.requests, args.rounds = "100,1000", 20, 1
    SIZES_SEEN = tuple(int(s) for s in args.sizes.split(","))
    names = args.api or ["evotor", "image-upload", "everydaypic", "tagged-images", "sharinpix"]
    results = []
    for name in names:
        for size in SIZES_SEEN:
            with tempfile.TemporaryDirectory(prefix="scaling-") as tmp, scratch_database(args.store) as db:
                result = run_size(name, size, args, tmp if args.state_dir else None, db)
            results.append(result)
            summary = ", ".join(f"{k} {v['p50']:.3f} ms" for k, v in result["ops"].items())
            if result["stored_bytes_per_record"] is not None:
                summary += f"; {result['stored_bytes_per_record']:.0f} B/record stored"
            load = "load average {:.1f} -> {:.1f}".format(*result["load_average"])
            print(
                f"scaling: {name} at {size:,} records: {summary}; {result['bytes_per_record']:.0f} B/record"
                f" ({load})",
                file=sys.stderr,
                flush=True,
            )
    store = "--store (PostgreSQL)" if args.store else "--state-dir (SQLite)" if args.state_dir else "memory"
    header = (
        f"Machine: {machine()}.\n"
        f"Load: in-process ASGI calls, one at a time (concurrency 1), every read a reply-cache miss; "
        f"{args.requests} requests per operation and round, {args.rounds} round(s), medians of the rounds' "
        f"percentiles. Journal {'on' if args.journal else 'off'}; store: "
        f"{store}.\n"
        f"Load average (1 min) at the start and end of each API and size: "
        + ", ".join(
            "{} {:,} {:.1f}-{:.1f}".format(r["api"], r["records"], *r["load_average"]) for r in results
        )
        + ".\n"
        f"Command: `python benchmarks/scaling.py {' '.join(argv if argv is not None else sys.argv[1:])}`\n"
    )
    text = header + "\n" + table(results) + "\n"
    print(text)
    if args.output:
        Path(args.output).write_text(text)
        Path(args.output).with_suffix(".json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
