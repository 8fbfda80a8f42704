"""The tagged-images checks' fixtures: a plain client for signed URLs, the clean-up that deletes what a
check created, and the timeline of records the listing checks read (made once per run: package scope)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
import pytest

from conformance.findings import NotExercised
from conformance.media import photo
from conformance.recording import RecordingClient

from .common import body_of, fetched, is_int, made, parallel, uploaded


@pytest.fixture(scope="package")
def raw():
    """A plain client for absolute URLs (upload_url, url): no base URL, no credential."""
    with httpx.Client(timeout=30) as client:
        yield client


class Cleanup:
    def __init__(self, http):
        self.http, self.images, self.tags = http, [], []

    def run(self) -> None:
        """Records and tags go at once: no delete depends on another."""
        parallel(
            [lambda i=i: self.http.delete(f"/images/{i}") for i in self.images if is_int(i)]
            + [lambda t=t: self.http.delete(f"/tags/{t}") for t in set(self.tags) if is_int(t)]
        )

    def tags_of(self, record: dict) -> None:
        self.tags += [t["id"] for t in record.get("tags", []) if isinstance(t, dict)]


@pytest.fixture
def cleanup(target, tls):
    """Ids appended to .images / .tags are deleted after the check, whatever its outcome (with a client of
    its own: the check's client keeps only the check's exchanges)."""
    with RecordingClient(  # records its deletes: a finding about what it removed says so by its curl
        base_url=target.base_url, headers=target.auth_headers(), timeout=30, verify=tls
    ) as client:
        c = Cleanup(client)
        yield c
        c.run()


# -- a timeline: records created in two different seconds, shared by the listing checks ---------------------
@dataclass
class Timeline:
    home: str  # every record carries this tag; the other tags are home + "-" + a suffix
    home_id: int
    records: dict[int, dict]  # id -> record as GET returned it
    data: dict[int, bytes]  # id -> bytes, for the uploaded ones
    tags_shared: str | None = None  # why records naming one tag got different ids (TIM-08), if they did

    def tag(self, suffix: str) -> str:
        return f"{self.home}-{suffix}"

    def ids(self, keep=lambda r: True) -> set[int]:
        return {i for i, r in self.records.items() if keep(r)}

    @property
    def stamps(self) -> list[int]:
        return sorted({r["created_timestamp"] for r in self.records.values()})

    def needs_shared_tags(self) -> None:
        """Searching and browsing by tag rest on TIM-08: records naming one tag share it."""
        if self.tags_shared is not None:
            raise NotExercised("TIM-08", self.tags_shared)


@pytest.fixture(scope="package")
def timeline(target):
    """A: created, B: uploaded; a second later C: uploaded, D: created. Deleted at the end of the module."""
    with RecordingClient(base_url=target.base_url, headers=target.auth_headers(), timeout=30) as client:
        home = target.unique("tl")
        data: dict[int, bytes] = {}
        ids: list[int] = []
        try:
            plan = [
                ("A", None, ["Red"]),
                ("B", photo(1, "PNG"), ["red", "Blue"]),
                ("C", photo(2, "GIF"), ["Sky"]),
                ("D", None, ["RED", "blue-sky"]),
            ]
            for letter, image, suffixes in plan:
                if letter == "C":
                    time.sleep(1.05)  # the server's clock moves on by at least one second after B's answer
                tags = [home, *(f"{home}-{s}" for s in suffixes)]
                name = f"{home}-{letter}.png"
                if image is None:
                    image_id = made(client, name, tags)["id"]
                else:
                    image_id = uploaded(client, image, name, tags)["id"]
                    data[image_id] = image
                ids.append(image_id)
            records = dict(zip(ids, parallel([lambda i=i: fetched(client, i) for i in ids]), strict=True))
            homes = {t["id"] for r in records.values() for t in r["tags"] if t["name"] == home}
            shared = None
            if len(homes) != 1:
                shared = f"{len(ids)} records naming the tag {home!r} carry it as the tags {sorted(homes)}"
            yield Timeline(home, min(homes, default=0), records, data, shared)
        finally:
            tag_ids = set()
            for r in parallel([lambda i=i: client.get(f"/images/{i}") for i in ids]):
                if r.status_code == 200 and isinstance(body_of(r), dict):  # cleanup only: whatever its shape
                    tag_ids |= {t.get("id") for t in r.json().get("tags", []) if isinstance(t, dict)}
            parallel(
                [lambda i=i: client.delete(f"/images/{i}") for i in ids]
                + [lambda t=t: client.delete(f"/tags/{t}") for t in tag_ids]
            )
