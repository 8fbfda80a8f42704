"""Load and concurrency against a mockserver subprocess on 127.0.0.1.

Sixteen clients, each on its own thread and connection, mix uploads (distinct random images, so
incompressible and never equal), lists, searches, downloads and deletes on everydaypic, evotor and
tagged-images, under a storage quota the uploads overrun. Every acknowledged upload and delete is
recorded; afterwards the store must hold exactly the acknowledged, undeleted uploads, byte for byte, with
no id handed out twice, ``stored_bytes`` within the quota and equal to their sizes, the server's peak
memory within the quota plus a fixed allowance, and not one 5xx (507 when full, in the API's format).
"""

from __future__ import annotations

import base64
import io
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
from PIL import Image
from support.api_errors import error_format_problem
from support.mock_process import MockProcess
from support.source_documents import ROOT

from image_api_contracts import auth_headers

CLIENTS = 16
OPS_PER_CLIENT = 50
MiB = 1024 * 1024
MAX_STORE_BYTES = 8 * MiB
MEMORY_ALLOWANCE = 32 * MiB  # request buffers of 16 clients, parsing, allocator slack
TIMEOUT = 30

STORE = "load-store"
EDP = "/everydaypic/v1/image"
TIM = "/tagged-images/v1"
APIS_UNDER_LOAD = ("everydaypic", "evotor", "tagged-images")


def noise_png(width: int, height: int) -> bytes:
    """Random pixels: every image distinct, and as large as its pixels (PNG cannot compress noise)."""
    buf = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buf, "PNG")
    return buf.getvalue()


def rss_bytes(pid: int, field_name: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of a process, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"{field_name} not in /proc/{pid}/status")


@pytest.fixture(scope="module")
def mock_process(tmp_path_factory):
    """``python -m mockserver --max-store-bytes`` on a free port; stopped (and reaped) afterwards."""
    server = MockProcess(
        "--max-store-bytes", str(MAX_STORE_BYTES), log_dir=tmp_path_factory.mktemp("load"), cwd=ROOT
    )
    try:
        yield server.proc, server.url
    finally:
        server.stop()


# -- what the clients saw ---------------------------------------------------------------------------------
@dataclass
class Upload:
    api: str
    id: str
    data: bytes
    product: str = ""  # evotor: the product the image belongs to


@dataclass
class Ledger:
    """Everything the server acknowledged, shared by the client threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    live: dict[tuple[str, str], Upload] = field(default_factory=dict)
    deleted: dict[tuple[str, str], Upload] = field(default_factory=dict)
    ids_handed_out: list[tuple[str, str]] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)  # (operation, status)
    problems: list[str] = field(default_factory=list)
    bytes_sent: int = 0  # image bytes of every upload attempted

    def sending(self, data: bytes) -> bytes:
        with self.lock:
            self.bytes_sent += len(data)
        return data

    def saw(self, operation: str, api: str, response: httpx.Response, expected: tuple[int, ...]) -> bool:
        """Count the response; anything unexpected, a 5xx but a 507, or a 4xx/507 not in the API's
        format is a problem. True when the status is the first expected one (success)."""
        status = response.status_code
        with self.lock:
            self.statuses[(f"{api} {operation}", status)] += 1
            if status not in expected:
                self.problems.append(f"{api} {operation}: {status} {response.text[:200]}")
            elif status >= 400:
                content_type = response.headers.get("content-type", "")
                problem = error_format_problem(api, status, content_type, response.content)
                if problem:
                    self.problems.append(f"{api} {operation}: {status} {problem}")
        return status == expected[0]

    def acknowledge(self, upload: Upload) -> None:
        with self.lock:
            self.live[(upload.api, upload.id)] = upload
            self.ids_handed_out.append((upload.api, upload.id))

    def forget(self, upload: Upload) -> None:
        with self.lock:
            self.deleted[(upload.api, upload.id)] = self.live.pop((upload.api, upload.id))


class LoadClient:
    """One client: its own connection, random generator and uploads (only it downloads or deletes them)."""

    def __init__(self, number: int, http: httpx.Client, ledger: Ledger):
        self.number = number
        self.rng = random.Random(number)
        self.http = http
        self.ledger = ledger
        self.mine: list[Upload] = []
        self.tag = f"client-{number}"

    def run(self) -> None:
        for step in range(OPS_PER_CLIENT):
            operation = self.rng.choices(
                ["upload", "list", "search", "download", "delete"], weights=[40, 15, 10, 20, 15]
            )[0]
            if operation in ("download", "delete") and not self.mine:
                operation = "upload"
            getattr(self, operation)(step)

    # -- operations --
    def upload(self, step: int) -> None:
        api = self.rng.choice(APIS_UNDER_LOAD)
        if api == "everydaypic":
            data = self.ledger.sending(noise_png(160, 160))
            files = {"file": ("noise.png", data, "image/png")}
            r = self.http.post(
                EDP, files=files, data={"fileName": f"{self.tag}-{step}.png", "name": self.tag}
            )
            if self.ledger.saw("upload", api, r, (200, 507)):
                self.keep(Upload(api, r.json()[0]["id"], data))
        elif api == "evotor":
            data, product = self.ledger.sending(noise_png(300, 300)), f"{self.tag}-{step}"
            r = self.http.post(
                f"/evotor/stores/{STORE}/products/{product}/images",
                files={"datafile": ("noise.png", data, "image/png")},
                headers=auth_headers("evotor"),
            )
            if self.ledger.saw("upload", api, r, (200, 507)):
                self.keep(Upload(api, r.json()["id"], data, product))
        else:
            data = self.ledger.sending(noise_png(96, 96))
            image_data = base64.b64encode(data).decode()
            body = {
                "filename": f"{self.tag}-{step}.png",
                "tags": [self.tag, "load"],
                "image_data": image_data,
            }
            r = self.http.post(f"{TIM}/upload", json=body)
            if self.ledger.saw("upload", api, r, (201, 507)):
                self.keep(Upload(api, str(r.json()["id"]), data))

    def keep(self, upload: Upload) -> None:
        self.mine.append(upload)
        self.ledger.acknowledge(upload)

    def list(self, step: int) -> None:
        api = self.rng.choice(APIS_UNDER_LOAD)
        if api == "everydaypic":
            self.ledger.saw("list", api, self.http.get(f"{EDP}/info"), (200, 404))  # 404: none yet
        elif api == "evotor":
            image = self.rng.choice(
                [u for u in self.mine if u.api == "evotor"] or [Upload(api, "", b"", "none")]
            )
            r = self.http.get(
                f"/evotor/stores/{STORE}/products/{image.product}/images", headers=auth_headers("evotor")
            )
            listed = (
                [item["id"] for item in r.json()["items"]] if self.ledger.saw("list", api, r, (200,)) else []
            )
            if listed != ([image.id] if image.id else []):
                with self.ledger.lock:
                    self.ledger.problems.append(f"evotor product {image.product} lists {listed}")
        else:
            r = self.http.get(f"{TIM}/images", params={"limit": 100, "page": self.rng.randrange(3)})
            self.ledger.saw("list", api, r, (200,))

    def search(self, step: int) -> None:
        params = {"exact_tags": f"{self.tag}|load"} if step % 2 else {"match_tags": "client-%|load"}
        r = self.http.get(f"{TIM}/search/images", params={**params, "limit": 50})
        if self.ledger.saw("search", "tagged-images", r, (200,)):
            mine = {u.id for u in self.mine if u.api == "tagged-images"}
            found = {str(image["id"]) for image in r.json()["results"]}
            if "exact_tags" in params and r.json()["meta"]["total_results"] <= 50 and found != mine:
                with self.ledger.lock:
                    self.ledger.problems.append(f"search for {self.tag}: {sorted(found)} != {sorted(mine)}")

    def download(self, step: int) -> None:
        upload = self.rng.choice(self.mine)
        r = fetch(self.http, upload)
        if self.ledger.saw("download", upload.api, r, (200,)) and r.content != upload.data:
            with self.ledger.lock:
                self.ledger.problems.append(f"{upload.api} {upload.id}: downloaded bytes differ")

    def delete(self, step: int) -> None:
        deletable = [u for u in self.mine if u.api != "everydaypic"]  # everydaypic has no delete
        if not deletable:
            return self.download(step)
        upload = self.rng.choice(deletable)
        r = self.http.delete(image_path(upload), headers=auth_headers(upload.api))
        if self.ledger.saw("delete", upload.api, r, (204,)):
            self.mine.remove(upload)
            self.ledger.forget(upload)


def image_path(upload: Upload) -> str:
    if upload.api == "everydaypic":
        return f"{EDP}/{upload.id}"
    if upload.api == "evotor":
        return f"/evotor/stores/{STORE}/products/{upload.product}/images/{upload.id}"
    return f"{TIM}/images/{upload.id}"


def fetch(http: httpx.Client, upload: Upload) -> httpx.Response:
    """The uploaded bytes as a client gets them: directly (everydaypic) or through the record's URL."""
    if upload.api == "everydaypic":
        return http.get(image_path(upload))
    record = http.get(image_path(upload), headers=auth_headers(upload.api))
    if record.status_code != 200:
        return record
    return http.get(record.json()["url"])


# -- the test ---------------------------------------------------------------------------------------------
def test_parallel_clients_leave_a_consistent_store_within_its_quota(mock_process, record_property):
    process, url = mock_process
    with httpx.Client(base_url=url, timeout=TIMEOUT) as http:
        warm_up = LoadClient(-1, http, Ledger())
        for _ in range(12):  # every upload path runs before the memory baseline is taken
            warm_up.upload(0)
        assert http.post("/__mock__/reset").status_code == 204
        baseline = rss_bytes(process.pid, "VmRSS")

        ledger = Ledger()

        def run_client(number: int) -> None:
            with httpx.Client(base_url=url, timeout=TIMEOUT) as client_http:
                LoadClient(number, client_http, ledger).run()

        threads = [
            threading.Thread(target=run_client, args=(n,), name=f"load-client-{n}") for n in range(CLIENTS)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        duration = time.monotonic() - started
        assert not any(t.is_alive() for t in threads), "a client did not finish in 120 s"
        peak = rss_bytes(process.pid, "VmHWM")

        operations = Counter(operation.split()[1] for operation, _ in ledger.statuses.elements())
        statuses = Counter(status for _, status in ledger.statuses.elements())
        full = statuses.get(507, 0)
        record_property(
            "load",
            f"{CLIENTS} clients, {sum(operations.values())} operations in {duration:.1f} s "
            f"({dict(sorted(operations.items()))}); statuses {dict(sorted(statuses.items()))}; "
            f"{len(ledger.live)} uploads kept, {len(ledger.deleted)} deleted, {full} refused as full; "
            f"server memory +{(peak - baseline) / MiB:.1f} MiB at peak (quota {MAX_STORE_BYTES // MiB} MiB, "
            f"{ledger.bytes_sent / MiB:.1f} MiB of uploads sent)",
        )
        assert not ledger.problems, ledger.problems[:10]
        assert not any(status >= 500 and status != 507 for status in statuses)
        assert full > 0, "the uploads never reached the quota: raise the load or lower MAX_STORE_BYTES"

        # no id handed out twice (tagged-images ids are integers that must never be reused)
        assert len(set(ledger.ids_handed_out)) == len(ledger.ids_handed_out)

        # every acknowledged, undeleted upload is there, byte for byte; no deleted one is
        for upload in ledger.live.values():
            r = fetch(http, upload)
            assert r.status_code == 200 and r.content == upload.data, (upload.api, upload.id, r.status_code)
        for upload in ledger.deleted.values():
            r = http.get(image_path(upload), headers=auth_headers(upload.api))
            assert r.status_code == 404, (upload.api, upload.id, r.status_code)
            if upload.api == "evotor":
                listing = http.get(image_path(upload).rsplit("/", 1)[0], headers=auth_headers("evotor"))
                assert listing.json()["items"] == [], upload.product

        # the listings hold exactly the live uploads
        live_ids = {api: {u.id for u in ledger.live.values() if u.api == api} for api in APIS_UNDER_LOAD}
        listed = http.get(f"{EDP}/info")
        assert {i["id"] for i in (listed.json() if listed.status_code == 200 else [])} == live_ids[
            "everydaypic"
        ]
        tagged: set[str] = set()
        for page in range(len(ledger.ids_handed_out) // 100 + 1):
            body = http.get(f"{TIM}/images", params={"limit": 100, "page": page}).json()
            tagged |= {str(image["id"]) for image in body["results"]}
            if not body["meta"]["has_more_pages"]:
                break
        assert tagged == live_ids["tagged-images"]

        # the quota: stored bytes are exactly the live uploads' and never above it; memory stays bounded
        state = http.get("/__mock__/state").json()
        assert state["stored_files"] == len(ledger.live)
        assert state["stored_bytes"] == sum(len(u.data) for u in ledger.live.values()) <= MAX_STORE_BYTES
        assert peak - baseline <= MAX_STORE_BYTES + MEMORY_ALLOWANCE, (baseline, peak)
