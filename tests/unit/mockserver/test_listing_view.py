"""A listing view (mockserver.state.records.ListingView) keeps a listing's records joined in blocks: what
orjson writes from its fragments is, byte for byte, the listing of its records one by one, after any
sequence of appends and removals, and a write rejoins only the block it touched."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from image_api_contracts import auth_headers
from mockserver.state.records import Encoded, ListingView


class _SmallBlocks(ListingView):
    BLOCK = 3  # blocks fill, empty and thin out within a few dozen steps


def _encoded(key: int) -> Encoded:
    return Encoded("token", orjson.dumps({"id": key, "name": "x" * (key % 7)}))


_STEPS = st.lists(st.tuples(st.booleans(), st.integers(0, 40)), max_size=120)


@settings(max_examples=200, deadline=None)
@given(steps=_STEPS, block_class=st.sampled_from([_SmallBlocks, ListingView]))
def test_the_joined_blocks_are_written_as_the_records_one_by_one(steps, block_class):
    view = block_class((key, _encoded(key)) for key in range(5))
    expected = {key: _encoded(key).json for key in range(5)}
    for number, (add, key) in enumerate(steps):
        if add:
            view.append(key, _encoded(key))
            expected.pop(key, None)
            expected[key] = _encoded(key).json
        else:
            view.discard(key)
            expected.pop(key, None)
        if number % 4 == 0:  # listings between some writes: joined blocks must follow later writes
            fragments = view.fragments()
            assert orjson.dumps(fragments) == b"[" + b",".join(expected.values()) + b"]"
    fragments = view.fragments()
    assert orjson.dumps({"data": fragments}) == b'{"data":[' + b",".join(expected.values()) + b"]}"
    assert len(view) == len(expected) and view.keys() == list(expected)
    assert all(key in view for key in expected) and -1 not in view
    # never an empty block (two commas side by side), and thinned blocks regrouped by a listing
    assert all(len(block.parts) > 0 for block in view._blocks)
    assert len(view._blocks) <= 2 * (len(view) // view.BLOCK) + 2


def test_a_write_rejoins_only_the_block_it_touched():
    view = ListingView((key, _encoded(key)) for key in range(200))  # blocks of 64, 64, 64 and 8
    first = view.fragments()
    assert len(first) == 4
    again = view.fragments()
    assert all(a is b for a, b in zip(first, again, strict=True))  # joined once, reused
    view.append(200, _encoded(200))
    after_append = view.fragments()
    assert [a is b for a, b in zip(first, after_append, strict=True)] == [True, True, True, False]
    view.discard(70)  # in the second block
    after_discard = view.fragments()
    assert [a is b for a, b in zip(after_append, after_discard, strict=True)] == [True, False, True, True]


def test_blocks_thinned_by_removals_are_regrouped_by_the_next_listing():
    view = ListingView((key, _encoded(key)) for key in range(640))  # ten full blocks
    kept = list(range(0, 640, 64))
    for key in range(640):
        if key not in kept:
            view.discard(key)
    assert len(view._blocks) == 10  # one record in each: a listing would hand orjson ten fragments
    fragments = view.fragments()
    assert len(fragments) == 1 and len(view._blocks) == 1
    assert orjson.dumps(fragments) == b"[" + b",".join(_encoded(key).json for key in kept) + b"]"
    view.append(640, _encoded(640))  # the regrouped block goes on filling
    assert view.keys() == [*kept, 640] and len(view.fragments()) == 1


def test_get_all_images_lists_every_image_in_order_across_blocks_deletes_and_origins(make_client):
    """Enough images for several blocks, removals from the middle of them, a failed delete undone, and
    a second origin whose mediaLinks differ: every listing is the records in upload order."""
    client = make_client("image-upload", allow_hosts=("testserver", "mock.example"))
    client.app.ctx.replies = None  # every listing below runs its handler
    auth = auth_headers("image-upload")
    other = {**auth, "Host": "mock.example:9000"}

    def upload(i):
        files = {"file": (f"{i}.txt", f"bytes {i}".encode(), "text/plain")}
        return client.post("/UploadImage", files=files, headers=auth).json()["data"]["fileName"]

    def listed(headers):
        reply = client.get("/GetAllImages", headers=headers)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["message"] == f"Found {len(body['data'])} image(s)"
        return body["data"]

    names = [upload(i) for i in range(150)]
    assert [record["fileName"] for record in listed(auth)] == names
    assert [record["fileName"] for record in listed(other)] == names
    for name in names[10:80:3] + names[140:]:  # thin the first blocks, empty the last one
        assert client.delete("/DeleteImage", params={"FileName": name}, headers=auth).status_code == 200
        names.remove(name)
    names += [upload(i) for i in range(150, 170)]
    for headers, host in ((auth, "http://testserver/"), (other, "http://mock.example:9000/")):
        records = listed(headers)
        assert [record["fileName"] for record in records] == names
        assert all(record["mediaLink"].startswith(host) for record in records)
    for _ in range(40):  # enough removals for the next listing to regroup the thinned blocks
        name = names.pop(len(names) // 2)
        assert client.delete("/DeleteImage", params={"FileName": name}, headers=auth).status_code == 200
    assert [record["fileName"] for record in listed(auth)] == names
    view = client.app.ctx.apis["image-upload"].records.views["http://testserver"]
    assert len(view._blocks) <= 2 * (len(view) // view.BLOCK) + 2
