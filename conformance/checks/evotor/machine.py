"""evotor state machine (EVT-02..09): Hypothesis uploads, lists, reads and deletes in random orders
across products and stores, and compares every answer with a model of what the server must hold."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from conformance.checks.kit import concurrently
from conformance.findings import judged

from .common import (
    BAD_FILES,
    SIDE,
    body_of,
    fresh_product,
    ids_of,
    images_path,
    is_4xx,
    listed,
    other_store,
    photo_png,
    upload,
    without_url,
)

pytestmark = pytest.mark.api("evotor")


class EvotorMachine(RuleBasedStateMachine):
    """Three slots (two products of one store, and the first product's id under a second store) and a
    model of each slot's image: upload to an empty slot -> 2xx, to a full one -> 4xx with the first
    unchanged, bad files -> 4xx and nothing stored, delete -> 204 and gone. After every step each slot
    lists exactly its own image, and the slot the step touched is checked in detail (get, and a get of
    its image under another slot). Each message names the one rule its break belongs to."""

    def __init__(self, target, http, made):
        super().__init__()
        self.target, self.http, self.made = target, http, made
        first, second = fresh_product(), fresh_product()
        self.slots = [(target.store_id, first), (target.store_id, second), (other_store(), first)]
        self.model: dict[tuple[str, str], tuple[dict, bytes] | None] = dict.fromkeys(self.slots)
        self.deleted: set[str] = set()
        self.touched: int | None = None
        self.just_deleted: tuple[tuple[str, str], str] | None = None  # (slot, id): the invariant gets it
        self.steps = 0

    def full(self) -> list[int]:
        return [i for i, slot in enumerate(self.slots) if self.model[slot] is not None]

    def owner(self, image_id) -> tuple[str, str] | None:
        return next((s for s, held in self.model.items() if held and held[0]["id"] == image_id), None)

    @rule(slot=st.integers(0, 2), color=st.tuples(*[st.integers(0, 255)] * 3))
    def upload(self, slot, color):
        self.touched = slot
        store, product = self.slots[slot]
        data = photo_png(int.from_bytes(bytes(color), "big"))  # realistic, distinct per colour
        r = judged(upload(self.http, store, product, data))
        self.made.note(r, store, product)
        if self.model[(store, product)] is None:
            body = body_of(r)
            assert r.is_success and isinstance(body, dict) and body.get("id"), (
                f"upload of a valid {SIDE}x{SIDE} PNG to an empty product: expected 200 with the image "
                f"(EVT-02), got {r.status_code}: {r.text[:200]}"
            )
            self.model[(store, product)] = (body, data)
        else:
            first = self.model[(store, product)][0]["id"]
            assert is_4xx(r), (
                f"second upload to a product holding {first}: expected 4xx (EVT-04), got {r.status_code}"
            )

    @rule(slot=st.integers(0, 2), kind=st.sampled_from(sorted(BAD_FILES)))
    def upload_bad_file(self, slot, kind):
        self.touched = slot
        store, product = self.slots[slot]
        r = judged(upload(self.http, store, product, BAD_FILES[kind]()))
        self.made.note(r, store, product)
        assert is_4xx(r), f"upload of a {kind}: expected 4xx (EVT-03), got {r.status_code}: {r.text[:200]}"

    @precondition(lambda self: self.full())
    @rule(data=st.data())
    def delete(self, data):
        self.touched = data.draw(st.sampled_from(self.full()), label="slot")
        slot = self.slots[self.touched]
        image = self.model[slot][0]
        r = judged(self.http.delete(images_path(*slot, image["id"])))
        assert r.status_code == 204, f"delete {image['id']}: expected 204 (EVT-07), got {r.status_code}"
        assert r.content == b"", f"delete answered 204 with a body (EVT-07): {r.content[:100]!r}"
        self.made.gone(image["id"])
        self.deleted.add(image["id"])
        self.model[slot] = None
        self.just_deleted = (slot, image["id"])  # its get goes out with the invariant's round trip

    @precondition(lambda self: self.full())
    @rule(data=st.data(), other=st.integers(1, 2))
    def delete_under_another_scope(self, data, other):
        self.touched = data.draw(st.sampled_from(self.full()), label="slot")
        image = self.model[self.slots[self.touched]][0]
        wrong = self.slots[(self.touched + other) % 3]
        r = judged(self.http.delete(images_path(*wrong, image["id"])))
        assert is_4xx(r), (
            f"delete of {image['id']} (of {self.slots[self.touched]}) under {wrong}: expected 4xx (EVT-08), "
            f"got {r.status_code}"
        )

    @invariant()
    def every_slot_shows_exactly_its_image(self):
        """One round trip: the three lists and the touched slot's gets (after a delete, the get of the
        deleted image) go out together."""
        self.steps += 1
        held = self.model[self.slots[self.touched]] if self.touched is not None else None
        probes = [lambda slot=slot: listed(self.http, *slot) for slot in self.slots]
        deleted, self.just_deleted = self.just_deleted, None
        if deleted is not None:
            probes.append(lambda: self.http.get(images_path(*deleted[0], deleted[1])))
        if held is not None:
            slot, image = self.slots[self.touched], held[0]
            wrong = self.slots[(self.touched + 1 + self.steps % 2) % 3]
            probes.append(lambda: self.http.get(images_path(*slot, image["id"])))
            probes.append(lambda: self.http.get(images_path(*wrong, image["id"])))
            if self.steps % 4 == 1:
                probes.append(lambda: self.http.get(images_path(*slot, str(uuid.uuid4()))))
        answers = concurrently(lambda probe: probe(), probes)
        if deleted is not None:
            r = judged(answers.pop(3))
            assert is_4xx(r), f"get of the deleted {deleted[1]}: expected 4xx (EVT-07), got {r.status_code}"
        for slot, (r, items) in zip(self.slots, answers, strict=False):
            judged(r)
            assert items is not None, (
                f"list of {slot}: expected 200 with {{'items': [...]}} (EVT-05), got {r.status_code}"
            )
            got = ids_of(items)
            foreign = [i for i in got if self.owner(i) not in (None, slot)]
            assert not foreign, f"list of {slot} shows {foreign}, images of another slot (EVT-08)"
            stale = [i for i in got if i in self.deleted]
            assert not stale, f"list of {slot} still shows the deleted {stale} (EVT-07)"
            own = self.model[slot]
            want = [own[0]["id"]] if own else []
            assert got == want, f"list of {slot}: expected the ids {want} (EVT-05), got {got}"
        if held is None:
            return
        r = judged(answers[3])
        assert r.status_code == 200, f"get {image['id']}: expected 200 (EVT-06), got {r.status_code}"
        assert without_url(body_of(r)) == without_url(image), (
            f"get {image['id']} (the image must stay as uploaded, EVT-06): expected {without_url(image)}, "
            f"got {r.text[:400]}"
        )
        r = judged(answers[4])
        shown = body_of(r) if r.is_success else None
        assert not (isinstance(shown, dict) and shown.get("id") == image["id"]), (
            f"get {image['id']} (of {slot}) under {wrong} shows it (EVT-08): {r.status_code}"
        )
        assert is_4xx(r), (
            f"get of {wrong}'s unknown id {image['id']}: expected 4xx (EVT-06), got {r.status_code}"
        )
        if len(answers) > 5:
            r = judged(answers[5])
            assert is_4xx(r), f"get of an unknown id: expected 4xx (EVT-06), got {r.status_code}"


@pytest.mark.writes
@pytest.mark.rule("EVT-03", "EVT-02", "EVT-04", "EVT-05", "EVT-06", "EVT-07", "EVT-08")
def check_evt_state_machine(target, http, made, hypothesis_settings):
    run_state_machine_as_test(lambda: EvotorMachine(target, http, made), settings=hypothesis_settings)
