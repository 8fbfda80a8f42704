"""tagged-images: image records with tags, presigned upload/download URLs, paged listings and search
(TIM-01..13). No authentication; every error is ``{"code": <status>, "message": ...}``.

Records are ordered newest created first by ``(created_timestamp, id)`` descending, so records created
in the same second keep a stable order. Each ordering is kept as a sorted list of those keys: a page of
the unfiltered listing, or of a date range, costs a bisection plus the page, whatever the store's size.

Decisions where the spec is silent (it binds everything else):
- the file PUT to ``upload_url`` must be a decodable image (Pillow), else 400 with nothing changed, as
  ``image_data`` of ``POST /upload`` must be: the API is an image manager; the PUT body is capped at
  ``--max-body-bytes`` (413);
- a PUT with a missing, forged or expired signature gets 403, a valid one for a deleted record 404;
  ``url`` is a GET URL signed the same way, fresh at each read (403 when forged or expired);
- tags are listed by name in code-point order (then id); a record shows its tags in the order first
  given at creation (duplicates in the request are attached once);
- nothing the seed allows is refused: every body field is optional (an absent filename is
  the empty string, an absent tag name "tag-<id>", an absent ``image_data`` a record still to be PUT),
  strings have no length limit, a negative page or a limit below 1 gives an empty page;
- a search given both ``exact_tags`` and ``match_tags`` (the seed requires both) applies both (AND);
  either alone is accepted too, neither gets 400.
"""

from __future__ import annotations

import base64
import binascii
import time
from bisect import insort
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from starlette.responses import Response

from mockserver.apis.base import BaseApi, StoredRecords, json_reply, record_fields, request_origin
from mockserver.apis.newest_first import Key, NewestFirst
from mockserver.apis.wildcard import (
    like_pattern,  # linear time: no pattern can stall the server
)
from mockserver.errors import ApiError
from mockserver.images import decode_off_loop
from mockserver.state.fixtures import seed_image
from mockserver.state.records import EncodedList


def now() -> int:
    """Seconds since the Epoch (tests patch this to give records known creation times)."""
    return int(time.time())


@dataclass
class Tag:
    id: int
    name: str

    def public(self) -> dict:
        return {"id": self.id, "name": self.name}


@dataclass
class Image:
    """Replaced (``dataclasses.replace``) when it changes, never changed in place: a write's undo log
    (``BaseApi.snapshot``) then keeps the old object, and its encoded form is known by its identity."""

    id: int
    filename: str
    size: int
    created_timestamp: int
    created_by: str = "anonymous"
    uploaded_timestamp: int | None = None
    tag_ids: list[int] = field(default_factory=list)

    @property
    def key(self) -> Key:
        return (self.created_timestamp, self.id)

    @property
    def blob(self) -> str:
        return str(self.id)


def browse_page(results: list[dict], total: int, page: int, limit: int):
    """TIM-04: ``has_more_pages`` is true exactly when a later page holds records."""
    more = limit > 0 and max(0, (page + 1) * limit) < total  # a limit below 1: no page holds anything
    meta = {"current_page": page, "total_results": total, "has_more_pages": more}
    return json_reply({"results": results, "meta": meta})


class TaggedImagesApi(BaseApi):
    name = "tagged-images"
    stored_records = StoredRecords("id", "id", container="images")
    record_schema = "ImageRecord"

    def reset(self) -> None:
        self.images: dict[int, Image] = self.undo.journaled_dict(ordered=True)
        self.tags: dict[int, Tag] = self.undo.journaled_dict(ordered=True)
        self.tag_by_name: dict[str, Tag] = self.undo.journaled_dict()
        self.tag_order: list[tuple[str, int]] = []  # (name, id), sorted: the tag listing
        self.tag_images: dict[int, NewestFirst] = self.undo.journaled_dict()  # tag id -> its images
        self.all_images = NewestFirst(self.undo)
        self.uploaded_images = NewestFirst(self.undo)
        self.next_image_id = 1
        self.next_tag_id = 1

    def dump(self) -> dict:
        return {
            "images": [record_fields(r) for r in self.images.values()],
            "tags": [t.public() for t in self.tags.values()],
            "next_image_id": self.next_image_id,
            "next_tag_id": self.next_tag_id,
        }

    def restore(self, state: dict) -> None:
        self.reset()
        for raw in state.get("tags", []):
            self._add_tag(Tag(raw["id"], raw["name"]))
        for raw in state.get("images", []):
            image = Image(**raw)
            image.tag_ids = [t for t in image.tag_ids if t in self.tags]
            self._index_image(image)
        self.next_image_id = max([state.get("next_image_id", 1), *(i + 1 for i in self.images)])
        self.next_tag_id = max([state.get("next_tag_id", 1), *(t + 1 for t in self.tags)])

    def stored_rows(self) -> dict:
        return {"tags": self.tags, "images": self.images}  # tags first: the images name them

    def row_json(self, container: str, value):
        return value.public() if container == "tags" else record_fields(value)

    def row_scalars(self) -> dict:
        return {"next_image_id": self.next_image_id, "next_tag_id": self.next_tag_id}

    def apply_rows(self, scalars, changes) -> None:
        for container, key, raw in changes:
            if container == "tags":
                old_tag = self.tags.get(key)
                if old_tag is not None and (raw is None or raw["name"] != old_tag.name):
                    self._drop_tag(old_tag)
                if raw is not None and key not in self.tags:
                    self._add_tag(Tag(raw["id"], raw["name"]))
                continue
            old = self.images.pop(key, None)
            if old is not None:
                self._unindex_image(old)
            if raw is not None:
                image = Image(**raw)
                image.tag_ids = [t for t in image.tag_ids if t in self.tags]
                self._index_image(image)
        self.next_image_id = max(self.next_image_id, scalars.get("next_image_id", 1))
        self.next_tag_id = max(self.next_tag_id, scalars.get("next_tag_id", 1))

    def _unindex_image(self, image: Image) -> None:
        self.all_images.remove(image.key)
        self.uploaded_images.remove(image.key)
        for tag_id in image.tag_ids:
            if tag_id in self.tag_images:
                self.tag_images[tag_id].remove(image.key)

    def _drop_tag(self, tag: Tag) -> None:
        del self.tags[tag.id], self.tag_by_name[tag.name], self.tag_images[tag.id]
        self.tag_order.remove((tag.name, tag.id))
        self.undo.note(insort, self.tag_order, (tag.name, tag.id))

    def seed(self, entries, images_dir) -> int:
        for entry in entries:
            tags = entry.get("tags", [])
            if entry.get("image"):
                data = seed_image(images_dir, entry["image"])
                self._create_uploaded(entry["filename"], data, tags)
            else:
                self.create_record(entry["filename"], entry.get("size") or 0, tags)
        return len(entries)

    # -- state changes (synchronous: no await between a check and its mutation, ALL-04) ---------------
    def _add_tag(self, tag: Tag) -> Tag:
        self.tags[tag.id] = tag
        self.tag_by_name[tag.name] = tag
        insort(self.tag_order, (tag.name, tag.id))
        self.undo.note(self.tag_order.remove, (tag.name, tag.id))
        self.tag_images[tag.id] = NewestFirst(self.undo)
        return tag

    def new_tag(self, name: str | None) -> Tag:
        if name is None:  # POST /tags {}: the seed makes `name` optional; a free name keeps names unique
            name = base = f"tag-{self.next_tag_id}"
            n = 1
            while name in self.tag_by_name:
                n += 1
                name = f"{base}-{n}"
        tag = self._add_tag(Tag(self.next_tag_id, name))
        self.next_tag_id += 1
        return tag

    def tag_ids_for(self, names) -> list[int]:
        """TIM-08: tags are reused by (case-sensitive) name, created on first use."""
        ids: list[int] = []
        for name in names or []:
            tag = self.tag_by_name.get(name) or self.new_tag(name)
            if tag.id not in ids:
                ids.append(tag.id)
        return ids

    def _index_image(self, image: Image) -> None:
        self.images[image.id] = image
        self.all_images.add(image.key)
        if image.uploaded_timestamp is not None:
            self.uploaded_images.add(image.key)
        for tag_id in image.tag_ids:
            self.tag_images[tag_id].add(image.key)

    def create_record(
        self, filename: str, size: int, tag_names, blob: tuple[bytes, str] | None = None
    ) -> Image:
        image_id = self.next_image_id
        stamp = now()
        if blob is not None:
            self.store_bytes(str(image_id), *blob)  # 507 before anything else changes
        self.next_image_id += 1
        image = Image(image_id, filename, size, stamp, tag_ids=self.tag_ids_for(tag_names))
        if blob is not None:
            image.uploaded_timestamp = stamp
        self._index_image(image)
        return image

    def _create_uploaded(self, filename: str, data: bytes, tag_names) -> Image:
        facts = self.image_facts(data)  # 400 on non-images, nothing stored
        return self.create_record(filename, len(data), tag_names, (data, facts.mime))

    def find_image(self, image_id: int) -> Image:
        image = self.images.get(image_id)
        if image is None:
            raise ApiError(404, f"Image {image_id} not found")
        return image

    def remove_record(self, record_id: str) -> bool:
        image = self.images.get(int(record_id)) if record_id.isdecimal() else None
        if image is None:
            return False
        self._remove_image(image)
        return True

    def _remove_image(self, image: Image) -> None:
        """The record, its places in the listings' indexes, its encoded forms and its file go; its tags
        stay (TIM-07)."""
        del self.images[image.id]
        self._unindex_image(image)
        self.records.forget(image.id)
        self.drop_bytes(image.blob)

    def find_tag(self, tag_id: int) -> Tag:
        tag = self.tags.get(tag_id)
        if tag is None:
            raise ApiError(404, f"Tag {tag_id} not found")
        return tag

    # -- URLs --------------------------------------------------------------------------------------------
    def signed_url(self, method: str, image: Image) -> str:
        return f"{self.file_url(image.blob)}?{self.ctx.signer.query(method, self.file_path(image.blob))}"

    def created_reply(self, image: Image):
        self.encoded_record(image)  # the record's shape is checked as it is written (a 500 undoes the write)
        return json_reply({"id": image.id, "upload_url": self.signed_url("PUT", image)}, 201)

    def encoded_record(self, image: Image, origin: str | None = None, second: int | None = None):
        """The record's ``ImageRecord``, validated and encoded once per version of the record (records
        are replaced when they change: the object is its version) and, once uploaded, per origin and
        second (its ``url`` is signed with an expiry counted from now)."""
        if image.uploaded_timestamp is None:
            fingerprint = image  # no URL: nothing of the request goes in
        else:
            fingerprint = (image, origin or request_origin(), second or int(time.time()))
        return self.records.encoded(image.id, fingerprint, lambda: self.public_record(image))

    def public_record(self, image: Image) -> dict:
        uploaded = image.uploaded_timestamp is not None
        return {
            "id": image.id,
            "created_by": image.created_by,
            "created_timestamp": image.created_timestamp,
            "filename": image.filename,
            "size": image.size,
            "tags": [self.tags[t].public() for t in image.tag_ids],
            "uploaded_timestamp": image.uploaded_timestamp,
            "url": self.signed_url("GET", image) if uploaded else None,
        }

    def served_record(self, record_id) -> dict | None:
        image = self.images.get(int(record_id))
        return self.public_record(image) if image is not None else None  # the body of GET /v1/images/{id}

    def check_signature(self, method: str, request) -> None:
        expires, signature = request.query_params.get("expires"), request.query_params.get("signature")
        problem = self.ctx.signer.check(method, request.url.path, expires, signature)
        if problem is not None:
            raise ApiError(403, problem)

    def _image_for_key(self, key: str) -> Image:
        image = self.images.get(int(key)) if key.isdigit() else None
        if image is None:
            raise ApiError(404, "no such image")
        return image

    async def serve_file(self, key: str, request) -> Response:
        """TIM-02: ``url`` is a GET URL signed for this path, expiring; it returns exactly the bytes."""
        self.check_signature("GET", request)
        self._image_for_key(key)
        return await super().serve_file(key, request)

    async def receive_file(self, key: str, request) -> Response:
        """TIM-02: a PUT of the raw bytes to ``upload_url`` uploads (or replaces) the record's file."""
        self.check_signature("PUT", request)
        data = await self._read_body(request)
        await decode_off_loop(data)
        facts = self.image_facts(data)
        image = self._image_for_key(key)  # looked up after the await: it may have been deleted meanwhile
        self.store_bytes(image.blob, data, facts.mime)
        if image.uploaded_timestamp is None:
            self.uploaded_images.add(image.key)
        image = self.images[image.id] = replace(image, uploaded_timestamp=now(), size=len(data))
        self.encoded_record(image)  # checked as written: a 500 undoes the PUT
        return Response(status_code=200)

    async def _read_body(self, request) -> bytes:
        limit = self.ctx.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"the request body is {declared} bytes; the limit is {limit} bytes")
        chunks, seen = [], 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit:
                raise ApiError(413, f"the request body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    # -- paging ------------------------------------------------------------------------------------------
    def page_of_images(self, ids: list[int], total: int, page: int, limit: int):
        if not ids:
            return browse_page([], total, page, limit)
        origin, second, images, encoded = request_origin(), int(time.time()), self.images, self.encoded_record
        kept = self.records.kept
        fragments = [  # a record kept under its own object (no URL to sign) is taken as it is
            hit[1].fragment
            if (hit := kept.get(i)) is not None and hit[0] is images[i]
            else encoded(images[i], origin, second).fragment
            for i in ids
        ]
        return browse_page(EncodedList.of_fragments(self.records, fragments), total, page, limit)

    def filtered_page(self, index: NewestFirst, start, end, keep, page: int, limit: int):
        """Pages of the ids in ``index`` (created in [start, end]) for which ``keep(image)`` holds."""
        first, stop = page * limit, (page + 1) * limit
        ids, total = [], 0
        for image_id in index.newest_first(start, end):
            if keep(self.images[image_id]):
                if first <= total < stop:
                    ids.append(image_id)
                total += 1
        return self.page_of_images(ids, total, page, limit)

    # -- operations: images --------------------------------------------------------------------------------
    async def create_image(self, body=None, **_):
        """TIM-01/08: a record without its file; the file arrives by a PUT to ``upload_url``."""
        image = self.create_record(body.get("filename", ""), body.get("size") or 0, body.get("tags"))
        return self.created_reply(image)

    async def upload_image(self, body=None, **_):
        """TIM-03: base64 image in JSON; the record is uploaded at once, size = decoded length. Without
        ``image_data`` (the seed makes it optional) the record waits for a PUT to its ``upload_url``."""
        filename = body.get("filename", "")
        if "image_data" not in body:
            return self.created_reply(self.create_record(filename, 0, body.get("tags")))
        try:
            data = base64.b64decode(body["image_data"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ApiError(400, f"'image_data' is not valid base64: {exc}") from exc
        await decode_off_loop(data)  # off the event loop, stalling no one; the check below reuses the verdict
        image = self._create_uploaded(filename, data, body.get("tags"))
        return self.created_reply(image)

    async def list_images(
        self, page=0, limit=20, start_timestamp=None, end_timestamp=None, uploaded_only=False, **_
    ):
        """TIM-04/05: newest first, paged; inclusive date range on created_timestamp; uploaded_only."""
        index = self.uploaded_images if uploaded_only else self.all_images
        ids, total = index.page(start_timestamp, end_timestamp, page, limit)
        return self.page_of_images(ids, total, page, limit)

    async def get_image(self, image_id, **_):
        """TIM-06: the record with its tags as {id, name}; ``url`` freshly signed."""
        return json_reply(self.encoded_record(self.find_image(image_id)))

    async def delete_image(self, image_id, **_):
        """TIM-07: the record and its file go; its tags stay."""
        self._remove_image(self.find_image(image_id))
        return Response(status_code=204)

    # -- operations: tags ------------------------------------------------------------------------------------
    async def list_tags(self, page=0, limit=20, **_):
        """TIM-08: alphabetical (code-point order of the name), paged like images."""
        chunk = self.tag_order[page * limit : (page + 1) * limit] if page >= 0 and limit > 0 else []
        results = [self.tags[tag_id].public() for _, tag_id in chunk]
        return browse_page(results, len(self.tag_order), page, limit)

    async def create_tag(self, body=None, **_):
        """TIM-09: 201 {id, name}; an existing name (case-sensitive) gets 409."""
        name = body.get("name")
        if name in self.tag_by_name:
            raise ApiError(409, f"Tag '{name}' already exists")
        return json_reply(self.new_tag(name).public(), 201)

    async def delete_tag(self, tag_id, **_):
        """TIM-11: the tag goes; its images stay and no longer carry it."""
        tag = self.find_tag(tag_id)
        for image_id in list(self.tag_images[tag.id].newest_first(None, None)):
            image = self.images[image_id]
            self.images[image_id] = replace(image, tag_ids=[t for t in image.tag_ids if t != tag.id])
        self._drop_tag(tag)
        return Response(status_code=204)

    async def list_tag_images(
        self, tag_id, page=0, limit=20, start_timestamp=None, end_timestamp=None, uploaded_only=False, **_
    ):
        """TIM-10: the tag's images, newest first, paged and filtered like the listing."""
        index = self.tag_images[self.find_tag(tag_id).id]
        if not uploaded_only:
            ids, total = index.page(start_timestamp, end_timestamp, page, limit)
            return self.page_of_images(ids, total, page, limit)
        return self.filtered_page(
            index,
            start_timestamp,
            end_timestamp,
            lambda image: image.uploaded_timestamp is not None,
            page,
            limit,
        )

    # -- operations: search ---------------------------------------------------------------------------------
    async def search_images(
        self,
        exact_tags=None,
        match_tags=None,
        page=0,
        limit=20,
        start_timestamp=None,
        end_timestamp=None,
        uploaded_only=False,
        **_,
    ):
        """TIM-12: exact_tags (case-sensitive, all present) and match_tags (``%`` wildcard, case-insensitive,
        each pattern matching some tag); given both (as the seed requires), an image must meet both."""
        if exact_tags is None and match_tags is None:
            raise ApiError(400, "give 'exact_tags', 'match_tags' or both")
        index = self.uploaded_images if uploaded_only else self.all_images
        groups: list[Group] = []  # each group a union of id sets; the result is their intersection
        if exact_tags is not None:
            wanted = [self.tag_by_name.get(name) for name in exact_tags]
            if None in wanted:  # a tag nobody carries: nothing matches
                return self.page_of_images([], 0, page, limit)
            carriers = [self.tag_images[tag.id] for tag in wanted]
            index = min(carriers, key=len)  # walk the rarest tag's images
            groups += [Group([c.ids]) for c in carriers]  # every tag present
        if match_tags is not None:
            # every pattern matching some tag: the union of the matching tags' images
            for pattern in map(like_pattern, match_tags):
                tags = [t for t in self.tags.values() if pattern.fullmatch(t.name)]
                groups.append(Group([self.tag_images[t.id].ids for t in tags], {t.id for t in tags}))
        if uploaded_only:
            groups.append(Group([self.uploaded_images.ids]))
        members = _intersection_of_unions(groups, self.images)
        ids, total = index.page_of(members, start_timestamp, end_timestamp, page, limit)
        return self.page_of_images(ids, total, page, limit)


class Group(NamedTuple):
    """Images carrying any of some tags: their id sets, and (for a pattern) the tags' ids."""

    sets: list[set[int]]
    tag_ids: set[int] | None = None

    @property
    def size(self) -> int:
        return sum(map(len, self.sets))


def _intersection_of_unions(groups: list[Group], images: dict[int, Image]) -> set[int]:
    """Set algebra in C instead of a Python test per image, starting from the rarest group: the search
    cost follows the matches. A pattern's group whose union would be larger than the candidates found so
    far (a pattern matching every tag) is not built: each candidate's own tags are checked instead, so the
    cost follows the rarest group."""
    if not groups:
        return set()
    ordered = sorted(groups, key=lambda group: group.size)
    first = ordered[0].sets
    members = first[0] if len(first) == 1 else set().union(*first)
    for group in ordered[1:]:
        if not members:
            return set()
        if len(group.sets) == 1:
            members = members & group.sets[0]
        elif group.tag_ids is not None and len(members) * 4 < group.size:
            tag_ids = group.tag_ids
            members = {i for i in members if not tag_ids.isdisjoint(images[i].tag_ids)}
        else:
            members = members.intersection(set().union(*group.sets))
    return members
